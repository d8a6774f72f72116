/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fsroot.c - confined path resolution (docs/internals/copy.md).
 */
#include "fsroot.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/banned.h"

int kiln_fsroot_open(int root, const char *path, int flags, int mode)
{
    while (*path == '/')
        path++;
    struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC),
                           .mode = (flags & O_CREAT) ? (unsigned long long)mode : 0,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    long fd;
    do
        fd = syscall(SYS_openat2, root, *path ? path : ".", &how, sizeof(how));
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : (int)fd;
}
