/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mkdir.c - WORKDIR (docs/internals/copy.md).
 */
#include "mkdir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "copy-private.h"
#include "passwd.h"

#include "base/banned.h"

int kiln_mkdir_apply(const char *root, const char *path, const char *user, struct kiln_error **err)
{
    uint32_t uid = 0, gid = 0;
    int r = user && *user ? kiln_passwd_resolve(root, user, true, &uid, &gid, NULL, NULL, err) : 0;
    if (r < 0)
        return r;
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open '%s'", root);
    _cleanup_free_ char *p = kiln_xstrdup(path);
    char *s = p;
    while (*s == '/')
        s++;
    r = 0;
    while (*s && r >= 0) {
        char *slash = strchr(s, '/');
        if (slash)
            *slash = '\0';
        int fd = kiln_copy_open_in_root(rfd, p, O_RDONLY | O_DIRECTORY);
        if (fd == -ENOENT) {
            char *last = strrchr(p, '/');
            _cleanup_free_ char *parent = kiln_xstrndup(p, last ? (size_t)(last - p) : 0);
            int pfd = kiln_copy_open_in_root(rfd, parent, O_RDONLY | O_DIRECTORY);
            if (pfd < 0) {
                r = kiln_error_set_errno(err, pfd, "WORKDIR %s: cannot open %s", path, parent);
                break;
            }
            const char *name = last ? last + 1 : p;
            int dfd = kiln_copy_mkdir_at(pfd, name, 0755, uid, gid);
            if (dfd == -EEXIST)
                r = kiln_error_set(err, KILN_E_INVALID,
                                   "WORKDIR %s: /%s is a symbolic link to a missing directory: "
                                   "create its target first",
                                   path, p);
            else if (dfd < 0)
                r = kiln_error_set_errno(err, dfd, "WORKDIR %s: cannot create /%s", path, p);
            else
                close(dfd);
            close(pfd);
        } else if (fd < 0) {
            r = kiln_error_set_errno(err, fd, "WORKDIR %s: %s is not a directory", path, p);
        } else {
            close(fd);
        }
        if (!slash)
            break;
        *slash = '/';
        s = slash + 1;
    }
    close(rfd);
    return r;
}
