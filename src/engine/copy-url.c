/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy-url.c - ADD's http(s) sources: downloaded once per build into its
 * scratch directory, verified against --checksum (docs/internals/copy.md).
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

#include "base/banned.h"

/* A download larger than this is refused. */
#define URL_BODY_MAX (8ull * 1024 * 1024 * 1024)

bool kiln_copy_is_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* The file name ADD gives a URL: the last path element, or __unnamed__. */
static char *url_name(const char *url)
{
    const char *p = strstr(url, "://") + 3;
    p = strchr(p, '/');
    if (!p)
        return kiln_xstrdup("__unnamed__");
    size_t end = strcspn(p, "?#");
    const char *last = p;
    for (size_t i = 0; i < end; i++)
        if (p[i] == '/')
            last = p + i + 1;
    size_t n = (size_t)(p + end - last);
    return n ? kiln_xstrndup(last, n) : kiln_xstrdup("__unnamed__");
}

struct sink {
    int fd;
    uint64_t n;
    struct kiln_oci_digester d;
};

static size_t sink_write(char *data, size_t size, size_t n, void *userdata)
{
    struct sink *s = userdata;
    size_t len = size * n;
    s->n += len;
    if (s->n > URL_BODY_MAX || write(s->fd, data, len) != (ssize_t)len)
        return 0;
    kiln_oci_digester_update(&s->d, data, len, NULL);
    return len;
}

static int download(const char *url, const char *path, char digest[KILN_OCI_DIGEST_MAX],
                    struct kiln_error **err)
{
    struct sink s = {.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
    if (s.fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", path);
    kiln_oci_digester_init(&s.d, KILN_OCI_SHA256, NULL);
    CURL *c = curl_easy_init();
    char msg[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, msg);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    CURLcode rc = curl_easy_perform(c);
    long filetime = -1;
    curl_easy_getinfo(c, CURLINFO_FILETIME, &filetime);
    curl_easy_cleanup(c);
    int r = 0;
    if (rc != CURLE_OK)
        r = kiln_error_set(err, KILN_E_UPSTREAM, "ADD %s: %s", url,
                           s.n > URL_BODY_MAX ? "larger than 8 GiB"
                           : *msg             ? msg
                                              : curl_easy_strerror(rc));
    if (r >= 0 && filetime >= 0) {
        struct timespec ts[2] = {{.tv_sec = filetime}, {.tv_sec = filetime}};
        futimens(s.fd, ts);
    }
    close(s.fd);
    kiln_oci_digester_final(&s.d, digest, NULL);
    kiln_oci_digester_release(&s.d);
    if (r < 0)
        unlink(path);
    return r;
}

static int file_digest(const char *path, char digest[KILN_OCI_DIGEST_MAX], struct kiln_error **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open '%s'", path);
    struct kiln_oci_digester d;
    kiln_oci_digester_init(&d, KILN_OCI_SHA256, NULL);
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        kiln_oci_digester_update(&d, buf, (size_t)n, NULL);
    close(fd);
    kiln_oci_digester_final(&d, digest, NULL);
    kiln_oci_digester_release(&d);
    return n < 0 ? kiln_error_set_errno(err, -EIO, "cannot read '%s'", path) : 0;
}

int kiln_copy_fetch(const char *url, const char *tmp_dir, const char *checksum, char **ret_rel,
                    char ret_digest[KILN_OCI_DIGEST_MAX], struct kiln_error **err)
{
    char key[KILN_OCI_DIGEST_MAX];
    kiln_oci_digest_bytes(KILN_OCI_SHA256, url, strlen(url), key, NULL);
    _cleanup_free_ char *name = url_name(url);
    _cleanup_free_ char *rel = kiln_xasprintf("url-%.16s/%s", key + 7, name);
    _cleanup_free_ char *dir = kiln_xasprintf("%s/url-%.16s", tmp_dir, key + 7);
    _cleanup_free_ char *path = kiln_xasprintf("%s/%s", tmp_dir, rel);
    int r;
    if (access(path, F_OK) == 0) {
        r = file_digest(path, ret_digest, err);
    } else {
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return kiln_error_set_errno(err, -errno, "cannot create '%s'", dir);
        r = download(url, path, ret_digest, err);
    }
    if (r < 0)
        return r;
    if (checksum && strcmp(checksum, ret_digest) != 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "ADD %s: digest mismatch: --checksum says %s, the download is %s",
                              url, checksum, ret_digest);
    *ret_rel = rel;
    rel = NULL;
    return 0;
}
