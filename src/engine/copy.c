/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy.c - COPY and ADD: the selected sources written into the destination
 * root with BuildKit's rules (docs/internals/copy.md). Directories are made
 * in walk order, file contents are copied by a small pool of threads, and
 * directories get their final mode, owner and mtime last.
 */
#include "copy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/alloc.h"
#include "copy-private.h"
#include "passwd.h"

#include "base/banned.h"

struct dir_fixup {
    int parent; /* fd, owned */
    char *name;
    struct stat st;
};

struct hardlink {
    dev_t dev;
    ino_t ino;
    char *dest; /* relative to the destination root */
};

struct job {
    int in, out;
    uid_t uid;
    gid_t gid;
    bool chown; /* uid:gid differ from what the file was created with */
    mode_t mode;
    struct timespec times[2];
    char *rel;
};

/* File contents are copied by COPY_THREADS workers from a queue of COPY_QUEUE jobs. */
#define COPY_THREADS 2
#define COPY_QUEUE   64

struct copier {
    const struct kiln_vertex_copy *op;
    const struct kiln_copy_sel *sel;
    const char *dest_root;
    int droot;
    bool chown, reset_owner;
    bool unpack; /* ADD: extract local archives */
    uid_t euid;  /* who files are created as */
    gid_t egid;
    uint32_t uid, gid;
    struct dir_fixup *dirs; /* metadata of copied directories, set at the end */
    size_t n_dirs, alloc_dirs;
    struct hardlink *links;
    size_t n_links, alloc_links;
    /* the pool */
    pthread_mutex_t lock;
    pthread_cond_t more, room;
    struct job queue[COPY_QUEUE];
    size_t head, len;
    bool closing;
    int error;
    struct kiln_error *job_err;
    pthread_t threads[COPY_THREADS];
    size_t n_threads;
};

static void owner(const struct copier *c, const struct stat *st, uid_t *uid, gid_t *gid)
{
    *uid = c->chown ? c->uid : c->reset_owner ? 0 : st->st_uid;
    *gid = c->chown ? c->gid : c->reset_owner ? 0 : st->st_gid;
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

static int copy_bytes(int in, int out, const char *rel, struct kiln_error **err)
{
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, SSIZE_MAX, 0);
        if (n == 0)
            return 0;
        if (n > 0 || errno == EINTR)
            continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
            return kiln_error_set_errno(err, -errno, "cannot copy '/%s'", rel);
        break;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n == 0)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_error_set_errno(err, -errno, "cannot read '/%s'", rel);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno != EINTR)
                return kiln_error_set_errno(err, -errno, "cannot write '/%s'", rel);
            off += w > 0 ? w : 0;
        }
    }
}

/*
 * Copies the extended attributes of in to out, after the owner (a chown
 * clears security.capability). As BuildKit, an attribute that cannot be
 * read or set is skipped.
 */
static void copy_xattrs(int in, int out)
{
    char names[4096];
    ssize_t n = flistxattr(in, names, sizeof(names));
    if (n <= 0)
        return; /* none, or a list too long for the common case: skipped */
    static _Thread_local char value[XATTR_SIZE_MAX];
    for (ssize_t off = 0; off < n; off += (ssize_t)strlen(names + off) + 1) {
        ssize_t len = fgetxattr(in, names + off, value, sizeof(value));
        if (len >= 0)
            (void)fsetxattr(out, names + off, value, (size_t)len, 0);
    }
}

/* Fills a created file: bytes, owner, mode, xattrs, mtime. Closes both fds. */
static int run_job(struct job *j, struct kiln_error **err)
{
    int r = copy_bytes(j->in, j->out, j->rel, err);
    if (r >= 0 && ((j->chown && fchown(j->out, j->uid, j->gid) < 0) || fchmod(j->out, j->mode) < 0))
        r = kiln_error_set_errno(err, -errno, "cannot set the owner and mode of '/%s'", j->rel);
    if (r >= 0)
        copy_xattrs(j->in, j->out);
    if (r >= 0 && futimens(j->out, j->times) < 0)
        r = kiln_error_set_errno(err, -errno, "cannot set the times of '/%s'", j->rel);
    close(j->in);
    close(j->out);
    free(j->rel);
    return r;
}

