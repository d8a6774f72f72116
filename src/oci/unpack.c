/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unpack.c - a tar stream extracted into a directory with every path held
 * inside it: a layer applied as containerd's applyNaive does, or an ADD
 * archive as go-archive's Unpack does (layer-private.h says how they
 * differ).
 *
 * An entry's name is checked lexically first (no escaping "..", short
 * enough, not too deep), then its parent directory is opened with openat2
 * RESOLVE_IN_ROOT, which resolves symlinks as if the root were "/": nothing
 * outside can be reached whatever symlinks the stream planted. The entry
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
    int rootfd;
    const struct kiln_oci_unpack_opts *opts;
    const char *what; /* "layer" or "archive", for messages */
    bool is_root;     /* running as root: owners and devices are applied */
    struct kiln_oci_tar_reader *tr;
    struct kiln_oci_pathset unpacked; /* for opaque whiteouts (layers) */
    struct dir_time *dirs;
    size_t n_dirs, alloc_dirs;
    size_t remembered; /* bytes of paths in unpacked and dirs */
    char *io;
    struct kiln_error **err;
};

/* Counts a path about to be kept until the end against KILN_LAYER_PATHS_MAX. */
static int remember(struct ap *a, const char *path)
{
    a->remembered += strlen(path) + 1;
    if (a->remembered > KILN_LAYER_PATHS_MAX)
        return kiln_error_set(a->err, KILN_E_LIMIT,
                              "%s paths add up to more than %u bytes; split the %s", a->what,
                              KILN_LAYER_PATHS_MAX, a->what);
    return 0;
}

/*
 * `name` (the entry's name, or its hard link target) as a clean relative
 * path in *ret ("" for the root itself): "./a//b/" gives "a/b". A layer name
 * with ".." or a leading '/' is refused; an archive name is cleaned as Go's
 * filepath.Clean does and refused only when it climbs above the root. Also
 * refuses over-long components and too many levels; messages name the
 * entry and `what` the name is.
 */
