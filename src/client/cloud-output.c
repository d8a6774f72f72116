/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloud-output.c - what a cloud build hands back: its output (a file,
 * stdout, a directory, or a load into the local Docker engine) and
 * --metadata-file / --iidfile (docs/internals/client-cloud.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "build-metadata.h"
#include "cloud-build.h"
#include "engine/export.h"
#include "oci/unpack.h"

#include "base/banned.h"

/* The one output that streams back, or NULL. */
static const struct kiln_build_output *streamed(const struct kiln_build_request *req)
{
    for (size_t i = 0; i < req->n_outputs; i++)
        if (req->outputs[i].type != KILN_OUTPUT_IMAGE &&
            req->outputs[i].type != KILN_OUTPUT_CACHEONLY)
            return &req->outputs[i];
    return NULL;
}

/* A nameless file next to `near` (or in /tmp) to download into. */
static int scratch(const char *near, struct kiln_error **err)
{
    _cleanup_free_ char *dir = kiln_xstrdup(near ? near : "/tmp");
    char *slash = near ? strrchr(dir, '/') : NULL;
    if (near && !slash) {
        free(dir);
        dir = kiln_xstrdup(".");
    } else if (slash) {
        *slash = '\0';
        if (!*dir) {
            free(dir);
            dir = kiln_xstrdup("/");
        }
    }
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot create a file in '%s' for the output",
                                    dir);
    return fd;
}

/* Gives the nameless file fd the name `path` (replacing what is there). */
static int publish(int fd, const char *path, struct kiln_error **err)
{
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    _cleanup_free_ char *tmp = kiln_xasprintf("%s.kiln-tmp", path);
    unlink(tmp);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0 || rename(tmp, path) < 0) {
        int r = -errno;
        unlink(tmp);
        return kiln_error_set_errno(err, r, "cannot write the output to '%s'", path);
    }
    return 0;
}

static int copy_to_stdout(int fd, struct kiln_error **err)
{
    char buf[65536];
    if (lseek(fd, 0, SEEK_SET) < 0)
        return kiln_error_set_errno(err, -errno, "cannot read the output back");
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_error_set_errno(err, -errno, "cannot read the output back");
        if (n == 0)
            return 0;
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
            return kiln_error_set_errno(err, -EIO, "cannot write the output to stdout");
    }
}

int kiln_cloud_output_fetch(struct kiln_cloud *c, const char *id,
                            const struct kiln_build_request *req, const char *load_host,
                            struct kiln_error **err)
{
    const struct kiln_build_output *o = streamed(req);
    if (!o)
        return 0;
    bool to_file = o->dest && strcmp(o->dest, "-") != 0 && o->type != KILN_OUTPUT_LOCAL;
    int fd = scratch(to_file ? o->dest : NULL, err);
    if (fd < 0)
        return fd;
    _cleanup_free_ char *path = kiln_xasprintf("/v1/builds/%s/output", id);
    uint64_t bytes = 0;
    int r = kiln_cloud_download(c, path, fd, &bytes, err);
    if (r >= 0 && lseek(fd, 0, SEEK_SET) < 0)
        r = kiln_error_set_errno(err, -errno, "cannot read the output back");
    if (r < 0) {
    } else if (o->type == KILN_OUTPUT_LOCAL) {
        if (mkdir(o->dest, 0755) < 0 && errno != EEXIST)
            r = kiln_error_set_errno(err, -errno, "cannot create '%s'", o->dest);
        else
            r = kiln_oci_archive_extract(fd, o->dest, "/", NULL, err);
    } else if (o->type == KILN_OUTPUT_DOCKER && !o->dest) {
        r = kiln_docker_load_tar(load_host, fd, err);
        if (r >= 0)
            for (size_t i = 0; i < req->tags.n; i++)
                fprintf(stderr, "Loaded image: %s\n", req->tags.v[i]);
    } else if (to_file) {
        r = publish(fd, o->dest, err);
    } else {
        r = copy_to_stdout(fd, err);
    }
    close(fd);
    return r;
}

int kiln_cloud_result_report(const struct kiln_build_cli *cli, json_t *result,
                             const char *build_ref, struct kiln_error **err)
{
    struct kiln_build_result res = {0};
    const char *s = json_string_value(json_object_get(result, "image_digest"));
    snprintf(res.image_digest, sizeof(res.image_digest), "%s", s ? s : "");
    s = json_string_value(json_object_get(result, "config_digest"));
    snprintf(res.config_digest, sizeof(res.config_digest), "%s", s ? s : "");
    json_t *d = json_object_get(result, "descriptor");
    res.descriptor = json_is_object(d) ? json_incref(d) : NULL;
    json_t *n;
    size_t i;
    json_array_foreach (json_object_get(result, "names"), i, n) {
        if (json_is_string(n))
            kiln_strv_push(&res.names, json_string_value(n));
    }
    int r = 0;
    if (cli->metadata_file)
        r = kiln_build_metadata_write(cli->metadata_file, &res, build_ref, err);
    if (r >= 0 && cli->iidfile)
        r = kiln_build_iidfile_write(cli->iidfile, &res, err);
    if (r >= 0 && cli->quiet && *kiln_build_image_id(&res))
        printf("%s\n", kiln_build_image_id(&res));
    kiln_build_result_release(&res);
    return r;
}