static void drop_job(struct job *j)
{
    close(j->in);
    if (j->out >= 0)
        close(j->out);
    free(j->rel);
}

static void *worker(void *arg)
{
    struct copier *c = arg;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (c->len == 0 && !c->closing)
            pthread_cond_wait(&c->more, &c->lock);
        if (c->len == 0)
            break;
        struct job j = c->queue[c->head];
        c->head = (c->head + 1) % COPY_QUEUE;
        c->len--;
        pthread_cond_signal(&c->room);
        bool failed = c->error < 0;
        pthread_mutex_unlock(&c->lock);
        struct kiln_error *e = NULL;
        int r = 0;
        if (failed)
            drop_job(&j);
        else
            r = run_job(&j, &e);
        pthread_mutex_lock(&c->lock);
        if (r < 0 && c->error == 0) {
            c->error = r;
            c->job_err = e;
        } else {
            kiln_error_free(e);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static int submit(struct copier *c, struct job *j, struct kiln_error **err)
{
    if (c->n_threads == 0)
        return run_job(j, err);
    pthread_mutex_lock(&c->lock);
    while (c->len == COPY_QUEUE)
        pthread_cond_wait(&c->room, &c->lock);
    c->queue[(c->head + c->len++) % COPY_QUEUE] = *j;
    pthread_cond_signal(&c->more);
    int r = c->error;
    pthread_mutex_unlock(&c->lock);
    return r;
}

static void pool_start(struct copier *c)
{
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->more, NULL);
    pthread_cond_init(&c->room, NULL);
    for (size_t i = 0; i < COPY_THREADS; i++)
        if (pthread_create(&c->threads[c->n_threads], NULL, worker, c) == 0)
            c->n_threads++;
}

/* Waits for every queued job; returns r, or the first job's error when r is fine. */
static int pool_stop(struct copier *c, int r, struct kiln_error **err)
{
    pthread_mutex_lock(&c->lock);
    c->closing = true;
    pthread_cond_broadcast(&c->more);
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < c->n_threads; i++)
        pthread_join(c->threads[i], NULL);
    if (r >= 0 && c->error < 0) {
        r = c->error;
        if (err && !*err)
            *err = c->job_err;
        else
            kiln_error_free(c->job_err);
    } else {
        kiln_error_free(c->job_err);
    }
    pthread_cond_destroy(&c->more);
    pthread_cond_destroy(&c->room);
    pthread_mutex_destroy(&c->lock);
    return r;
}

