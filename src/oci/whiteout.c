/* SPDX-License-Identifier: Apache-2.0 */
#include "whiteout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/limits.h"

#include "base/banned.h"

static const char *const opaque_keys[] = {"trusted.overlay.opaque", "user.overlay.opaque"};
static const char *const redirect_keys[] = {"trusted.overlay.redirect", "user.overlay.redirect"};

bool kiln_oci_whiteout_is_overlay(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0;
}

int kiln_oci_whiteout_is_opaque(int dirfd, bool *ret, struct kiln_error **err)
{
    for (size_t i = 0; i < ELEMENTSOF(opaque_keys); i++) {
        char v[2];
        ssize_t n = fgetxattr(dirfd, opaque_keys[i], v, sizeof(v));
        if (n == 1 && v[0] == 'y') {
            *ret = true;
            return 0;
        }
        if (n < 0 && errno != ENODATA && errno != ERANGE && errno != ENOTSUP)
            return kiln_error_set_errno(err, -errno, "read xattr %s", opaque_keys[i]);
    }
    *ret = false;
    return 0;
}

int kiln_oci_whiteout_check_redirect(int dirfd, const char *path, struct kiln_error **err)
{
    for (size_t i = 0; i < ELEMENTSOF(redirect_keys); i++) {
        ssize_t n = fgetxattr(dirfd, redirect_keys[i], NULL, 0);
        if (n > 0)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "'%s': overlayfs redirect_dir is used, which the overlay "
                                  "differ does not support",
                                  path);
        if (n < 0 && errno != ENODATA && errno != ENOTSUP)
            return kiln_error_set_errno(err, -errno, "'%s': read xattr %s", path, redirect_keys[i]);
    }
    return 0;
}

enum kiln_oci_whiteout_kind kiln_oci_whiteout_parse(const char *base, const char **ret_target)
{
    if (strcmp(base, KILN_OCI_WHITEOUT_OPAQUE) == 0)
        return KILN_OCI_WHITEOUT_OPAQUE_DIR;
    if (strncmp(base, KILN_OCI_WHITEOUT_PREFIX, strlen(KILN_OCI_WHITEOUT_PREFIX)) != 0)
        return KILN_OCI_WHITEOUT_NONE;
    *ret_target = base + strlen(KILN_OCI_WHITEOUT_PREFIX);
    return KILN_OCI_WHITEOUT_FILE;
}

static int remove_children(int dirfd, unsigned depth, struct kiln_error **err);

static int remove_entry(int dirfd, const char *name, unsigned depth, struct kiln_error **err)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return kiln_error_set_errno(err, -errno, "remove '%s'", name);
    if (depth >= KILN_LAYER_DEPTH_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "remove '%s': nested deeper than %u levels", name,
                              KILN_LAYER_DEPTH_MAX);
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "remove '%s'", name);
    int r = remove_children(fd, depth + 1, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "remove '%s'", name);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return kiln_error_set_errno(err, -errno, "remove '%s'", name);
    return 0;
}

/* Calls fn for each entry of the directory dirfd (but "." and ".."). */
static int for_each_child(int dirfd, int (*fn)(int dirfd, const char *name, void *ud), void *ud,
                          struct kiln_error **err)
{
    int dup = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
    if (dup < 0)
        return kiln_error_set_errno(err, -errno, "list directory");
    _cleanup_closedir_ DIR *d = fdopendir(dup);
    if (!d) {
        close(dup);
        return kiln_error_set_errno(err, -errno, "list directory");
    }
    rewinddir(d);
    struct dirent *de;
    while ((errno = 0, de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int r = fn(dirfd, de->d_name, ud);
        if (r < 0)
            return r;
    }
    if (errno)
        return kiln_error_set_errno(err, -errno, "list directory");
    return 0;
}

struct remove_ctx {
    unsigned depth;
    struct kiln_error **err;
};

static int remove_one(int dirfd, const char *name, void *ud)
{
    struct remove_ctx *c = ud;
    return remove_entry(dirfd, name, c->depth, c->err);
}

static int remove_children(int dirfd, unsigned depth, struct kiln_error **err)
{
    struct remove_ctx c = {depth, err};
    return for_each_child(dirfd, remove_one, &c, err);
}

int kiln_oci_remove_at(int dirfd, const char *name, struct kiln_error **err)
{
    return remove_entry(dirfd, name, 0, err);
}

int kiln_oci_whiteout_apply(int dirfd, const char *target, enum kiln_oci_whiteout_mode mode,
                            uid_t uid, gid_t gid, struct kiln_error **err)
{
    int r = kiln_oci_remove_at(dirfd, target, err);
    if (r < 0 || mode == KILN_OCI_WHITEOUT_REMOVE)
        return r;
    if (mknodat(dirfd, target, S_IFCHR, makedev(0, 0)) < 0)
        return kiln_error_set_errno(err, -errno, "whiteout '%s'", target);
    if (fchownat(dirfd, target, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM)
        return kiln_error_set_errno(err, -errno, "whiteout '%s'", target);
    return 0;
}

struct opaque_ctx {
    const char *path;
    kiln_oci_keep_fn keep;
    void *userdata;
    unsigned depth;
    struct kiln_error **err;
};

static int opaque_one(int dirfd, const char *name, void *ud)
{
    struct opaque_ctx *c = ud;
    _cleanup_free_ char *path =
            *c->path ? kiln_xasprintf("%s/%s", c->path, name) : kiln_xstrdup(name);
    if (!c->keep(c->userdata, path))
        return remove_entry(dirfd, name, c->depth, c->err);
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(c->err, -errno, "'%s'", path);
    if (!S_ISDIR(st.st_mode))
        return 0;
    if (c->depth >= KILN_LAYER_DEPTH_MAX)
        return kiln_error_set(c->err, KILN_E_LIMIT, "'%s': nested deeper than %u levels", path,
                              KILN_LAYER_DEPTH_MAX);
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(c->err, -errno, "'%s'", path);
    struct opaque_ctx sub = {path, c->keep, c->userdata, c->depth + 1, c->err};
    return for_each_child(fd, opaque_one, &sub, c->err);
}

int kiln_oci_whiteout_apply_opaque(int dirfd, const char *path, enum kiln_oci_whiteout_mode mode,
                                   kiln_oci_keep_fn keep, void *userdata, struct kiln_error **err)
{
    if (mode != KILN_OCI_WHITEOUT_REMOVE) {
        const char *key = opaque_keys[mode == KILN_OCI_WHITEOUT_OVERLAY ? 0 : 1];
        if (fsetxattr(dirfd, key, "y", 1, 0) < 0)
            return kiln_error_set_errno(err, -errno, "'%s': set %s", path, key);
        return 0;
    }
    struct opaque_ctx c = {path, keep, userdata, 0, err};
    return for_each_child(dirfd, opaque_one, &c, err);
}
