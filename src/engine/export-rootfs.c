/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export-rootfs.c - reading a root filesystem for the filesystem outputs
 * (a walk in fsutil's order that never follows a symlink, with hard links
 * and xattrs), and type=local: the tree written into a directory as
 * BuildKit's client (fsutil's DiskWriter) writes it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/path.h"
#include "export.h"
#include "oci/tar.h"
#include "oci/whiteout.h"

#include "base/banned.h"

/* ---- the walk ---- */

struct link_slot {
    dev_t dev;
    ino_t ino;
    char *path; /* NULL: free slot */
};

struct walk {
    const struct kiln_export_walker *w;
    struct kiln_buf path;
    struct link_slot *links; /* open addressing, size a power of two */
    size_t n_links, cap_links;
};

static size_t slot_of(const struct walk *wk, dev_t dev, ino_t ino)
{
    size_t h = (size_t)ino * 0x9E3779B97F4A7C15ull ^ (size_t)dev;
    size_t i = h & (wk->cap_links - 1);
    while (wk->links[i].path && (wk->links[i].dev != dev || wk->links[i].ino != ino))
        i = (i + 1) & (wk->cap_links - 1);
    return i;
}

static void links_grow(struct walk *wk)
{
    struct walk old = *wk;
    wk->cap_links = old.cap_links ? old.cap_links * 2 : 64;
    wk->links = kiln_xcalloc(wk->cap_links, sizeof(*wk->links));
    for (size_t i = 0; i < old.cap_links; i++)
        if (old.links[i].path)
            wk->links[slot_of(wk, old.links[i].dev, old.links[i].ino)] = old.links[i];
    free(old.links);
}

/* The first path seen with st's inode, or NULL (and st's path is remembered). */
static int first_link(struct walk *wk, const struct stat *st, const char **ret,
                      struct kiln_error **err)
{
    *ret = NULL;
    if (S_ISDIR(st->st_mode) || S_ISLNK(st->st_mode) || st->st_nlink < 2)
        return 0;
    if (2 * (wk->n_links + 1) > wk->cap_links)
        links_grow(wk);
    struct link_slot *s = &wk->links[slot_of(wk, st->st_dev, st->st_ino)];
    if (s->path) {
        *ret = s->path;
        return 0;
    }
    if (wk->n_links >= KILN_EXPORT_HARDLINKS_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "more than %u files with hard links",
                              KILN_EXPORT_HARDLINKS_MAX);
    *s = (struct link_slot){st->st_dev, st->st_ino, kiln_xstrdup(wk->path.buf)};
    wk->n_links++;
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dfd, sorted by bytes (what os.ReadDir gives fsutil's walk). */
static int list_dir(int dfd, struct kiln_strv *ret, struct kiln_error **err)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        int e = -errno;
        if (fd >= 0)
            close(fd);
        return kiln_error_set_errno(err, e, "cannot list a directory");
    }
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            kiln_strv_push(ret, de->d_name);
    int e = -errno;
    closedir(d);
    if (e < 0)
        return kiln_error_set_errno(err, e, "cannot list a directory");
    qsort(ret->v, ret->n, sizeof(*ret->v), cmp_name);
    return 0;
}

static int walk_dir(struct walk *wk, int dfd, unsigned depth, struct kiln_error **err);

static int walk_entry(struct walk *wk, int dfd, const char *name, unsigned depth,
                      struct kiln_error **err)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : kiln_error_set_errno(err, -errno, "cannot stat '%s'", name);
    size_t len = wk->path.len;
    int r = kiln_buf_addf(&wk->path, "%s%s", len ? "/" : "", name);
    if (r < 0)
        return kiln_error_set(err, r, "path '%s/%s' is too long", wk->path.buf, name);
    struct kiln_export_entry e = {.dirfd = dfd, .name = name, .path = wk->path.buf, .st = &st};
    r = first_link(wk, &st, &e.link_to, err);
    if (r >= 0)
        r = wk->w->enter(wk->w->userdata, &e, err);
    if (r >= 0 && S_ISDIR(st.st_mode)) {
        if (depth >= KILN_EXPORT_DEPTH_MAX)
            r = kiln_error_set(err, KILN_E_LIMIT, "'%s' nests deeper than %u directories",
                               wk->path.buf, KILN_EXPORT_DEPTH_MAX);
        _cleanup_close_ int cfd =
                r < 0 ? -1 : openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (r >= 0 && cfd < 0)
            r = kiln_error_set_errno(err, -errno, "cannot open directory '%s'", wk->path.buf);
        if (r >= 0)
            r = walk_dir(wk, cfd, depth + 1, err);
        e.path = wk->path.buf; /* the children may have moved the buffer */
        if (r >= 0 && wk->w->leave)
            r = wk->w->leave(wk->w->userdata, &e, err);
    }
    kiln_buf_truncate(&wk->path, len);
    return r;
}