static int clean_name(struct ap *a, const char *entry, const char *name, const char *what,
                      char **ret)
{
    bool rooted = name[0] == '/';
    if (rooted && !a->opts->archive)
        return kiln_error_set(a->err, KILN_E_INVALID, "%s entry '%s': %s is absolute", a->what,
                              entry, what);
    _cleanup_free_ char *out = kiln_xmalloc(strlen(name) + 1);
    size_t w = 0, depth = 0;
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (!a->opts->archive || (depth == 0 && !rooted))
                return kiln_error_set(a->err, KILN_E_INVALID, "%s entry '%s': %s escapes the root",
                                      a->what, entry, what);
            if (depth > 0) { /* drop the last component */
                depth--;
                while (w > 0 && out[w - 1] != '/')
                    w--;
                w -= w > 0;
            }
        } else if (n > KILN_LAYER_COMPONENT_MAX) {
            return kiln_error_set(a->err, KILN_E_LIMIT,
                                  "%s entry '%.64s...': a name in the %s is longer than %u bytes",
                                  a->what, entry, what, KILN_LAYER_COMPONENT_MAX);
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (++depth > KILN_LAYER_DEPTH_MAX)
                return kiln_error_set(a->err, KILN_E_LIMIT,
                                      "%s entry '%.64s...': %s nested deeper than %u levels",
                                      a->what, entry, what, KILN_LAYER_DEPTH_MAX);
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

/*
 * Whether the relative symlink target `target` of the entry at clean path
 * `path` climbs above the root (go-archive refuses those in archives).
 */
static bool symlink_escapes(const char *path, const char *target)
{
    if (target[0] == '/')
        return false;
    size_t depth = 0;
    for (const char *p = path; (p = strchr(p, '/')); p++)
        depth++;
    for (const char *p = target; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (depth == 0)
                return true;
            depth--;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            depth++;
        }
        p += n + (p[n] == '/');
    }
    return false;
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

/* Makes directory `path` (its parent exists) unless something is there already. */
static int mkdir_one(int rootfd, char *path, mode_t mode, bool chown, uid_t uid, gid_t gid)
{
    char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base)
        return 0; /* "a//b" */
    if (slash)
        *slash = '\0';
    _cleanup_close_ int pfd =
            kiln_oci_open_in_root(rootfd, slash ? path : ".", O_RDONLY | O_DIRECTORY, 0);
    if (slash)
        *slash = '/';
    if (pfd < 0)
        return pfd;
    if (mkdirat(pfd, base, mode) < 0)
        return errno == EEXIST ? 0 : -errno;
    if (chown && fchownat(pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    return 0;
}

int kiln_oci_mkdir_in_root(int rootfd, const char *path, mode_t mode, bool chown, uid_t uid,
                           gid_t gid)
{
    while (*path == '/')
        path++;
    int fd = kiln_oci_open_in_root(rootfd, *path ? path : ".", O_RDONLY | O_DIRECTORY, 0);
    if (fd != -ENOENT)
        return fd;
    _cleanup_free_ char *prefix = kiln_xstrdup(path);
    for (size_t i = 0, n = strlen(prefix); i <= n; i++) {
        char c = prefix[i];
        if (c != '/' && c != '\0')
            continue;
        prefix[i] = '\0';
        int r = mkdir_one(rootfd, prefix, mode, chown, uid, gid);
        prefix[i] = c;
        if (r < 0)
            return r;
    }
    return kiln_oci_open_in_root(rootfd, path, O_RDONLY | O_DIRECTORY, 0);
}

/* Opens `dir`, creating what is missing of it (0755, owned by whoever runs: 0:0 as root). */
static int make_parents(struct ap *a, const char *entry, const char *dir, int *ret)
{
    int fd = kiln_oci_mkdir_in_root(a->rootfd, dir, 0755, false, 0, 0);
    if (fd < 0)
        return kiln_error_set_errno(a->err, fd, "%s entry '%s': create parent '%s'", a->what, entry,
                                    dir);
    *ret = fd;
    return 0;
}

static bool keep_unpacked(void *userdata, const char *path)
{
    return kiln_oci_pathset_contains(&((struct ap *)userdata)->unpacked, path);
}

/* ".wh.<name>" and ".wh..wh..opq" in directory pfd, at `dir`. */
static int apply_whiteout(struct ap *a, const struct kiln_oci_tar_header *h, int pfd,
                          const char *dir, enum kiln_oci_whiteout_kind kind, const char *target)
{
    int r;
    if (kind == KILN_OCI_WHITEOUT_OPAQUE_DIR) {
        r = kiln_oci_whiteout_apply_opaque(pfd, dir, a->opts->whiteouts, keep_unpacked, a, a->err);
    } else {
        if (!*target || strcmp(target, ".") == 0 || strcmp(target, "..") == 0)
            return kiln_error_set(a->err, KILN_E_INVALID, "layer entry '%s': invalid whiteout",
                                  h->name);
        r = kiln_oci_whiteout_apply(pfd, target, a->opts->whiteouts, (uid_t)h->uid, (gid_t)h->gid,
                                    a->err);
    }
    return r < 0 ? kiln_error_wrap(a->err, r, "layer entry '%s'", h->name) : 0;
}

/* Copies the entry's content from the stream into fd. */
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
                return kiln_error_set_errno(a->err, -errno, "%s entry '%s': write", a->what, name);
            done += k;
        }
    }
}

/* A hard link to `linkname`, an entry already inside the root. */
static int make_hardlink(struct ap *a, const struct kiln_oci_tar_header *h, int pfd,
                         const char *base)
{
    const char *link = h->linkname;
    while (*link == '/' && !a->opts->archive)
        link++; /* containerd resolves the target inside the root either way */
    _cleanup_free_ char *target = NULL;
    _cleanup_free_ char *what = kiln_xasprintf("hard link target '%s'", h->linkname);
    int r = clean_name(a, h->name, link, what, &target);
    if (r < 0)
        return r;
    if (!*target)
        return kiln_error_set(a->err, KILN_E_INVALID, "%s entry '%s': hard link to the root",
                              a->what, h->name);
    const char *tbase, *tdir = split_base(target, &tbase);
    _cleanup_close_ int tfd = -1;
    r = open_dir(a, tdir, &tfd);
    if (r >= 0 && linkat(tfd, tbase, pfd, base, 0) < 0)
        r = -errno;
    if (r < 0)
        return kiln_error_set_errno(a->err, r, "%s entry '%s': hard link to '%s'", a->what, h->name,
                                    h->linkname);
    return 0;
}

