/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stubs.c - mount point stubs (docs/internals/sandbox.md).
 */
#include "stubs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fsroot.h"

#include "base/banned.h"

static const char *const points[] = {"proc", "dev", "sys", "etc", "etc/hosts", "etc/resolv.conf"};

static int parent_fd(int root, const char *path)
{
    const char *slash = strrchr(path, '/');
    _cleanup_free_ char *parent = kiln_xstrndup(path, slash ? (size_t)(slash - path) : 0);
    return kiln_fsroot_open(root, parent, O_RDONLY | O_DIRECTORY, 0);
}

int kiln_stubs_find(const char *rootfs, struct kiln_stubs *ret)
{
    *ret = (struct kiln_stubs){.root = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (ret->root < 0)
        return -errno;
    for (size_t i = 0; i < sizeof(points) / sizeof(*points); i++) {
        int fd = kiln_fsroot_open(ret->root, points[i], O_PATH | O_NOFOLLOW, 0);
        if (fd >= 0) {
            close(fd);
            continue;
        }
        int pfd = parent_fd(ret->root, points[i]);
        struct stat st;
        if (pfd >= 0 && fstat(pfd, &st) == 0) {
            ret->parent_times[ret->n][0] = st.st_atim;
            ret->parent_times[ret->n][1] = st.st_mtim;
        } else {
            ret->parent_times[ret->n][0].tv_nsec = UTIME_OMIT;
            ret->parent_times[ret->n][1].tv_nsec = UTIME_OMIT;
        }
        if (pfd >= 0)
            close(pfd);
        ret->paths[ret->n++] = kiln_xstrdup(points[i]);
    }
    return 0;
}

void kiln_stubs_remove(struct kiln_stubs *s)
{
    for (size_t i = s->n; i-- > 0;) {
        int pfd = parent_fd(s->root, s->paths[i]);
        if (pfd >= 0) {
            const char *slash = strrchr(s->paths[i], '/');
            const char *name = slash ? slash + 1 : s->paths[i];
            if (unlinkat(pfd, name, 0) < 0)
                unlinkat(pfd, name, AT_REMOVEDIR);
            futimens(pfd, s->parent_times[i]);
            close(pfd);
        }
        free(s->paths[i]);
    }
    if (s->root >= 0)
        close(s->root);
    *s = (struct kiln_stubs){.root = -1};
}
