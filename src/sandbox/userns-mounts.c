/* SPDX-License-Identifier: Apache-2.0 */
/*
 * userns-mounts.c - bind sources mounted idmapped for a step in a user
 * namespace (docs/internals/sandbox.md, "User namespace").
 */
#include "userns-mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"

#include "base/banned.h"

/* An empty directory or file at `point`, as `source` is one or the other. */
static int make_point(const char *source, const char *point)
{
    struct stat st;
    if (stat(source, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return mkdir(point, 0700) < 0 ? -errno : 0;
    int fd = open(point, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}

int kiln_sandbox_map_binds(const struct kiln_sandbox_opts *o, struct kiln_sandbox_mapped_binds *ret,
                           struct kiln_error **err)
{
    *ret = (struct kiln_sandbox_mapped_binds){0};
    if (o->n_mounts == 0)
        return 0;
    ret->v = kiln_xcalloc(o->n_mounts, sizeof(*ret->v));
    ret->points = kiln_xcalloc(o->n_mounts, sizeof(*ret->points));
    ret->n = o->n_mounts;
    for (size_t i = 0; i < o->n_mounts; i++) {
        ret->v[i] = o->mounts[i];
        if (!o->mounts[i].source || o->mounts[i].mapped)
            continue;
        char *point = kiln_xasprintf("%s/idmapped-%zu", o->state_dir, i);
        int r = make_point(o->mounts[i].source, point);
        if (r < 0) {
            r = kiln_error_set_errno(err, r, "mount point for '%s'", o->mounts[i].source);
        } else if ((r = kiln_sandbox_idmap_mount(o->userns, o->mounts[i].source, point, err)) < 0) {
            remove(point);
        }
        if (r < 0) {
            free(point);
            kiln_sandbox_mapped_binds_release(ret);
            return r;
        }
        ret->points[ret->n_points++] = point;
        ret->v[i].source = point;
        ret->v[i].mapped = true;
    }
    return 0;
}

void kiln_sandbox_mapped_binds_release(struct kiln_sandbox_mapped_binds *b)
{
    for (size_t i = 0; i < b->n_points; i++) {
        umount2(b->points[i], MNT_DETACH);
        remove(b->points[i]);
        free(b->points[i]);
    }
    free(b->points);
    free(b->v);
    *b = (struct kiln_sandbox_mapped_binds){0};
}
