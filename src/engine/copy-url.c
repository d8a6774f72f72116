/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy-url.c - ADD <http(s) URL>: the file downloaded once per build into
 * the build's scratch directory, named as BuildKit's HTTP source names it,
 * with the mtime of Last-Modified and the --checksum verified
 * (docs/internals/copy.md).
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "copy-private.h"
#include "oci/digest.h"

#include "base/banned.h"

struct download {
    int fd;
    uint64_t size;
    struct kiln_oci_digester d;
    int error; /* -errno or KILN_E_LIMIT from the write callback */
};

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
    struct download *dl = userdata;
    size_t len = size * n;
    if (dl->size + len > KILN_COPY_URL_MAX) {
        dl->error = KILN_E_LIMIT;
        return 0;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(dl->fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            dl->error = -errno;
            return 0;
        }
        off += (size_t)w;
    }
    dl->size += len;
    kiln_oci_digester_update(&dl->d, p, len, NULL);
    return len;
}

/* BuildKit's name for a download: the last component of the URL's path, or "__unnamed__". */
static char *url_name(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    p += strcspn(p, "/?#");
    size_t end = strcspn(p, "?#");
    while (end && p[end - 1] == '/')
        end--;
    size_t start = end;
    while (start && p[start - 1] != '/')
        start--;
    if (end == start || (end - start == 1 && p[start] == '.') ||
        (end - start == 2 && strncmp(p + start, "..", 2) == 0))
        return kiln_xstrdup("__unnamed__");
    return kiln_xstrndup(p + start, end - start);
}

static int transfer(const char *url, struct download *dl, time_t *ret_mtime,
                    struct kiln_error **err)
{
    CURL *h = curl_easy_init();
    if (!h)
        return kiln_error_set(err, -ENOMEM, "cannot start a download of %s", url);
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, KILN_COPY_URL_TIMEOUT);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, dl);
    CURLcode rc = curl_easy_perform(h);
    curl_off_t mtime = -1;
    curl_easy_getinfo(h, CURLINFO_FILETIME_T, &mtime);
    curl_easy_cleanup(h);
    *ret_mtime = mtime >= 0 ? (time_t)mtime : 0;
    if (dl->error == KILN_E_LIMIT)
        return kiln_error_set(err, KILN_E_LIMIT, "%s is larger than %llu bytes", url,
                              (unsigned long long)KILN_COPY_URL_MAX);
    if (dl->error < 0)
        return kiln_error_set_errno(err, dl->error, "cannot save %s", url);
    if (rc != CURLE_OK)
        return kiln_error_set(err, KILN_E_UPSTREAM, "cannot download %s: %s", url,
                              *curl_err ? curl_err : curl_easy_strerror(rc));
    return 0;
}

/* Downloads url into dir/name (dir exists) and checks the checksum. */
static int download(const char *url, const char *checksum, const char *dir, const char *name,
                    struct kiln_error **err)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open '%s'", dir);
    struct download dl = {.fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
    if (dl.fd < 0) {
        int r = -errno;
        close(dfd);
        return kiln_error_set_errno(err, r, "cannot create a file in '%s'", dir);
    }
    kiln_oci_digester_init(&dl.d, KILN_OCI_SHA256, NULL);
    time_t mtime = 0;
    int r = transfer(url, &dl, &mtime, err);
    char got[KILN_OCI_DIGEST_MAX] = "";
    kiln_oci_digester_final(&dl.d, got, NULL);
    kiln_oci_digester_release(&dl.d);
    if (r >= 0 && checksum && strcmp(checksum, got) != 0)
        r = kiln_error_set(err, KILN_E_INVALID,
                           "ADD %s: digest mismatch: --checksum is %s but the download is %s", url,
                           checksum, got);
    struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
    if (r >= 0 && (fchmod(dl.fd, 0600) < 0 || futimens(dl.fd, ts) < 0))
        r = kiln_error_set_errno(err, -errno, "cannot set the mode of '%s'", name);
    close(dl.fd);
    close(dfd);
    return r;
}

int kiln_copy_url_fetch(const char *url, const char *checksum, const char *tmp_dir, char **ret_dir,
                        char **ret_name, struct kiln_error **err)
{
    if (checksum &&
        (strncmp(checksum, "sha256:", 7) != 0 || kiln_oci_digest_validate(checksum, NULL) != 0))
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid --checksum '%s': give sha256:<64 hex digits>", checksum);
    char key[KILN_OCI_DIGEST_MAX];
    kiln_oci_digest_bytes(KILN_OCI_SHA256, url, strlen(url), key, NULL);
    _cleanup_free_ char *name = url_name(url);
    _cleanup_free_ char *dir = kiln_xasprintf("%s/url-%.32s", tmp_dir, key + 7);
    struct stat st;
    if (stat(dir, &st) < 0) {
        /* downloaded beside, then renamed: a concurrent fetch of the same URL keeps one */
        _cleanup_free_ char *part = kiln_xasprintf("%s/url-part-XXXXXX", tmp_dir);
        if (!mkdtemp(part))
            return kiln_error_set_errno(err, -errno, "cannot create a directory in '%s'", tmp_dir);
        int r = download(url, checksum, part, name, err);
        if (r >= 0 && rename(part, dir) < 0 && errno != ENOTEMPTY && errno != EEXIST)
            r = kiln_error_set_errno(err, -errno, "cannot rename '%s'", part);
        _cleanup_free_ char *file = kiln_xasprintf("%s/%s", part, name);
        unlink(file);
        rmdir(part);
        if (r < 0)
            return r;
    }
    *ret_dir = TAKE_PTR(dir);
    *ret_name = TAKE_PTR(name);
    return 0;
}