/* A fifo, or a device node when allowed. */
static int make_node(struct ap *a, const struct kiln_oci_tar_header *h, int pfd, const char *base)
{
    bool dev = h->type == KILN_OCI_TAR_CHAR || h->type == KILN_OCI_TAR_BLOCKDEV;
    if (dev && (!a->opts->allow_devices || !a->is_root))
        return kiln_error_set(a->err, KILN_E_DENIED,
                              "%s entry '%s': device nodes are not allowed%s", a->what, h->name,
                              a->is_root ? "" : " without root");
    mode_t type = h->type == KILN_OCI_TAR_CHAR       ? S_IFCHR
                  : h->type == KILN_OCI_TAR_BLOCKDEV ? S_IFBLK
                                                     : S_IFIFO;
    if (mknodat(pfd, base, type | 0600, dev ? makedev(h->devmajor, h->devminor) : 0) < 0)
        return kiln_error_set_errno(a->err, -errno, "%s entry '%s': create", a->what, h->name);
    return 0;
}

/* Makes the entry `base` at clean `path` in pfd (nothing is there now); *ret_fd gets a file's fd.
 */
static int make_entry(struct ap *a, const struct kiln_oci_tar_header *h, const char *path, int pfd,
                      const char *base, int *ret_fd)
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
        if (a->opts->archive && symlink_escapes(path, h->linkname))
            return kiln_error_set(a->err, KILN_E_INVALID,
                                  "archive entry '%s': symlink target '%s' escapes the root",
                                  h->name, h->linkname);
        if (symlinkat(h->linkname, pfd, base) < 0)
            r = -errno;
        break;
    case KILN_OCI_TAR_LINK: return make_hardlink(a, h, pfd, base);
    default: return make_node(a, h, pfd, base);
    }
    return r < 0 ? kiln_error_set_errno(a->err, r, "%s entry '%s': create", a->what, h->name) : 0;
}

/*
 * The PAX xattrs of h on the entry; overlayfs' own attributes are refused.
 * Archives are best effort (as BuildKit's ADD): a failure is ignored.
 */
