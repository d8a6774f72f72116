/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unpack.c - applying a layer blob to a directory, as containerd's
 * archive.Apply does, with every path held inside the root.
 *
 * An entry's name is checked lexically first (no "..", not absolute, short
 * enough, not too deep), then its parent directory is opened with openat2
 * RESOLVE_IN_ROOT, which resolves symlinks as if the root were "/": nothing
 * outside can be reached whatever symlinks the layer planted. The entry
 * itself is then made with *at() calls on its base name, never following a
 * symlink, after removing what was there (but a directory stays when a
 * directory comes). Directory mtimes are set last, since creating entries
 * inside a directory changes it.
 */
#include "layer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/limits.h"
#include "base/strv.h"
#include "layer-private.h"
#include "tar.h"

#include "base/banned.h"

#define IO_CHUNK (64u * 1024)

struct dir_time {
    char *path;
    int64_t sec;
    uint32_t nsec;
};

struct ap {
    int rootfd, fd;
    const struct kiln_oci_apply_opts *opts;
    bool is_root; /* running as root: owners are applied */
    struct kiln_oci_digester blob_dg, tar_dg;
    uint64_t blob_size, tar_size;
    struct kiln_oci_decompressor *dec;
    struct kiln_oci_tar_reader *tr;
    struct kiln_oci_pathset unpacked;
    struct dir_time *dirs;
    size_t n_dirs, alloc_dirs;
    char *io;
    struct kiln_error **err;
};

/* The blob as read from the fd: counted and digested. */
static ssize_t blob_read(void *userdata, void *buf, size_t len, struct kiln_error **err)
{
    struct ap *a = userdata;
    ssize_t n = kiln_oci_fd_read(&a->fd, buf, len, err);
    if (n > 0) {
        a->blob_size += (uint64_t)n;
        int r = kiln_oci_digester_update(&a->blob_dg, buf, (size_t)n, err);
        if (r < 0)
            return r;
    }
    return n;
}

/* The tar stream out of the decompressor: counted and digested (the diff id). */
static ssize_t tar_read(void *userdata, void *buf, size_t len, struct kiln_error **err)
{
    struct ap *a = userdata;
    ssize_t n = kiln_oci_decompressor_read(a->dec, buf, len, err);
    if (n > 0) {
        a->tar_size += (uint64_t)n;
        int r = kiln_oci_digester_update(&a->tar_dg, buf, (size_t)n, err);
        if (r < 0)
            return r;
    }
    return n;
}

/*
 * `name` (the entry's name, or its hard link target) as a clean relative
 * path in *ret ("" for the root itself): "./a//b/" gives "a/b". Refuses
 * "..", a leading '/', over-long components and too many levels, with a
 * message naming the entry and `what` the name is.
 */
static int clean_name(struct ap *a, const char *entry, const char *name, const char *what,
                      char **ret)
{
    if (name[0] == '/')
        return kiln_error_set(a->err, KILN_E_INVALID, "layer entry '%s': %s is absolute", entry,
                              what);
    _cleanup_free_ char *out = kiln_xmalloc(strlen(name) + 1);
    size_t w = 0, depth = 0;
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return kiln_error_set(a->err, KILN_E_INVALID, "layer entry '%s': %s escapes the root",
                                  entry, what);
        if (n > KILN_LAYER_COMPONENT_MAX)
            return kiln_error_set(a->err, KILN_E_LIMIT,
                                  "layer entry '%.64s...': a name in the "
                                  "%s is longer than %u bytes",
                                  entry, what, KILN_LAYER_COMPONENT_MAX);
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (++depth > KILN_LAYER_DEPTH_MAX)
                return kiln_error_set(a->err, KILN_E_LIMIT,
                                      "layer entry '%.64s...': %s nested "
                                      "deeper than %u levels",
                                      entry, what, KILN_LAYER_DEPTH_MAX);
            if (w)
                out[w++] = '/';
            memcpy(out + w, p, n);
            w += n;
        }
        p += n + (p[n] == '/');
    }
    out[w] = '\0';
    *ret = TAKE_PTR(out);
    return 0;
}

