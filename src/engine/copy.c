/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy.c - COPY and ADD: the selected sources written into the destination
 * root, and the digest of what they read (docs/internals/copy.md).
 */
#include "copy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/fsroot.h"
#include "copy-private.h"
#include "oci/unpack.h"
#include "passwd.h"

#include "base/banned.h"

#define COPY_CHUNK (1u << 20)
/* Directories nested deeper than this in a source are refused. */
#define COPY_DEPTH_MAX 512u

struct dir_fixup {
    int parent; /* fd, owned */
    char *name;
    struct stat st;
};

struct copier {
    const struct kiln_vertex_copy *op;
    const char *dest_root; /* its path, for archive extraction */
    bool from_url;         /* copying a download */
    const struct kiln_copy_src *src;
    struct kiln_copy_walk walk;
    int src_root;
    bool chown;
    uint32_t uid, gid;
    struct dir_fixup *dirs; /* metadata of copied directories, set at the end */
    size_t n_dirs, alloc_dirs;
};

static int owner(const struct copier *c, const struct stat *st, uid_t *uid, gid_t *gid)
{
    if (c->chown) {
        *uid = c->uid;
        *gid = c->gid;
    } else if (c->src && c->src->reset_owner) {
        *uid = 0;
        *gid = 0;
    } else {
        *uid = st->st_uid;
        *gid = st->st_gid;
    }
    return 0;
}

static int mode_of(const struct copier *c, const struct stat *st, mode_t *ret,
                   struct kiln_error **err)
{
    if (!c->op->chmod) {
        *ret = st->st_mode & 07777;
        return 0;
    }
    return kiln_copy_chmod(c->op->chmod, st->st_mode, ret, err);
}

static int copy_bytes(int in, int out, const char *what, struct kiln_error **err)
{
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, COPY_CHUNK, 0);
        if (n == 0)
            return 0;
        if (n > 0)
            continue;
        if (errno == EINTR)
            continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
            return kiln_error_set_errno(err, -errno, "cannot copy %s", what);
        break;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return kiln_error_set_errno(err, -errno, "cannot read %s", what);
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return kiln_error_set_errno(err, -errno, "cannot write %s", what);
            }
            off += w;
        }
    }
}

/* Removes dst/name unless it is a directory (which a directory merges into). */
static void clear_target(int dst, const char *name, bool keep_dir)
{
    struct stat st;
    if (fstatat(dst, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        if (!keep_dir)
            unlinkat(dst, name, AT_REMOVEDIR);
        return;
    }
    unlinkat(dst, name, 0);
}

static int set_times(int dst, const char *name, const struct stat *st)
{
    struct timespec ts[2] = {st->st_mtim, st->st_mtim};
    return utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW);
}

static int copy_entry(struct copier *c, int sdir, const char *sname, bool follow, const char *rel,
                      int dst, const char *dname, unsigned depth, struct kiln_error **err);

static int copy_children(struct copier *c, int sfd, const char *rel, int dfd, unsigned depth,
                         struct kiln_error **err)
{
    if (depth > COPY_DEPTH_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "'/%s' is nested deeper than %u directories", rel,
                              COPY_DEPTH_MAX);
    _cleanup_strv_ struct kiln_strv names = KILN_STRV_INIT;
    int r = kiln_copy_list(sfd, &c->walk, rel, &names, err);
    for (size_t i = 0; r >= 0 && i < names.n; i++) {
        _cleanup_free_ char *child = kiln_copy_join(rel, names.v[i]);
        r = copy_entry(c, sfd, names.v[i], false, child, dfd, names.v[i], depth + 1, err);
    }
    return r;
}