static int walk_dir(struct walk *wk, int dfd, unsigned depth, struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv names = KILN_STRV_INIT;
    int r = list_dir(dfd, &names, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "'%s'", wk->path.len ? wk->path.buf : "/");
    for (size_t i = 0; r >= 0 && i < names.n; i++)
        r = walk_entry(wk, dfd, names.v[i], depth, err);
    return r;
}

int kiln_export_walk(const char *root, const struct kiln_export_walker *w, struct kiln_error **err)
{
    _cleanup_close_ int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open the root filesystem '%s'", root);
    struct walk wk = {.w = w, .path = KILN_BUF_INIT(KILN_EXPORT_DEPTH_MAX * 256)};
    int r = walk_dir(&wk, fd, 0, err);
    for (size_t i = 0; i < wk.cap_links; i++)
        free(wk.links[i].path);
    free(wk.links);
    kiln_buf_release(&wk.path);
    return r;
}

/* "/proc/self/fd/<dirfd>/<name>": a path for the l*xattr calls that resolves nothing else. */
static char *fd_path(int dirfd, const char *name)
{
    return kiln_xasprintf("/proc/self/fd/%d/%s", dirfd, name);
}

int kiln_export_xattrs(const struct kiln_export_entry *e, struct kiln_oci_xattr **ret,
                       size_t *ret_n, struct kiln_error **err)
{
    *ret = NULL;
    *ret_n = 0;
    _cleanup_free_ char *p = fd_path(e->dirfd, e->name);
    char names[XATTR_LIST_MAX];
    ssize_t len = llistxattr(p, names, sizeof(names));
    if (len < 0)
        return errno == ENOTSUP ? 0
                                : kiln_error_set_errno(err, -errno,
                                                       "cannot list the xattrs of '%s'", e->path);
    for (char *k = names; k < names + len; k += strlen(k) + 1) {
        if (!strncmp(k, "com.apple.", 10))
            continue;
        char value[XATTR_SIZE_MAX];
        ssize_t n = lgetxattr(p, k, value, sizeof(value));
        if (n < 0)
            continue; /* gone meanwhile: fsutil skips it too */
        *ret = kiln_xrealloc(*ret, (*ret_n + 1) * sizeof(**ret));
        char *v = kiln_xmalloc((size_t)n + 1);
        memcpy(v, value, (size_t)n);
        (*ret)[(*ret_n)++] = (struct kiln_oci_xattr){kiln_xstrdup(k), v, (size_t)n};
    }
    return 0;
}

void kiln_export_xattrs_free(struct kiln_oci_xattr *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(x[i].name);
        free(x[i].value);
    }
    free(x);
}

/* ---- type=local ---- */

struct local {
    int dest;     /* the destination's root */
    int *dirs;    /* the destination directory of each level being walked */
    size_t depth; /* dirs[depth - 1] is the current one */
    const struct kiln_export_fs_opts *o;
    unsigned tmp_seq;
};