/* Splits a clean path into its parent ("" for the root) and its base name, in place. */
static const char *split_base(char *path, const char **ret_base)
{
    char *slash = strrchr(path, '/');
    if (!slash) {
        *ret_base = path;
        return "";
    }
    *slash = '\0';
    *ret_base = slash + 1;
    return path;
}

/* Opens directory `dir` (clean, relative; "" is the root) inside the root. */
static int open_dir(struct ap *a, const char *dir, int *ret)
{
    int fd = kiln_oci_open_in_root(a->rootfd, *dir ? dir : ".", O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return fd;
    *ret = fd;
    return 0;
}

/* Opens `dir`, creating what is missing of it (0755, as containerd). */
static int make_parents(struct ap *a, const char *entry, const char *dir, int *ret)
{
    int r = open_dir(a, dir, ret);
    if (r != -ENOENT)
        return r < 0 ? kiln_error_set_errno(a->err, r, "layer entry '%s': open parent", entry) : 0;
    _cleanup_free_ char *prefix = kiln_xstrdup(dir);
    for (char *p = prefix;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        const char *base;
        _cleanup_free_ char *copy = kiln_xstrdup(prefix);
        const char *parent = split_base(copy, &base);
        _cleanup_close_ int pfd = -1;
        r = open_dir(a, parent, &pfd);
        if (r >= 0 && mkdirat(pfd, base, 0755) < 0 && errno != EEXIST)
            r = -errno;
        *p = saved;
        if (r < 0 || saved == '\0')
            break;
    }
    if (r >= 0)
        r = open_dir(a, dir, ret);
    return r < 0 ? kiln_error_set_errno(a->err, r, "layer entry '%s': create parent '%s'", entry,
                                        dir)
                 : 0;
}

static bool keep_unpacked(void *userdata, const char *path)
{
    return kiln_oci_pathset_contains(&((struct ap *)userdata)->unpacked, path);
}

/* ".wh.<name>" and ".wh..wh..opq" in directory `dir`. */
static int apply_whiteout(struct ap *a, const struct kiln_oci_tar_header *h, const char *dir,
                          enum kiln_oci_whiteout_kind kind, const char *target)
{
    if (kind == KILN_OCI_WHITEOUT_FILE &&
        (!*target || strcmp(target, ".") == 0 || strcmp(target, "..") == 0))
        return kiln_error_set(a->err, KILN_E_INVALID, "layer entry '%s': invalid whiteout",
                              h->name);
    _cleanup_close_ int dfd = -1;
    int r = open_dir(a, dir, &dfd);
    if (r == -ENOENT && a->opts->whiteouts == KILN_OCI_WHITEOUT_REMOVE)
        return 0; /* nothing there to hide */
    if (r < 0)
        return kiln_error_set_errno(a->err, r, "layer entry '%s': open '%s'", h->name,
                                    *dir ? dir : ".");
    if (kind == KILN_OCI_WHITEOUT_OPAQUE_DIR)
        r = kiln_oci_whiteout_apply_opaque(dfd, dir, a->opts->whiteouts, keep_unpacked, a, a->err);
    else
        r = kiln_oci_whiteout_apply(dfd, target, a->opts->whiteouts, (uid_t)h->uid, (gid_t)h->gid,
                                    a->err);
    return r < 0 ? kiln_error_wrap(a->err, r, "layer entry '%s'", h->name) : 0;
}

/* Copies the entry's content from the archive into fd. */
static int write_content(struct ap *a, int fd, const char *name)
{
    for (;;) {
        ssize_t n = kiln_oci_tar_reader_read(a->tr, a->io, IO_CHUNK, a->err);
        if (n <= 0)
            return (int)n;
        for (ssize_t done = 0; done < n;) {
            ssize_t k = write(fd, a->io + done, (size_t)(n - done));
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                return kiln_error_set_errno(a->err, -errno, "layer entry '%s': write", name);
            done += k;
        }
    }
}

/* A hard link to `linkname`, an entry already inside the root. */
static int make_hardlink(struct ap *a, const struct kiln_oci_tar_header *h, int pfd,
                         const char *base)
{
    const char *link = h->linkname;
    while (*link == '/')
        link++;
    _cleanup_free_ char *target = NULL;
    _cleanup_free_ char *what = kiln_xasprintf("hard link target '%s'", h->linkname);
    int r = clean_name(a, h->name, link, what, &target);
    if (r < 0)
        return r;
    if (!*target)
        return kiln_error_set(a->err, KILN_E_INVALID, "layer entry '%s': hard link to the root",
                              h->name);
    const char *tbase, *tdir = split_base(target, &tbase);
    _cleanup_close_ int tfd = -1;
    r = open_dir(a, tdir, &tfd);
    if (r >= 0 && linkat(tfd, tbase, pfd, base, 0) < 0)
        r = -errno;
    if (r < 0)
        return kiln_error_set_errno(a->err, r, "layer entry '%s': hard link to '%s'", h->name,
                                    h->linkname);
    return 0;
}

/* Makes the entry `base` in pfd (nothing is there now); *ret_fd gets a regular file's fd. */
static int make_entry(struct ap *a, const struct kiln_oci_tar_header *h, int pfd, const char *base,
                      int *ret_fd)
{
    int r = 0;
    switch (h->type) {
    case KILN_OCI_TAR_REG:
        *ret_fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (*ret_fd < 0)
            r = -errno;
        else
            return write_content(a, *ret_fd, h->name);
        break;
    case KILN_OCI_TAR_DIR:
        if (mkdirat(pfd, base, 0700) < 0 && errno != EEXIST)
            r = -errno;
        break;
    case KILN_OCI_TAR_SYMLINK:
        if (symlinkat(h->linkname, pfd, base) < 0)
            r = -errno;
        break;
    case KILN_OCI_TAR_LINK: return make_hardlink(a, h, pfd, base);
    case KILN_OCI_TAR_CHAR:
    case KILN_OCI_TAR_BLOCKDEV:
        if (!a->opts->allow_devices || !a->is_root)
            return kiln_error_set(a->err, KILN_E_DENIED,
                                  "layer entry '%s': device nodes are not "
                                  "allowed%s",
                                  h->name, a->is_root ? "" : " without root");
        if (mknodat(pfd, base, (h->type == KILN_OCI_TAR_CHAR ? S_IFCHR : S_IFBLK) | 0600,
                    makedev(h->devmajor, h->devminor)) < 0)
            r = -errno;
        break;
    case KILN_OCI_TAR_FIFO:
        if (mknodat(pfd, base, S_IFIFO | 0600, 0) < 0)
            r = -errno;
        break;
    default: break;
    }
    return r < 0 ? kiln_error_set_errno(a->err, r, "layer entry '%s': create", h->name) : 0;
}

/* The PAX xattrs of h on the entry; overlayfs' own attributes are refused. */
static int set_xattrs(struct ap *a, const struct kiln_oci_tar_header *h, int pfd, const char *base,
                      int fd)
{
    _cleanup_close_ int pathfd = -1;
    for (size_t i = 0; i < h->n_xattrs; i++) {
        const struct kiln_oci_xattr *x = &h->xattrs[i];
        if (strncmp(x->name, "trusted.overlay.", 16) == 0 ||
            strncmp(x->name, "user.overlay.", 13) == 0)
            return kiln_error_set(a->err, KILN_E_INVALID,
                                  "layer entry '%s': xattr '%s' is "
                                  "overlayfs metadata",
                                  h->name, x->name);
        int k;
        if (fd >= 0) {
            k = fsetxattr(fd, x->name, x->value, x->len, 0);
        } else {
            /* A fifo or device is never opened for real: its O_PATH fd, through /proc. */
            if (pathfd < 0 && (pathfd = openat(pfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
                return kiln_error_set_errno(a->err, -errno, "layer entry '%s'", h->name);
            char proc[64];
            (void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pathfd);
            k = setxattr(proc, x->name, x->value, x->len, 0);
        }
        if (k < 0 && errno != ENOTSUP && !(errno == EPERM && !a->is_root))
            return kiln_error_set_errno(a->err, -errno, "layer entry '%s': set xattr '%s'", h->name,
                                        x->name);
    }
    return 0;
}

/* Owner, xattrs, mode and mtime, in containerd's order (chown can clear setuid bits). */
static int set_metadata(struct ap *a, const struct kiln_oci_tar_header *h, const char *path,
                        int pfd, const char *base, int fd)
{
    struct stat st;
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(a->err, -errno, "layer entry '%s'", h->name);
    if (a->is_root && fchownat(pfd, base, (uid_t)h->uid, (gid_t)h->gid, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(a->err, -errno, "layer entry '%s': chown %" PRIu64 ":%" PRIu64,
                                    h->name, h->uid, h->gid);
    if (S_ISLNK(st.st_mode)) {
        struct timespec ts[2] = {{h->mtime, h->mtime_nsec}, {h->mtime, h->mtime_nsec}};
        if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOTSUP)
            return kiln_error_set_errno(a->err, -errno, "layer entry '%s': set times", h->name);
        return 0;
    }
    _cleanup_close_ int dirfd = -1;
    if (S_ISDIR(st.st_mode) &&
        (dirfd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return kiln_error_set_errno(a->err, -errno, "layer entry '%s'", h->name);
    int r = set_xattrs(a, h, pfd, base, fd >= 0 ? fd : dirfd);
    if (r < 0)
        return r;
    if (fchmodat(pfd, base, h->mode & 07777, 0) < 0)
        return kiln_error_set_errno(a->err, -errno, "layer entry '%s': chmod", h->name);
    if (S_ISDIR(st.st_mode)) {
        KILN_GROW(a->dirs, a->alloc_dirs, a->n_dirs + 1);
        a->dirs[a->n_dirs++] = (struct dir_time){kiln_xstrdup(path), h->mtime, h->mtime_nsec};
        return 0;
    }
    struct timespec ts[2] = {{h->mtime, h->mtime_nsec}, {h->mtime, h->mtime_nsec}};
    if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(a->err, -errno, "layer entry '%s': set times", h->name);
    return 0;
}

/* Removes what is at `base` unless a directory meets a directory. */
static int clear_place(struct ap *a, const struct kiln_oci_tar_header *h, int pfd, const char *base)
{
    struct stat st;
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0
                               : kiln_error_set_errno(a->err, -errno, "layer entry '%s'", h->name);
    if (S_ISDIR(st.st_mode) && h->type == KILN_OCI_TAR_DIR)
        return 0;
    int r = kiln_oci_remove_at(pfd, base, a->err);
    return r < 0 ? kiln_error_wrap(a->err, r, "layer entry '%s'", h->name) : 0;
}

static int apply_entry(struct ap *a, const struct kiln_oci_tar_header *h)
{
    _cleanup_free_ char *path = NULL;
    int r = clean_name(a, h->name, h->name, "path", &path);
    if (r < 0)
        return r;
    if (!*path)
        return h->type == KILN_OCI_TAR_DIR
                       ? 0
                       : kiln_error_set(a->err, KILN_E_INVALID,
                                        "layer entry '%s': would replace the root", h->name);
    _cleanup_free_ char *copy = kiln_xstrdup(path);
    const char *base, *target = NULL, *dir = split_base(copy, &base);
    enum kiln_oci_whiteout_kind kind = kiln_oci_whiteout_parse(base, &target);
    if (kind != KILN_OCI_WHITEOUT_NONE)
        return apply_whiteout(a, h, dir, kind, target);
    _cleanup_close_ int pfd = -1, fd = -1;
    r = make_parents(a, h->name, dir, &pfd);
    if (r >= 0)
        r = clear_place(a, h, pfd, base);
    if (r >= 0)
        r = make_entry(a, h, pfd, base, &fd);
    if (r >= 0)
        r = set_metadata(a, h, path, pfd, base, fd);
    if (r >= 0)
        (void)kiln_oci_pathset_add(&a->unpacked, path);
    return r;
}

/* Directory mtimes, once nothing more is created inside them. */
static int set_dir_times(struct ap *a)
{
    for (size_t i = 0; i < a->n_dirs; i++) {
        const struct dir_time *d = &a->dirs[i];
        _cleanup_close_ int fd =
                kiln_oci_open_in_root(a->rootfd, d->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
        if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
            continue; /* replaced by a later entry */
        struct timespec ts[2] = {{d->sec, d->nsec}, {d->sec, d->nsec}};
        if (fd < 0 || futimens(fd, ts) < 0)
            return kiln_error_set_errno(a->err, fd < 0 ? fd : -errno, "layer entry '%s': set times",
                                        d->path);
    }
    return 0;
}

static int apply_all(struct ap *a, struct kiln_oci_apply_stats *ret)
{
    struct kiln_oci_tar_limits limits = {a->opts->max_bytes, a->opts->max_entries};
    struct kiln_oci_apply_stats s = {0};
    int r = kiln_oci_decompressor_new(blob_read, a, &a->dec, a->err);
    if (r < 0)
        return r;
    kiln_oci_tar_reader_new(tar_read, a, &limits, &a->tr);
    const struct kiln_oci_tar_header *h;
    while ((r = kiln_oci_tar_reader_next(a->tr, &h, a->err)) > 0 && (r = apply_entry(a, h)) >= 0)
        s.entries++;
    if (r >= 0)
        r = set_dir_times(a);
    if (r >= 0)
        r = kiln_oci_digester_final(&a->tar_dg, s.diff_id, a->err);
    if (r >= 0)
        r = kiln_oci_digester_final(&a->blob_dg, s.digest, a->err);
    if (r < 0)
        return r;
    s.compression = kiln_oci_decompressor_kind(a->dec);
    s.size = a->blob_size;
    s.tar_size = a->tar_size;
    if (ret)
        *ret = s;
    return 0;
}

int kiln_oci_layer_apply(const char *root, int fd, const struct kiln_oci_apply_opts *opts,
                         struct kiln_oci_apply_stats *ret, struct kiln_error **err)
{
    static const struct kiln_oci_apply_opts defaults = {.whiteouts = KILN_OCI_WHITEOUT_REMOVE};
    struct ap a = {
            .rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
            .fd = fd,
            .opts = opts ? opts : &defaults,
            .is_root = geteuid() == 0,
            .unpacked = KILN_OCI_PATHSET_INIT,
            .io = kiln_xmalloc(IO_CHUNK),
            .err = err,
    };
    int r = a.rootfd < 0 ? kiln_error_set_errno(err, -errno, "open '%s'", root) : 0;
    if (r >= 0)
        r = kiln_oci_digester_init(&a.blob_dg, KILN_OCI_SHA256, err);
    if (r >= 0)
        r = kiln_oci_digester_init(&a.tar_dg, KILN_OCI_SHA256, err);
    if (r >= 0)
        r = apply_all(&a, ret);
    if (a.rootfd >= 0)
        close(a.rootfd);
    kiln_oci_digester_release(&a.blob_dg);
    kiln_oci_digester_release(&a.tar_dg);
    kiln_oci_decompressor_free(a.dec);
    kiln_oci_tar_reader_free(a.tr);
    kiln_oci_pathset_release(&a.unpacked);
    for (size_t i = 0; i < a.n_dirs; i++)
        free(a.dirs[i].path);
    free(a.dirs);
    free(a.io);
    return r < 0 ? kiln_error_wrap(err, r, "apply layer to '%s'", root) : 0;
}