static int set_xattrs(struct ap *a, const struct kiln_oci_tar_header *h, int pfd, const char *base,
                      int fd)
{
    _cleanup_close_ int pathfd = -1;
    for (size_t i = 0; i < h->n_xattrs; i++) {
        const struct kiln_oci_xattr *x = &h->xattrs[i];
        if (strncmp(x->name, "trusted.overlay.", 16) == 0 ||
            strncmp(x->name, "user.overlay.", 13) == 0)
            return kiln_error_set(a->err, KILN_E_INVALID,
                                  "%s entry '%s': xattr '%s' is overlayfs metadata", a->what,
                                  h->name, x->name);
        int k;
        if (fd >= 0) {
            k = fsetxattr(fd, x->name, x->value, x->len, 0);
        } else {
            /* A fifo or device is never opened for real: its O_PATH fd, through /proc. */
            if (pathfd < 0 && (pathfd = openat(pfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
                return kiln_error_set_errno(a->err, -errno, "%s entry '%s'", a->what, h->name);
            char proc[64];
            (void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pathfd);
            k = setxattr(proc, x->name, x->value, x->len, 0);
        }
        if (k < 0 && !a->opts->archive && errno != ENOTSUP && !(errno == EPERM && !a->is_root))
            return kiln_error_set_errno(a->err, -errno, "%s entry '%s': set xattr '%s'", a->what,
                                        h->name, x->name);
    }
    return 0;
}

static int set_times(struct ap *a, const struct kiln_oci_tar_header *h, int pfd, const char *base)
{
    struct timespec ts[2] = {{h->mtime, h->mtime_nsec}, {h->mtime, h->mtime_nsec}};
    if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOTSUP)
        return kiln_error_set_errno(a->err, -errno, "%s entry '%s': set times", a->what, h->name);
    return 0;
}

/* Owner, xattrs, mode and mtime, in containerd's order (chown can clear setuid bits). */
static int set_metadata(struct ap *a, const struct kiln_oci_tar_header *h, const char *path,
                        int pfd, const char *base, int fd)
{
    struct stat st;
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(a->err, -errno, "%s entry '%s'", a->what, h->name);
    uid_t uid = a->opts->chown ? a->opts->uid : (uid_t)h->uid;
    gid_t gid = a->opts->chown ? a->opts->gid : (gid_t)h->gid;
    if (a->is_root && fchownat(pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(a->err, -errno, "%s entry '%s': chown %u:%u", a->what, h->name,
                                    (unsigned)uid, (unsigned)gid);
    if (S_ISLNK(st.st_mode))
        return set_times(a, h, pfd, base);
    _cleanup_close_ int dirfd = -1;
    if (S_ISDIR(st.st_mode) &&
        (dirfd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return kiln_error_set_errno(a->err, -errno, "%s entry '%s'", a->what, h->name);
    int r = set_xattrs(a, h, pfd, base, fd >= 0 ? fd : dirfd);
    if (r < 0)
        return r;
    if (fchmodat(pfd, base, h->mode & 07777, 0) < 0)
        return kiln_error_set_errno(a->err, -errno, "%s entry '%s': chmod", a->what, h->name);
    if (!S_ISDIR(st.st_mode))
        return set_times(a, h, pfd, base);
    r = remember(a, path);
    if (r < 0)
        return r;
    KILN_GROW(a->dirs, a->alloc_dirs, a->n_dirs + 1);
    a->dirs[a->n_dirs++] = (struct dir_time){kiln_xstrdup(path), h->mtime, h->mtime_nsec};
    return 0;
}

/* Removes what is at `base` unless a directory meets a directory. */
static int clear_place(struct ap *a, const struct kiln_oci_tar_header *h, int pfd, const char *base)
{
    struct stat st;
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT
                       ? 0
                       : kiln_error_set_errno(a->err, -errno, "%s entry '%s'", a->what, h->name);
    if (S_ISDIR(st.st_mode) && h->type == KILN_OCI_TAR_DIR)
        return 0;
    int r = kiln_oci_remove_at(pfd, base, a->err);
    return r < 0 ? kiln_error_wrap(a->err, r, "%s entry '%s'", a->what, h->name) : 0;
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
                                        "%s entry '%s': would replace the root", a->what, h->name);
    _cleanup_free_ char *copy = kiln_xstrdup(path);
    const char *base, *target = NULL, *dir = split_base(copy, &base);
    _cleanup_close_ int pfd = -1, fd = -1;
    r = make_parents(a, h->name, dir, &pfd);
    if (r < 0)
        return r;
    enum kiln_oci_whiteout_kind kind =
            a->opts->archive ? KILN_OCI_WHITEOUT_NONE : kiln_oci_whiteout_parse(base, &target);
    if (kind != KILN_OCI_WHITEOUT_NONE)
        return apply_whiteout(a, h, pfd, dir, kind, target);
    r = clear_place(a, h, pfd, base);
    if (r >= 0)
        r = make_entry(a, h, path, pfd, base, &fd);
    if (r >= 0)
        r = set_metadata(a, h, path, pfd, base, fd);
    if (r >= 0 && !a->opts->archive && (r = remember(a, path)) >= 0)
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
            return kiln_error_set_errno(a->err, fd < 0 ? fd : -errno, "%s entry '%s': set times",
                                        a->what, d->path);
    }
    return 0;
}

int kiln_oci_unpack(int rootfd, struct kiln_oci_tar_reader *tr,
                    const struct kiln_oci_unpack_opts *opts, uint64_t *ret_entries,
                    struct kiln_error **err)
{
    struct ap a = {
            .rootfd = rootfd,
            .opts = opts,
            .what = opts->archive ? "archive" : "layer",
            .is_root = geteuid() == 0,
            .tr = tr,
            .unpacked = KILN_OCI_PATHSET_INIT,
            .io = kiln_xmalloc(IO_CHUNK),
            .err = err,
    };
    const struct kiln_oci_tar_header *h;
    uint64_t n = 0;
    int r;
    while ((r = kiln_oci_tar_reader_next(tr, &h, err)) > 0 && (r = apply_entry(&a, h)) >= 0)
        n++;
    if (r >= 0)
        r = set_dir_times(&a);
    kiln_oci_pathset_release(&a.unpacked);
    for (size_t i = 0; i < a.n_dirs; i++)
        free(a.dirs[i].path);
    free(a.dirs);
    free(a.io);
    if (r < 0)
        return r;
    *ret_entries += n;
    return 0;
}

/* ---- layers ---- */

/* What kiln_oci_layer_apply() reads through: the blob and the tar, each counted and digested. */
struct layer_in {
    int fd;
    struct kiln_oci_digester blob_dg, tar_dg;
    uint64_t blob_size, tar_size;
    struct kiln_oci_decompressor *dec;
};

/* The blob as read from the fd: counted and digested. */
static ssize_t blob_read(void *userdata, void *buf, size_t len, struct kiln_error **err)
{
    struct layer_in *a = userdata;
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
    struct layer_in *a = userdata;
    ssize_t n = kiln_oci_decompressor_read(a->dec, buf, len, err);
    if (n > 0) {
        a->tar_size += (uint64_t)n;
        int r = kiln_oci_digester_update(&a->tar_dg, buf, (size_t)n, err);
        if (r < 0)
            return r;
    }
    return n;
}

static int apply_layer(struct layer_in *in, int rootfd, const struct kiln_oci_apply_opts *opts,
                       struct kiln_oci_apply_stats *ret, struct kiln_error **err)
{
    struct kiln_oci_tar_limits limits = {.max_bytes = opts->max_bytes,
                                         .max_entries = opts->max_entries};
    struct kiln_oci_unpack_opts uo = {.whiteouts = opts->whiteouts,
                                      .allow_devices = opts->allow_devices};
    struct kiln_oci_apply_stats s = {0};
    int r = kiln_oci_decompressor_new(blob_read, in, &in->dec, err);
    if (r < 0)
        return r;
    _cleanup_(kiln_oci_tar_reader_freep) struct kiln_oci_tar_reader *tr = NULL;
    kiln_oci_tar_reader_new(tar_read, in, &limits, &tr);
    r = kiln_oci_unpack(rootfd, tr, &uo, &s.entries, err);
    if (r >= 0)
        r = kiln_oci_digester_final(&in->tar_dg, s.diff_id, err);
    if (r >= 0)
        r = kiln_oci_digester_final(&in->blob_dg, s.digest, err);
    if (r < 0)
        return r;
    s.compression = kiln_oci_decompressor_kind(in->dec);
    s.size = in->blob_size;
    s.tar_size = in->tar_size;
    if (ret)
        *ret = s;
    return 0;
}

int kiln_oci_layer_apply(const char *root, int fd, const struct kiln_oci_apply_opts *opts,
                         struct kiln_oci_apply_stats *ret, struct kiln_error **err)
{
    static const struct kiln_oci_apply_opts defaults = {.whiteouts = KILN_OCI_WHITEOUT_REMOVE};
    struct layer_in in = {.fd = fd};
    _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = rootfd < 0 ? kiln_error_set_errno(err, -errno, "open '%s'", root) : 0;
    if (r >= 0)
        r = kiln_oci_digester_init(&in.blob_dg, KILN_OCI_SHA256, err);
    if (r >= 0)
        r = kiln_oci_digester_init(&in.tar_dg, KILN_OCI_SHA256, err);
    if (r >= 0)
        r = apply_layer(&in, rootfd, opts ? opts : &defaults, ret, err);
    kiln_oci_digester_release(&in.blob_dg);
    kiln_oci_digester_release(&in.tar_dg);
    kiln_oci_decompressor_free(in.dec);
    return r < 0 ? kiln_error_wrap(err, r, "apply layer to '%s'", root) : 0;
}