static int copy_data(int from, int to, const char *path, struct kiln_error **err)
{
    for (;;) {
        ssize_t n = copy_file_range(from, NULL, to, NULL, 1u << 30, 0);
        if (n == 0)
            return 0;
        if (n > 0)
            continue;
        if (errno == EINTR)
            continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
            return kiln_error_set_errno(err, -errno, "cannot copy '%s'", path);
        break;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(from, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? kiln_error_set_errno(err, -errno, "cannot read '%s'", path) : 0;
        for (ssize_t w = 0; w < n;) {
            ssize_t m = write(to, buf + w, (size_t)(n - w));
            if (m < 0 && errno != EINTR)
                return kiln_error_set_errno(err, -errno, "cannot write '%s'", path);
            w += m > 0 ? m : 0;
        }
    }
}

static int create_file(const struct kiln_export_entry *e, int dfd, const char *target,
                       struct kiln_error **err)
{
    _cleanup_close_ int from =
            openat(e->dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (from < 0 || fstat(from, &st) < 0)
        return kiln_error_set_errno(err, -errno, "cannot open '%s'", e->path);
    if (!S_ISREG(st.st_mode))
        return kiln_error_set(err, -EIO, "'%s' changed while exported; export again", e->path);
    _cleanup_close_ int to =
            openat(dfd, target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (to < 0)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", e->path);
    return copy_data(from, to, e->path, err);
}

/* Makes e's node at dfd/target (not a directory's contents, not its metadata). */
static int create_node(struct local *l, const struct kiln_export_entry *e, int dfd,
                       const char *target, struct kiln_error **err)
{
    mode_t m = e->st->st_mode;
    int r = 0;
    if (S_ISDIR(m))
        r = mkdirat(dfd, target, 0700);
    else if (S_ISCHR(m) || S_ISBLK(m) || S_ISFIFO(m))
        r = mknodat(dfd, target, m & (S_IFMT | 07777), e->st->st_rdev);
    else if (S_ISLNK(m)) {
        char link[PATH_MAX + 1];
        ssize_t n = readlinkat(e->dirfd, e->name, link, PATH_MAX);
        if (n < 0)
            return kiln_error_set_errno(err, -errno, "cannot read symlink '%s'", e->path);
        link[n] = '\0';
        r = symlinkat(link, dfd, target);
    } else if (e->link_to)
        r = linkat(l->dest, e->link_to, dfd, target, 0);
    else if (S_ISSOCK(m)) /* fsutil drops the socket bit: an empty file */
        r = mknodat(dfd, target, S_IFREG | 0600, 0);
    else
        return create_file(e, dfd, target, err);
    return r < 0 ? kiln_error_set_errno(err, -errno, "cannot create '%s'", e->path) : 0;
}

/* fsutil's rewriteMetadata: xattrs, owner, mode (not for symlinks), atime = mtime. */
static int set_metadata(const struct local *l, const struct kiln_export_entry *e, int dfd,
                        const char *name, struct kiln_error **err)
{
    struct kiln_oci_xattr *x = NULL;
    size_t n = 0;
    int r = kiln_export_xattrs(e, &x, &n, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *p = fd_path(dfd, name);
    for (size_t i = 0; i < n; i++)
        (void)lsetxattr(p, x[i].name, x[i].value, x[i].len, 0); /* as fsutil: best effort */
    kiln_export_xattrs_free(x, n);
    const struct stat *st = e->st;
    if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(err, -errno, "cannot set the owner of '%s'", e->path);
    if (!S_ISLNK(st->st_mode) && fchmodat(dfd, name, st->st_mode & 07777, 0) < 0)
        return kiln_error_set_errno(err, -errno, "cannot set the mode of '%s'", e->path);
    struct timespec t = st->st_mtim;
    if (l->o && l->o->has_epoch)
        t = (struct timespec){.tv_sec = l->o->epoch, .tv_nsec = 0};
    const struct timespec ts[2] = {t, t};
    if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(err, -errno, "cannot set the times of '%s'", e->path);
    return 0;
}

static int push_dir(struct local *l, int dfd, const struct kiln_export_entry *e,
                    struct kiln_error **err)
{
    int fd = openat(dfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open '%s'", e->path);
    l->dirs[l->depth++] = fd;
    return 0;
}

/*
 * DiskWriter.HandleChange: a directory over a directory is kept (its
 * metadata rewritten when left); anything else is made under a temporary
 * name, given its metadata and renamed over what was there.
 */
static int local_enter(void *userdata, const struct kiln_export_entry *e, struct kiln_error **err)
{
    struct local *l = userdata;
    int dfd = l->dirs[l->depth - 1];
    struct stat old;
    bool have_old = fstatat(dfd, e->name, &old, AT_SYMLINK_NOFOLLOW) == 0;
    if (!have_old && errno != ENOENT)
        return kiln_error_set_errno(err, -errno, "cannot stat '%s' in the destination", e->path);
    bool dir = S_ISDIR(e->st->st_mode);
    if (have_old && dir && S_ISDIR(old.st_mode))
        return push_dir(l, dfd, e, err);
    char tmp[64];
    (void)snprintf(tmp, sizeof(tmp), ".tmp.%d.%u", (int)getpid(), l->tmp_seq++);
    const char *target = have_old ? tmp : e->name;
    int r = create_node(l, e, dfd, target, err);
    if (r >= 0 && !dir)
        r = set_metadata(l, e, dfd, target, err);
    if (r >= 0 && have_old && S_ISDIR(old.st_mode) != dir)
        r = kiln_oci_remove_at(dfd, e->name, err);
    if (r >= 0 && have_old && renameat(dfd, tmp, dfd, e->name) < 0)
        r = kiln_error_set_errno(err, -errno, "cannot replace '%s'", e->path);
    if (r < 0 && have_old)
        (void)unlinkat(dfd, tmp, dir ? AT_REMOVEDIR : 0);
    return r >= 0 && dir ? push_dir(l, dfd, e, err) : r;
}

/* A directory's metadata goes last, when its contents no longer touch its mtime. */
static int local_leave(void *userdata, const struct kiln_export_entry *e, struct kiln_error **err)
{
    struct local *l = userdata;
    close(l->dirs[--l->depth]);
    return set_metadata(l, e, l->dirs[l->depth - 1], e->name, err);
}

int kiln_export_local(const char *root, const char *dest, const struct kiln_export_fs_opts *o,
                      struct kiln_error **err)
{
    int r = kiln_mkdir_p(dest, 0755, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "type=local");
    _cleanup_close_ int fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "type=local: cannot open '%s'", dest);
    struct local l = {.dest = fd, .o = o};
    l.dirs = kiln_xcalloc(KILN_EXPORT_DEPTH_MAX + 2, sizeof(*l.dirs));
    l.dirs[l.depth++] = fd;
    const struct kiln_export_walker w = {local_enter, local_leave, &l};
    r = kiln_export_walk(root, &w, err);
    while (l.depth > 1)
        close(l.dirs[--l.depth]);
    free(l.dirs);
    return r < 0 ? kiln_error_wrap(err, r, "type=local to '%s'", dest) : 0;
}
