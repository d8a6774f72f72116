/* SPDX-License-Identifier: Apache-2.0 */
/*
 * docker-load.c - --load: the docker tar handed to the local Docker engine
 * (POST /images/load at DOCKER_HOST: its unix socket or tcp address).
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/cleanup.h"
#include "docker-host.h"
#include "export.h"
#include "oci/layer.h"

#include "base/banned.h"

/* The engine's answer kept for its error message. */
#define ANSWER_MAX (64u * 1024)
/* An engine that does not accept the connection by then is not running. */
#define CONNECT_TIMEOUT_S 30L

static int no_engine(const char *host, struct kiln_error **err)
{
    return kiln_error_set(err, KILN_E_NOTFOUND,
                          "--load: no Docker engine runs at '%s'; start one, or write the image "
                          "to a file: -o type=docker,dest=FILE",
                          host);
}

/* A unix socket that is not there needs no connection attempt to say so. */
static bool absent(const char *host)
{
    const char *socket = kiln_docker_host_socket(host);
    struct stat st;
    return socket && (stat(socket, &st) < 0 || !S_ISSOCK(st.st_mode));
}

/* An unnamed file in tmp_dir holding the docker tar; the caller owns *ret_fd. */
static int spool(const char *tmp_dir, struct kiln_store *s, const struct kiln_export_image *img,
                 int *ret_fd, struct kiln_error **err)
{
    _cleanup_close_ int fd = open(tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EOPNOTSUPP) { /* a file system without O_TMPFILE */
        _cleanup_free_ char *path = kiln_xasprintf("%s/load-XXXXXX", tmp_dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            (void)unlink(path);
    }
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "--load: cannot create a file in '%s'", tmp_dir);
    int r = kiln_export_docker_tar(s, img, kiln_oci_fd_write, &fd, err);
    if (r < 0)
        return r;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return kiln_error_set_errno(err, -errno, "--load: cannot read the image tar back");
    *ret_fd = TAKE_FD(fd);
    return 0;
}

static size_t read_cb(char *buf, size_t size, size_t n, void *userdata)
{
    ssize_t got;
    do
        got = read(*(int *)userdata, buf, size * n);
    while (got < 0 && errno == EINTR);
    return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

static size_t answer_cb(char *data, size_t size, size_t n, void *userdata)
{
    struct kiln_buf *b = userdata;
    size_t len = size * n;
    (void)kiln_buf_add(b, data, len < b->max - b->len ? len : b->max - b->len);
    return len;
}

/*
 * The engine answers 200 and streams JSON messages; a failed load is a
 * message with "error" in it. Returns that message, or NULL.
 */
static char *load_error(const struct kiln_buf *answer)
{
    const char *p = answer->buf, *end = answer->buf + answer->len;
    while (p < end) {
        json_error_t je;
        json_t *m = json_loadb(p, (size_t)(end - p), JSON_DISABLE_EOF_CHECK, &je);
        if (!m)
            return NULL;
        p += je.position;
        const char *e = json_string_value(json_object_get(m, "error"));
        char *ret = e ? kiln_xstrdup(e) : NULL;
        json_decref(m);
        if (ret)
            return ret;
        while (p < end && (*p == '\n' || *p == '\r' || *p == ' '))
            p++;
    }
    return NULL;
}

static int post(const char *host, int fd, struct kiln_error **err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kiln_error_set_errno(err, -errno, "--load: cannot read the image tar back");
    CURL *c = curl_easy_init();
    if (!c)
        return kiln_error_set(err, -ENOMEM, "--load: cannot start an HTTP client");
    _cleanup_buf_ struct kiln_buf answer = KILN_BUF_INIT(ANSWER_MAX);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-tar");
    h = curl_slist_append(h, "Expect:");
    _cleanup_free_ char *url = NULL;
    if (kiln_docker_curl_target(c, host, "/images/load", &url, err) < 0) {
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        return KILN_E_INVALID;
    }
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &fd);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, answer_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
        rc == CURLE_COULDNT_RESOLVE_HOST)
        return no_engine(host, err);
    if (rc != CURLE_OK)
        return kiln_error_set(err, KILN_E_UPSTREAM, "--load: talking to the Docker engine: %s",
                              curl_easy_strerror(rc));
    _cleanup_free_ char *e = load_error(&answer);
    if (status != 200 || e)
        return kiln_error_set(err, KILN_E_UPSTREAM,
                              "--load: the Docker engine refused the image (%ld): %s", status,
                              e ? e : answer.buf);
    return 0;
}

int kiln_docker_load(const char *host, struct kiln_store *s, const struct kiln_export_image *img,
                     const char *tmp_dir, struct kiln_error **err)
{
    if (absent(host))
        return no_engine(host, err);
    _cleanup_close_ int fd = -1;
    int r = spool(tmp_dir, s, img, &fd, err);
    return r < 0 ? r : post(host, fd, err);
}

int kiln_docker_load_tar(const char *host, int fd, struct kiln_error **err)
{
    return absent(host) ? no_engine(host, err) : post(host, fd, err);
}
