/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build-metadata.c - buildx's --metadata-file and --iidfile
 * (docs/internals/client.md).
 */
#include "build-metadata.h"

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

#include "base/banned.h"

const char *kiln_build_image_id(const struct kiln_build_result *res)
{
    return *res->config_digest ? res->config_digest : res->image_digest;
}

/* Writes `text` to a temporary file beside `path`, then renames it over. */
static int write_atomic(const char *path, const char *what, const char *text,
                        struct kiln_error **err)
{
    _cleanup_free_ char *tmp = kiln_xasprintf("%s.tmp-XXXXXX", path);
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "%s '%s': cannot create it", what, path);
    size_t len = strlen(text);
    int r = 0;
    if (write(fd, text, len) != (ssize_t)len || fchmod(fd, 0644) < 0)
        r = -(errno ? errno : EIO);
    else if (rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return kiln_error_set_errno(err, r, "%s '%s': cannot write it", what, path);
    }
    return 0;
}

int kiln_build_metadata_write(const char *path, const struct kiln_build_result *res,
                              const char *build_ref, struct kiln_error **err)
{
    json_t *m = json_object();
    if (build_ref)
        json_object_set_new(m, "buildx.build.ref", json_string(build_ref));
    if (*res->image_digest)
        json_object_set_new(m, "containerimage.digest", json_string(res->image_digest));
    if (*res->config_digest)
        json_object_set_new(m, "containerimage.config.digest", json_string(res->config_digest));
    if (res->descriptor)
        json_object_set(m, "containerimage.descriptor", res->descriptor);
    if (res->names.n) {
        struct kiln_buf b = KILN_BUF_INIT(SIZE_MAX);
        for (size_t i = 0; i < res->names.n; i++)
            kiln_buf_addf(&b, "%s%s", i ? "," : "", res->names.v[i]);
        json_object_set_new(m, "image.name", json_string(b.buf));
        kiln_buf_release(&b);
    }
    /* json.MarshalIndent(map, "", "  "): keys sorted, no newline at the end. */
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(m);
    int r = write_atomic(path, "--metadata-file", text, err);
    free(text);
    return r;
}

int kiln_build_iidfile_write(const char *path, const struct kiln_build_result *res,
                             struct kiln_error **err)
{
    return write_atomic(path, "--iidfile", kiln_build_image_id(res), err);
}

void kiln_build_print_failure(const struct kiln_build_request *req, const struct kiln_error *e,
                              int r)
{
    fprintf(stderr, "ERROR: failed to solve: %s\n", kiln_error_message(e, r));
    if (e && e->line)
        fprintf(stderr, "%s:%u\n",
                !req->dockerfile                    ? "Dockerfile"
                : strcmp(req->dockerfile, "-") == 0 ? "<stdin>"
                                                    : req->dockerfile,
                e->line);
}
