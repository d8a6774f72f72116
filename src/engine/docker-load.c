/* SPDX-License-Identifier: Apache-2.0 */
/*
 * docker-load.c - --load: the docker tar posted to the local Docker engine
 * (docs/internals/engine.md, "Outputs").
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "export.h"
#include "oci/layer.h"

#include "base/banned.h"

static size_t read_cb(char *buf, size_t size, size_t n, void *userdata)
{
    ssize_t got = read(*(int *)userdata, buf, size * n);
    return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

static size_t body_cb(char *data, size_t size, size_t n, void *userdata)
{
    kiln_buf_add(userdata, data, size * n);
    return size * n;
}

int kiln_docker_load(const char *socket, struct kiln_store *s, const struct kiln_export_image *img,
                     const char *tmp_dir, struct kiln_error **err)
{
    struct stat st;
    if (stat(socket, &st) < 0 || !S_ISSOCK(st.st_mode))
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "--load: no Docker engine listens on %s; write the image to a file "
                              "instead: -o type=docker,dest=FILE",
                              socket);
    _cleanup_free_ char *path = kiln_xasprintf("%s/load-XXXXXX", tmp_dir);
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", path);
    unlink(path);
    int r = kiln_export_docker_tar(s, img, kiln_oci_fd_write, &fd, err);
    if (r < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        close(fd);
        return r < 0 ? r : kiln_error_set_errno(err, -errno, "cannot read the image tar");
    }
    CURL *c = curl_easy_init();
    struct kiln_buf body = KILN_BUF_INIT(1u << 20);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-tar");
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket);
    curl_easy_setopt(c, CURLOPT_URL, "http://localhost/images/load?quiet=1");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &fd);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK)
        r = kiln_error_set(err, KILN_E_UPSTREAM, "--load: %s", curl_easy_strerror(rc));
    else if (status != 200)
        r = kiln_error_set(err, KILN_E_UPSTREAM, "--load: the Docker engine answered %ld: %s",
                           status, body.buf);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    kiln_buf_release(&body);
    close(fd);
    return r;
}