static int copy_dir(struct copier *c, int sfd, const struct stat *st, const char *rel, int dst,
                    const char *dname, unsigned depth, struct kiln_error **err)
{
    clear_target(dst, dname, true);
    if (mkdirat(dst, dname, 0700) < 0 && errno != EEXIST)
        return kiln_error_set_errno(err, -errno, "cannot create directory '%s'", dname);
    int dfd = openat(dst, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open directory '%s'", dname);
    int r = copy_children(c, sfd, rel, dfd, depth, err);
    close(dfd);
    if (r < 0)
        return r;
    KILN_GROW(c->dirs, c->alloc_dirs, c->n_dirs + 1);
    c->dirs[c->n_dirs++] =
            (struct dir_fixup){.parent = dup(dst), .name = kiln_xstrdup(dname), .st = *st};
    return 0;
}

static int copy_file(struct copier *c, int sfd, const struct stat *st, const char *rel, int dst,
                     const char *dname, struct kiln_error **err)
{
    clear_target(dst, dname, false);
    int out = openat(dst, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", dname);
    _cleanup_free_ char *what = kiln_xasprintf("'/%s'", rel);
    int r = copy_bytes(sfd, out, what, err);
    uid_t uid;
    gid_t gid;
    mode_t mode = 0;
    owner(c, st, &uid, &gid);
    if (r >= 0)
        r = mode_of(c, st, &mode, err);
    if (r >= 0 && (fchown(out, uid, gid) < 0 || fchmod(out, mode) < 0))
        r = kiln_error_set_errno(err, -errno, "cannot set the owner and mode of '%s'", dname);
    struct timespec ts[2] = {st->st_mtim, st->st_mtim};
    if (r >= 0 && futimens(out, ts) < 0)
        r = kiln_error_set_errno(err, -errno, "cannot set the times of '%s'", dname);
    close(out);
    return r;
}

static int copy_special(struct copier *c, int sdir, const char *sname, const struct stat *st,
                        const char *rel, int dst, const char *dname, struct kiln_error **err)
{
    uid_t uid;
    gid_t gid;
    owner(c, st, &uid, &gid);
    clear_target(dst, dname, false);
    if (S_ISLNK(st->st_mode)) {
        char target[4096];
        ssize_t n = readlinkat(sdir, sname, target, sizeof(target) - 1);
        if (n < 0)
            return kiln_error_set_errno(err, -errno, "cannot read link '/%s'", rel);
        target[n] = '\0';
        if (symlinkat(target, dst, dname) < 0)
            return kiln_error_set_errno(err, -errno, "cannot create link '%s'", dname);
    } else if (c->src && c->src->reset_owner) {
        return kiln_error_set(err, KILN_E_INVALID,
                              "'/%s' in the build context is a device, fifo or socket: "
                              "exclude it in .dockerignore",
                              rel);
    } else if (S_ISSOCK(st->st_mode)) {
        return 0; /* sockets are not copied */
    } else if (mknodat(dst, dname, st->st_mode, st->st_rdev) < 0) {
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", dname);
    }
    if (fchownat(dst, dname, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 || set_times(dst, dname, st) < 0)
        return kiln_error_set_errno(err, -errno, "cannot set the owner of '%s'", dname);
    return 0;
}

/*
 * Copies source entry sname in sdir (follow: the source path itself, resolved
 * in the source root with symlinks followed) to dname in dst.
 */
static int copy_entry(struct copier *c, int sdir, const char *sname, bool follow, const char *rel,
                      int dst, const char *dname, unsigned depth, struct kiln_error **err)
{
    int pfd = follow ? kiln_fsroot_open(c->src_root, rel, O_PATH, 0)
                     : openat(sdir, sname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (pfd < 0)
        return kiln_error_set_errno(err, follow ? pfd : -errno, "cannot open '/%s'", rel);
    struct stat st;
    int r = 0;
    if (fstat(pfd, &st) < 0) {
        r = kiln_error_set_errno(err, -errno, "cannot stat '/%s'", rel);
    } else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
        int fd = openat(pfd, ".", O_RDONLY | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
        if (fd < 0 && S_ISREG(st.st_mode)) {
            char proc[64];
            snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
            fd = open(proc, O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0)
            r = kiln_error_set_errno(err, -errno, "cannot open '/%s'", rel);
        else if (S_ISDIR(st.st_mode))
            r = copy_dir(c, fd, &st, rel, dst, dname, depth, err);
        else
            r = copy_file(c, fd, &st, rel, dst, dname, err);
        if (fd >= 0)
            close(fd);
    } else {
        r = copy_special(c, sdir, sname, &st, rel, dst, dname, err);
    }
    close(pfd);
    return r;
}

/* Opens (creating with the copy's owner, 0755) directory `path` inside dest root. */
static int open_dest_dir(struct copier *c, int root, const char *path, struct kiln_error **err)
{
    int fd = kiln_fsroot_open(root, path, O_RDONLY | O_DIRECTORY, 0);
    if (fd >= 0 || fd != -ENOENT)
        return fd >= 0 ? fd
                       : kiln_error_set_errno(err, fd, "destination '%s' is not a directory", path);
    const char *slash = strrchr(path, '/');
    _cleanup_free_ char *parent = kiln_xstrndup(path, slash ? (size_t)(slash - path) : 0);
    const char *name = slash ? slash + 1 : path;
    int pfd = open_dest_dir(c, root, parent, err);
    if (pfd < 0)
        return pfd;
    uid_t uid = c->chown ? c->uid : 0;
    gid_t gid = c->chown ? c->gid : 0;
    if ((mkdirat(pfd, name, 0755) < 0 && errno != EEXIST) ||
        fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
        int r = -errno;
        close(pfd);
        return kiln_error_set_errno(err, r, "cannot create directory '/%s'", path);
    }
    fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(pfd);
    return fd >= 0 ? fd : kiln_error_set_errno(err, -errno, "cannot open '/%s'", path);
}

static bool is_dir_in(int root, const char *path)
{
    int fd = kiln_fsroot_open(root, path, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* Where match `rel` goes: a directory (its contents, or it inside) or a file path. */
/*
 * ADD of a local archive (by content, unless --unpack=false): extracted into
 * the destination directory. Returns 1 when it was one, 0 when not.
 */
static int unpack_archive(struct copier *c, const char *rel, struct kiln_error **err)
{
    if (!c->op->add || c->op->unpack == KILN_DF_FALSE || !c->dest_root ||
        (c->from_url && c->op->unpack != KILN_DF_TRUE))
        return 0; /* a download is kept as it is unless --unpack=true */
    int fd = kiln_fsroot_open(c->src_root, rel, O_RDONLY, 0);
    if (fd < 0)
        return 0; /* not a file we can read: the copy reports it */
    struct stat st;
    bool archive = false;
    int r = fstat(fd, &st) < 0 ? -errno : 0;
    if (r == 0 && S_ISREG(st.st_mode))
        r = kiln_oci_archive_detect(fd, &archive, err);
    if (r >= 0 && archive) {
        struct kiln_oci_archive_opts o = {.chown = c->chown, .uid = c->uid, .gid = c->gid};
        r = kiln_oci_archive_extract(fd, c->dest_root, c->op->dest, &o, err);
        if (r < 0)
            kiln_error_wrap(err, r, "ADD %s", rel);
    }
    close(fd);
    return r < 0 ? r : archive;
}

static int copy_match(struct copier *c, int dest_root, const char *rel, struct kiln_error **err)
{
    int u = unpack_archive(c, rel, err);
    if (u != 0)
        return u < 0 ? u : 0;
    const char *dest = c->op->dest;
    size_t n = strlen(dest);
    bool dest_dir = n && dest[n - 1] == '/';
    _cleanup_free_ char *d = kiln_xstrndup(dest, dest_dir && n > 1 ? n - 1 : n);
    dest_dir = dest_dir || is_dir_in(dest_root, d);
    bool src_dir = is_dir_in(c->src_root, rel);
    const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    _cleanup_free_ char *target = src_dir    ? kiln_xstrdup(d)
                                  : dest_dir ? kiln_copy_join(strcmp(d, "/") ? d : "", base)
                                             : kiln_xstrdup(d);
    const char *slash = strrchr(target, '/');
    _cleanup_free_ char *parent =
            src_dir ? kiln_xstrdup(target)
                    : kiln_xstrndup(target, slash ? (size_t)(slash - target) : 0);
    int pfd = open_dest_dir(c, dest_root, parent, err);
    if (pfd < 0)
        return pfd;
    int r;
    if (src_dir) {
        int sfd = kiln_fsroot_open(c->src_root, rel, O_RDONLY | O_DIRECTORY, 0);
        r = sfd < 0 ? kiln_error_set_errno(err, sfd, "cannot open '/%s'", rel)
                    : copy_children(c, sfd, rel, pfd, 0, err);
        if (sfd >= 0)
            close(sfd);
    } else {
        r = copy_entry(c, c->src_root, rel, true, rel, pfd, slash ? slash + 1 : target, 0, err);
    }
    close(pfd);
    return r;
}

static int write_inline(struct copier *c, int dest_root, const struct kiln_inline_file *f,
                        struct kiln_error **err)
{
    const char *dest = c->op->dest;
    size_t n = strlen(dest);
    _cleanup_free_ char *d = kiln_xstrndup(dest, n > 1 && dest[n - 1] == '/' ? n - 1 : n);
    bool dir = dest[n - 1] == '/' || is_dir_in(dest_root, d);
    _cleanup_free_ char *target =
            dir ? kiln_copy_join(strcmp(d, "/") ? d : "", f->name) : kiln_xstrdup(d);
    const char *slash = strrchr(target, '/');
    _cleanup_free_ char *parent = kiln_xstrndup(target, slash ? (size_t)(slash - target) : 0);
    int pfd = open_dest_dir(c, dest_root, parent, err);
    if (pfd < 0)
        return pfd;
    const char *name = slash ? slash + 1 : target;
    clear_target(pfd, name, false);
    int fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    int r = 0;
    if (fd < 0)
        r = kiln_error_set_errno(err, -errno, "cannot create '%s'", target);
    size_t len = strlen(f->data);
    if (r >= 0 && write(fd, f->data, len) != (ssize_t)len)
        r = kiln_error_set_errno(err, -errno, "cannot write '%s'", target);
    struct stat st = {.st_mode = S_IFREG | 0644};
    mode_t mode = 0644;
    if (r >= 0 && c->op->chmod)
        r = kiln_copy_chmod(c->op->chmod, st.st_mode, &mode, err);
    if (r >= 0 &&
        (fchmod(fd, mode) < 0 || fchown(fd, c->chown ? c->uid : 0, c->chown ? c->gid : 0) < 0))
        r = kiln_error_set_errno(err, -errno, "cannot set the mode of '%s'", target);
    if (fd >= 0)
        close(fd);
    close(pfd);
    return r;
}

static int finish_dirs(struct copier *c, int r, struct kiln_error **err)
{
    for (size_t i = c->n_dirs; i-- > 0;) {
        struct dir_fixup *f = &c->dirs[i];
        uid_t uid;
        gid_t gid;
        mode_t mode = f->st.st_mode & 07777;
        owner(c, &f->st, &uid, &gid);
        if (r >= 0)
            r = mode_of(c, &f->st, &mode, err);
        if (r >= 0 && (fchownat(f->parent, f->name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                       fchmodat(f->parent, f->name, mode, 0) < 0 ||
                       set_times(f->parent, f->name, &f->st) < 0))
            r = kiln_error_set_errno(err, -errno, "cannot set the owner of '%s'", f->name);
        close(f->parent);
        free(f->name);
    }
    free(c->dirs);
    return r;
}

/* ADD's URL sources, downloaded into tmp_dir, copied as 0:0 files. */
static int copy_urls(struct copier *c, int droot, const char *tmp_dir, struct kiln_error **err)
{
    int r = 0;
    for (size_t i = 0; r >= 0 && i < c->op->sources.n; i++) {
        if (!c->op->add || !kiln_copy_is_url(c->op->sources.v[i]))
            continue;
        _cleanup_free_ char *rel = NULL;
        char digest[KILN_OCI_DIGEST_MAX];
        r = kiln_copy_fetch(c->op->sources.v[i], tmp_dir, c->op->checksum, &rel, digest, err);
        if (r < 0)
            break;
        int troot = open(tmp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (troot < 0)
            return kiln_error_set_errno(err, -errno, "cannot open '%s'", tmp_dir);
        struct kiln_copy_src tsrc = {.root = tmp_dir, .reset_owner = true};
        const struct kiln_copy_src *saved = c->src;
        int saved_root = c->src_root;
        c->src = &tsrc;
        c->src_root = troot;
        c->walk = (struct kiln_copy_walk){.src = &tsrc};
        c->from_url = true;
        r = copy_match(c, droot, rel, err);
        c->from_url = false;
        c->src = saved;
        c->src_root = saved_root;
        close(troot);
    }
    return r;
}

int kiln_copy_apply(const struct kiln_vertex_copy *op, const struct kiln_copy_src *src,
                    const char *dest_root, const char *tmp_dir, struct kiln_error **err)
{
    struct copier c = {.op = op, .src = src, .src_root = -1, .dest_root = dest_root};
    int r = 0;
    if (op->chown) {
        c.chown = true;
        r = kiln_passwd_resolve(dest_root, op->chown, true, &c.uid, &c.gid, NULL, NULL, err);
        if (r < 0)
            return r;
    }
    int droot = open(dest_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (droot < 0)
        return kiln_error_set_errno(err, -errno, "cannot open '%s'", dest_root);
    if (!src) {
        for (size_t i = 0; r >= 0 && i < op->n_inline_files; i++)
            r = write_inline(&c, droot, &op->inline_files[i], err);
        close(droot);
        return r;
    }
    c.src_root = open(src->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c.src_root < 0) {
        r = kiln_error_set_errno(err, -errno, "cannot open '%s'", src->root);
        close(droot);
        return r;
    }
    _cleanup_strv_ struct kiln_strv matches = KILN_STRV_INIT;
    struct kiln_ignore *exclude = NULL;
    r = kiln_copy_excludes(op, &exclude, err);
    if (r >= 0)
        r = kiln_copy_select(op, src, c.src_root, &matches, err);
    for (size_t i = 0; r >= 0 && i < matches.n; i++) {
        size_t n = strlen(matches.v[i]);
        c.walk = (struct kiln_copy_walk){.src = src, .exclude = exclude, .strip = n ? n + 1 : 0};
        r = copy_match(&c, droot, matches.v[i], err);
    }
    kiln_ignore_free(exclude);
    if (r >= 0)
        r = copy_urls(&c, droot, tmp_dir, err);
    r = finish_dirs(&c, r, err);
    close(c.src_root);
    close(droot);
    return r;
}