/* Removes dst/name unless it is a directory and keep_dir (a directory merges into it). */
static void clear_target(int dst, const char *name, bool keep_dir)
{
    struct stat st;
    if (fstatat(dst, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return;
    if (!S_ISDIR(st.st_mode))
        unlinkat(dst, name, 0);
    else if (!keep_dir)
        unlinkat(dst, name, AT_REMOVEDIR);
}

struct where {
    const char *rel;   /* source, relative to the source root */
    const char *sub;   /* source, relative to the copied source (--exclude) */
    const char *dpath; /* destination, relative to the destination root */
    bool fresh;        /* the destination directory was made by this copy: empty, 0700, ours */
};

static int copy_entry(struct copier *c, int sdir, const char *sname, bool follow,
                      const struct where *w, int dst, const char *dname, unsigned depth,
                      struct kiln_error **err);

static int copy_children(struct copier *c, int sfd, const struct where *w, int dfd, bool fresh,
                         unsigned depth, struct kiln_error **err)
{
    if (depth > KILN_COPY_DEPTH_MAX)
        return kiln_error_set(err, KILN_E_LIMIT,
                              "'/%s' is nested deeper than %u directories: flatten it", w->rel,
                              KILN_COPY_DEPTH_MAX);
    _cleanup_strv_ struct kiln_strv names = KILN_STRV_INIT;
    int r = kiln_copy_list(c->sel, sfd, w->rel, w->sub, &names, err);
    for (size_t i = 0; r >= 0 && i < names.n; i++) {
        _cleanup_free_ char *rel = kiln_copy_join(w->rel, names.v[i]);
        _cleanup_free_ char *sub = kiln_copy_join(w->sub, names.v[i]);
        _cleanup_free_ char *dpath = kiln_copy_join(w->dpath, names.v[i]);
        struct where cw = {.rel = rel, .sub = sub, .dpath = dpath, .fresh = fresh};
        r = copy_entry(c, sfd, names.v[i], false, &cw, dfd, names.v[i], depth + 1, err);
    }
    return r;
}

static void remember_dir(struct copier *c, int dst, const char *dname, const struct stat *st)
{
    KILN_GROW(c->dirs, c->alloc_dirs, c->n_dirs + 1);
    c->dirs[c->n_dirs++] = (struct dir_fixup){
            .parent = fcntl(dst, F_DUPFD_CLOEXEC, 3), .name = kiln_xstrdup(dname), .st = *st};
}

static int copy_dir(struct copier *c, int sfd, const struct stat *st, const struct where *w,
                    int dst, const char *dname, unsigned depth, struct kiln_error **err)
{
    if (!w->fresh)
        clear_target(dst, dname, true);
    bool made = mkdirat(dst, dname, 0700) == 0;
    if (!made && errno != EEXIST)
        return kiln_error_set_errno(err, -errno, "cannot create directory '/%s'", w->dpath);
    int dfd = openat(dst, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open directory '/%s'", w->dpath);
    if (made)
        copy_xattrs(sfd, dfd); /* a directory's survive the chown made at the end */
    /* under a setgid directory a new one inherits the group and the bit: not plainly ours */
    struct stat dst_st;
    bool fresh = made && fstat(dfd, &dst_st) == 0 && !(dst_st.st_mode & S_ISGID) &&
                 dst_st.st_gid == c->egid;
    int r = copy_children(c, sfd, w, dfd, fresh, depth, err);
    close(dfd);
    if (r >= 0 && made)
        remember_dir(c, dst, dname, st); /* an existing directory keeps its metadata */
    return r;
}

/* A hard link to a file this copy already wrote, when st is one of its links. */
static int link_seen(struct copier *c, const struct stat *st, int dst, const char *dname,
                     const char *dpath, bool *ret_done, struct kiln_error **err)
{
    *ret_done = false;
    if (st->st_nlink < 2)
        return 0;
    for (size_t i = 0; i < c->n_links; i++) {
        const struct hardlink *l = &c->links[i];
        if (l->dev != st->st_dev || l->ino != st->st_ino)
            continue;
        int fd = kiln_copy_open_in_root(c->droot, l->dest, O_PATH | O_NOFOLLOW);
        if (fd < 0)
            break; /* overwritten since: copy the bytes again */
        clear_target(dst, dname, false);
        int r = linkat(fd, "", dst, dname, AT_EMPTY_PATH) < 0 ? -errno : 0;
        close(fd);
        if (r < 0)
            return kiln_error_set_errno(err, r, "cannot link '/%s' to '/%s'", dpath, l->dest);
        *ret_done = true;
        return 0;
    }
    KILN_GROW(c->links, c->alloc_links, c->n_links + 1);
    c->links[c->n_links++] =
            (struct hardlink){.dev = st->st_dev, .ino = st->st_ino, .dest = kiln_xstrdup(dpath)};
    return 0;
}

/* Creates the copy of the regular file open as `in` (taken: closed in every case). */
static int copy_file(struct copier *c, int in, const struct stat *st, const struct where *w,
                     int dst, const char *dname, struct kiln_error **err)
{
    bool linked;
    struct job j = {.in = in, .out = -1, .times = {st->st_atim, st->st_mtim}};
    int r = link_seen(c, st, dst, dname, w->dpath, &linked, err);
    if (r < 0 || linked) {
        close(in);
        return r;
    }
    if (!w->fresh)
        clear_target(dst, dname, false);
    j.out = openat(dst, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (j.out < 0) {
        r = kiln_error_set_errno(err, -errno, "cannot create '/%s'", w->dpath);
        close(in);
        return r;
    }
    owner(c, st, &j.uid, &j.gid);
    /* a file made in a directory of ours already belongs to us (no setgid yet) */
    j.chown = !w->fresh || j.uid != c->euid || j.gid != c->egid;
    r = mode_of(c, st, &j.mode, err);
    if (r < 0) {
        drop_job(&j);
        return r;
    }
    j.rel = kiln_xstrdup(w->rel);
    return submit(c, &j, err);
}

static int copy_special(struct copier *c, int sdir, const char *sname, const struct stat *st,
                        const struct where *w, int dst, const char *dname, struct kiln_error **err)
{
    if (!S_ISLNK(st->st_mode) && c->reset_owner)
        return kiln_error_set(err, KILN_E_INVALID,
                              "'/%s' in the build context is a device, fifo or socket: "
                              "exclude it in .dockerignore",
                              w->rel);
    if (S_ISSOCK(st->st_mode))
        return 0; /* sockets are not copied */
    uid_t uid;
    gid_t gid;
    owner(c, st, &uid, &gid);
    clear_target(dst, dname, false);
    if (S_ISLNK(st->st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(sdir, sname, target, sizeof(target) - 1);
        if (n < 0)
            return kiln_error_set_errno(err, -errno, "cannot read link '/%s'", w->rel);
        target[n] = '\0';
        if (symlinkat(target, dst, dname) < 0)
            return kiln_error_set_errno(err, -errno, "cannot create link '/%s'", w->dpath);
    } else if (mknodat(dst, dname, st->st_mode, st->st_rdev) < 0) {
        return kiln_error_set_errno(err, -errno, "cannot create '/%s'", w->dpath);
    }
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    if (fchownat(dst, dname, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
        utimensat(dst, dname, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(err, -errno, "cannot set the owner of '/%s'", w->dpath);
    return 0;
}

/*
 * Copies source entry sname in sdir (follow: the source path itself,
 * w->rel, resolved inside the source root with its symlinks followed) to
 * dname in dst.
 */
/*
 * Opens source entry sname in sdir, or with follow the source path rel
 * resolved inside the source root with its symlinks followed, for reading
 * when it is a file or a directory; other types (links, devices, fifos) are
 * never opened, only stat'ed. Returns the fd (-1 for other types) or -errno.
 */
static int open_source(const struct copier *c, int sdir, const char *sname, bool follow,
                       const char *rel, struct stat *st)
{
    int fd = follow ? kiln_copy_open_in_root(c->sel->root, rel, O_PATH)
                    : (fstatat(sdir, sname, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : -1);
    if (follow && fd >= 0) {
        int r = fstat(fd, st) < 0 ? -errno : 0;
        close(fd);
        if (r < 0)
            return r;
    } else if (fd < -1) {
        return fd;
    }
    if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
        return -1;
    int flags = O_RDONLY | O_NONBLOCK | (S_ISDIR(st->st_mode) ? O_DIRECTORY : 0);
    fd = follow ? kiln_copy_open_in_root(c->sel->root, rel, flags)
                : openat(sdir, sname, flags | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return follow ? fd : -errno;
    struct stat again;
    if (fstat(fd, &again) < 0 || again.st_dev != st->st_dev || again.st_ino != st->st_ino) {
        close(fd);
        return -EAGAIN; /* replaced while we looked */
    }
    return fd;
}

/*
 * Copies source entry sname in sdir (follow: the source path itself,
 * w->rel, resolved inside the source root with its symlinks followed) to
 * dname in dst.
 */
static int copy_entry(struct copier *c, int sdir, const char *sname, bool follow,
                      const struct where *w, int dst, const char *dname, unsigned depth,
                      struct kiln_error **err)
{
    struct stat st;
    int fd = open_source(c, sdir, sname, follow, w->rel, &st);
    if (fd < -1)
        return kiln_error_set_errno(err, fd, "cannot open '/%s'", w->rel);
    int r;
    if (S_ISDIR(st.st_mode))
        r = copy_dir(c, fd, &st, w, dst, dname, depth, err);
    else if (S_ISREG(st.st_mode))
        r = copy_file(c, TAKE_FD(fd), &st, w, dst, dname, err);
    else
        r = copy_special(c, sdir, sname, &st, w, dst, dname, err);
    if (fd >= 0)
        close(fd);
    return r;
}

/*
 * Opens directory `path` (relative) inside the destination root, creating
 * it and its missing parents 0755 (an octal --chmod's mode) with the
 * --chown owner (else 0:0), as fsutil's MkdirAll.
 */
static int open_dest_dir(struct copier *c, const char *path, struct kiln_error **err)
{
    int fd = kiln_copy_open_in_root(c->droot, path, O_RDONLY | O_DIRECTORY);
    if (fd >= 0)
        return fd;
    if (fd != -ENOENT)
        return kiln_error_set_errno(err, fd, "cannot use '/%s' as a directory in the image", path);
    const char *slash = strrchr(path, '/');
    _cleanup_free_ char *parent = kiln_xstrndup(path, slash ? (size_t)(slash - path) : 0);
    const char *name = slash ? slash + 1 : path;
    int pfd = open_dest_dir(c, parent, err);
    if (pfd < 0)
        return pfd;
    mode_t mode = 0755;
    if (c->op->chmod)
        (void)kiln_copy_chmod(c->op->chmod, S_IFDIR | 0755, &mode, NULL);
    if (c->op->chmod && strspn(c->op->chmod, "01234567") != strlen(c->op->chmod))
        mode = 0755; /* only an octal mode applies to the parents */
    fd = kiln_copy_mkdir_at(pfd, name, mode, c->chown ? c->uid : 0, c->chown ? c->gid : 0);
    close(pfd);
    if (fd == -EEXIST)
        return kiln_error_set(err, KILN_E_INVALID,
                              "cannot create directory '/%s': a symbolic link to a missing "
                              "directory is in the way; create its target first",
                              path);
    return fd >= 0 ? fd : kiln_error_set_errno(err, fd, "cannot create directory '/%s'", path);
}

static bool is_dir_in(int root, const char *path)
{
    struct stat st;
    int fd = kiln_copy_open_in_root(root, path, O_PATH);
    bool dir = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    if (fd >= 0)
        close(fd);
    return dir;
}

/* op->dest without its trailing '/' and without the leading '/' ("" for the root). */
static char *dest_base(const struct kiln_vertex_copy *op, bool *ret_is_dir)
{
    const char *d = op->dest;
    while (*d == '/')
        d++;
    size_t n = strlen(d);
    *ret_is_dir = op->dest[strlen(op->dest) - 1] == '/';
    while (n && d[n - 1] == '/')
        n--;
    return kiln_xstrndup(d, n);
}

/*
 * --parents: the directories of `keep` below the destination d that do not
 * exist yet are made with the metadata of their source directories (rel
 * ends with keep), as BuildKit's copy of the path's parents does.
 */
static int make_kept_parents(struct copier *c, const char *rel, const char *keep, const char *d,
                             struct kiln_error **err)
{
    size_t prefix = strlen(rel) - strlen(keep);
    for (const char *s = strchr(keep, '/'); s; s = strchr(s + 1, '/')) {
        _cleanup_free_ char *part = kiln_xstrndup(keep, (size_t)(s - keep));
        _cleanup_free_ char *dst = kiln_copy_join(d, part);
        if (is_dir_in(c->droot, dst))
            continue;
        _cleanup_free_ char *src = kiln_xstrndup(rel, prefix + (size_t)(s - keep));
        struct stat st;
        int fd = kiln_copy_open_in_root(c->sel->root, src, O_PATH);
        int r = fd < 0 ? fd : fstat(fd, &st) < 0 ? -errno : 0;
        if (fd >= 0)
            close(fd);
        if (r < 0)
            return kiln_error_set_errno(err, r, "cannot stat '/%s'", src);
        const char *slash = strrchr(dst, '/');
        _cleanup_free_ char *parent = kiln_xstrndup(dst, slash ? (size_t)(slash - dst) : 0);
        const char *name = slash ? slash + 1 : dst;
        int pfd = open_dest_dir(c, parent, err);
        if (pfd < 0)
            return pfd;
        if (mkdirat(pfd, name, 0700) == 0)
            remember_dir(c, pfd, name, &st);
        else
            r = kiln_error_set_errno(err, -errno, "cannot create directory '/%s'", dst);
        close(pfd);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Copies one selected source (rel, kept as `keep` with --parents) into the destination. */
static int copy_match(struct copier *c, const char *rel, const char *keep, struct kiln_error **err)
{
    bool dest_dir;
    _cleanup_free_ char *d = dest_base(c->op, &dest_dir);
    bool src_dir = is_dir_in(c->sel->root, rel);
    const char *name = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    _cleanup_free_ char *target = NULL;
    if (c->op->parents && *keep)
        target = kiln_copy_join(d, keep); /* the source's path is kept below dest */
    else if (!src_dir && (dest_dir || is_dir_in(c->droot, d)))
        target = kiln_copy_join(d, name); /* a file goes inside a directory */
    else
        target = kiln_xstrdup(d); /* a directory's contents go into it; a file is it */
    const char *slash = strrchr(target, '/');
    _cleanup_free_ char *parent = kiln_xstrndup(target, slash ? (size_t)(slash - target) : 0);
    const char *leaf = !*target ? "." : slash ? slash + 1 : target;
    bool unpacked = false;
    int r = 0;
    if (c->unpack && !src_dir) {
        const uint32_t ids[2] = {c->uid, c->gid};
        _cleanup_free_ char *abs = kiln_xasprintf("/%s", d);
        r = kiln_copy_unpack(c->sel->root, rel, c->dest_root, abs, c->chown ? ids : NULL, &unpacked,
                             err);
    }
    if (r >= 0 && c->op->parents && *keep)
        r = make_kept_parents(c, rel, keep, d, err);
    if (r < 0 || unpacked)
        return r;
    int pfd = open_dest_dir(c, parent, err);
    if (pfd < 0)
        return pfd;
    struct where w = {.rel = rel, .sub = "", .dpath = target};
    r = copy_entry(c, c->sel->root, rel, true, &w, pfd, leaf, 0, err);
    close(pfd);
    return r;
}

static int finish_dirs(struct copier *c, int r, struct kiln_error **err)
{
    for (size_t i = c->n_dirs; i-- > 0;) {
        struct dir_fixup *f = &c->dirs[i];
        uid_t uid;
        gid_t gid;
        mode_t mode = 0;
        owner(c, &f->st, &uid, &gid);
        if (r >= 0)
            r = mode_of(c, &f->st, &mode, err);
        struct timespec ts[2] = {f->st.st_atim, f->st.st_mtim};
        /* through the directory's own fd: a link put in its place since is left alone */
        int fd =
                r >= 0 ? openat(f->parent, f->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                       : -1;
        if (fd >= 0 && (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0 || futimens(fd, ts) < 0))
            r = kiln_error_set_errno(err, -errno, "cannot set the owner and mode of '%s'", f->name);
        if (fd >= 0)
            close(fd);
        close(f->parent);
        free(f->name);
    }
    free(c->dirs);
    c->dirs = NULL;
    c->n_dirs = c->alloc_dirs = 0;
    for (size_t i = 0; i < c->n_links; i++)
        free(c->links[i].dest);
    free(c->links);
    c->links = NULL;
    c->n_links = c->alloc_links = 0;
    return r;
}

/* A heredoc file: 0644 (or --chmod), 0:0 (or --chown). */
static int write_inline(struct copier *c, const struct kiln_inline_file *f, struct kiln_error **err)
{
    bool dest_dir;
    _cleanup_free_ char *d = dest_base(c->op, &dest_dir);
    _cleanup_free_ char *target =
            dest_dir || is_dir_in(c->droot, d) ? kiln_copy_join(d, f->name) : kiln_xstrdup(d);
    const char *slash = strrchr(target, '/');
    _cleanup_free_ char *parent = kiln_xstrndup(target, slash ? (size_t)(slash - target) : 0);
    const char *name = slash ? slash + 1 : target;
    mode_t mode = 0644;
    int r = c->op->chmod ? kiln_copy_chmod(c->op->chmod, S_IFREG | 0644, &mode, err) : 0;
    int pfd = r < 0 ? r : open_dest_dir(c, parent, err);
    if (pfd < 0)
        return pfd;
    clear_target(pfd, name, false);
    int fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    close(pfd);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot create '/%s'", target);
    size_t len = strlen(f->data);
    if (write(fd, f->data, len) != (ssize_t)len ||
        fchown(fd, c->chown ? c->uid : 0, c->chown ? c->gid : 0) < 0 || fchmod(fd, mode) < 0)
        r = kiln_error_set_errno(err, -errno, "cannot write '/%s'", target);
    close(fd);
    return r;
}

/* Copies the selected local sources of op from c->sel. */
static int copy_local(struct copier *c, struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv matches = KILN_STRV_INIT;
    _cleanup_strv_ struct kiln_strv keep = KILN_STRV_INIT;
    int r = kiln_copy_select(c->sel, c->op, &matches, &keep, err);
    for (size_t i = 0; r >= 0 && i < matches.n; i++)
        r = copy_match(c, matches.v[i], keep.v[i], err);
    return r;
}

/* ADD <url>: the downloaded file, 0:0 unless --chown, extracted only with --unpack=true. */
static int copy_url(struct copier *c, const char *url, const char *tmp_dir, struct kiln_error **err)
{
    _cleanup_free_ char *dir = NULL, *name = NULL;
    int r = kiln_copy_url_fetch(url, c->op->checksum, tmp_dir, &dir, &name, err);
    if (r < 0)
        return r;
    struct kiln_copy_src src = {.root = dir, .reset_owner = true};
    struct kiln_copy_sel sel;
    const struct kiln_vertex_copy plain = {.dest = c->op->dest, .chmod = c->op->chmod};
    r = kiln_copy_sel_init(&sel, &plain, &src, err);
    if (r >= 0) {
        const struct kiln_copy_sel *local = c->sel;
        bool reset = c->reset_owner, unpack = c->unpack;
        c->sel = &sel;
        c->reset_owner = true;
        c->unpack = c->op->unpack == KILN_DF_TRUE;
        r = copy_match(c, name, "", err);
        c->sel = local;
        c->reset_owner = reset;
        c->unpack = unpack;
    }
    kiln_copy_sel_release(&sel);
    return r;
}

int kiln_copy_apply(const struct kiln_vertex_copy *op, const struct kiln_copy_src *src,
                    const char *dest_root, const char *tmp_dir, struct kiln_error **err)
{
    struct copier c = {.op = op,
                       .dest_root = dest_root,
                       .reset_owner = src && src->reset_owner,
                       .unpack = op->add && op->unpack != KILN_DF_FALSE,
                       .euid = geteuid(),
                       .egid = getegid()};
    int r = 0;
    if (op->chown) {
        c.chown = true;
        r = kiln_passwd_resolve(dest_root, op->chown, true, &c.uid, &c.gid, NULL, NULL, err);
        if (r < 0)
            return r;
    }
    c.droot = open(dest_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c.droot < 0)
        return kiln_error_set_errno(err, -errno, "cannot open '%s'", dest_root);
    for (size_t i = 0; r >= 0 && i < op->n_inline_files; i++)
        r = write_inline(&c, &op->inline_files[i], err);
    pool_start(&c);
    struct kiln_copy_sel sel = {.root = -1};
    if (r >= 0 && src) {
        r = kiln_copy_sel_init(&sel, op, src, err);
        c.sel = &sel;
        if (r >= 0)
            r = copy_local(&c, err);
    }
    for (size_t i = 0; r >= 0 && i < op->sources.n; i++)
        if (kiln_copy_is_url(op->sources.v[i]))
            r = copy_url(&c, op->sources.v[i], tmp_dir, err);
    r = pool_stop(&c, r, err);
    r = finish_dirs(&c, r, err);
    kiln_copy_sel_release(&sel);
    close(c.droot);
    return r;
}
