/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diff.c - snapshot diffs as BuildKit computes them.
 *
 * Both walks hold one open directory per level and list each directory in
 * sorted order, which gives continuity's walk order. The double walk merges
 * the two sorted listings of a directory: a name only in the lower is a
 * delete (and nothing below it is looked at), a name only in the upper is an
 * add (and everything below it too), a name in both is compared.
 */
#include "diff.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "base/strv.h"
#include "whiteout.h"

#include "base/banned.h"

#define CAP_KEY   "security.capability"
#define CAP_MAX   1024
#define CMP_CHUNK (32u * 1024)

struct walker {
    struct kiln_oci_changes *out;
    struct kiln_buf path; /* of the directory being listed, relative to the root */
    struct kiln_error **err;
};

void kiln_oci_changes_release(struct kiln_oci_changes *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].path);
    free(c->v);
    *c = (struct kiln_oci_changes)KILN_OCI_CHANGES_INIT;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory fd, sorted; without overlay whiteouts when `hide_whiteouts`. */
static int list_dir(struct walker *w, int fd, bool hide_whiteouts, struct kiln_strv *ret)
{
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    DIR *d = dup < 0 ? NULL : fdopendir(dup);
    if (!d) {
        int r = -errno;
        if (dup >= 0)
            close(dup);
        return kiln_error_set_errno(w->err, r, "list '%s'", w->path.len ? w->path.buf : ".");
    }
    struct dirent *de;
    while ((errno = 0, de = readdir(d))) {
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (hide_whiteouts && (de->d_type == DT_CHR || de->d_type == DT_UNKNOWN) &&
            fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            kiln_oci_whiteout_is_overlay(&st))
            continue;
        kiln_strv_push(ret, de->d_name);
    }
    int r = -errno;
    closedir(d);
    if (r < 0)
        return kiln_error_set_errno(w->err, r, "list '%s'", w->path.len ? w->path.buf : ".");
    qsort(ret->v, ret->n, sizeof(*ret->v), name_cmp);
    return 0;
}

/* Appends "/name" to the current path; returns the length to truncate back to. */
static size_t path_push(struct walker *w, const char *name)
{
    size_t old = w->path.len;
    if (old)
        (void)kiln_buf_addch(&w->path, '/');
    (void)kiln_buf_adds(&w->path, name);
    return old;
}

static void record(struct walker *w, enum kiln_oci_change_kind kind, const struct stat *st)
{
    KILN_GROW(w->out->v, w->out->alloc, w->out->n + 1);
    struct kiln_oci_change *c = &w->out->v[w->out->n++];
    *c = (struct kiln_oci_change){.kind = kind, .path = kiln_xstrdup(w->path.buf)};
    if (!st)
        return;
    c->mode = st->st_mode;
    c->uid = st->st_uid;
    c->gid = st->st_gid;
    c->nlink = (uint32_t)st->st_nlink;
    c->dev = st->st_dev;
    c->ino = st->st_ino;
    c->rdev = st->st_rdev;
    c->size = (uint64_t)st->st_size;
    c->mtime_sec = st->st_mtim.tv_sec;
    c->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
}

static int stat_at(struct walker *w, int fd, const char *name, struct stat *st)
{
    if (fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(w->err, -errno, "stat '%s'", w->path.buf);
    return 0;
}

/* The directory `name` in fd, or -1 when fd is -1 or name is no directory (a symlink neither). */
static int open_dir(struct walker *w, int fd, const char *name, int *ret)
{
    *ret = -1;
    if (fd < 0)
        return 0;
    int d = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0 && errno != ENOTDIR && errno != ELOOP && errno != ENOENT)
        return kiln_error_set_errno(w->err, -errno, "open '%s'", w->path.buf);
    *ret = d;
    return 0;
}

/* continuity's compareCapabilities on two open regular files. */
static int same_caps(struct walker *w, int a, int b, bool *ret)
{
    char ca[CAP_MAX], cb[CAP_MAX];
    ssize_t na = fgetxattr(a, CAP_KEY, ca, sizeof(ca));
    if (na < 0 && errno != ENODATA && errno != ENOTSUP)
        return kiln_error_set_errno(w->err, -errno, "'%s': read %s", w->path.buf, CAP_KEY);
    ssize_t nb = fgetxattr(b, CAP_KEY, cb, sizeof(cb));
    if (nb < 0 && errno != ENODATA && errno != ENOTSUP)
        return kiln_error_set_errno(w->err, -errno, "'%s': read %s", w->path.buf, CAP_KEY);
    na = na < 0 ? 0 : na;
    nb = nb < 0 ? 0 : nb;
    *ret = na == nb && memcmp(ca, cb, (size_t)na) == 0;
    return 0;
}

/* Reads exactly n bytes unless the file ends first: the count. */
static ssize_t read_full(int fd, char *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = read(fd, buf + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            break;
        done += (size_t)k;
    }
    return (ssize_t)done;
}

static int same_content(struct walker *w, int a, int b, bool *ret)
{
    _cleanup_free_ char *ba = kiln_xmalloc(CMP_CHUNK), *bb = kiln_xmalloc(CMP_CHUNK);
    for (;;) {
        ssize_t na = read_full(a, ba, CMP_CHUNK), nb = read_full(b, bb, CMP_CHUNK);
        if (na < 0 || nb < 0)
            return kiln_error_set_errno(w->err, na < 0 ? (int)na : (int)nb, "read '%s'",
                                        w->path.buf);
        if (na != nb || memcmp(ba, bb, (size_t)na) != 0) {
            *ret = false;
            return 0;
        }
        if (na < (ssize_t)CMP_CHUNK) {
            *ret = true;
            return 0;
        }
    }
}

static int same_link(struct walker *w, int lfd, int ufd, const char *name, bool *ret)
{
    char a[PATH_MAX + 1], b[PATH_MAX + 1];
    ssize_t na = readlinkat(lfd, name, a, sizeof(a)), nb = readlinkat(ufd, name, b, sizeof(b));
    if (na < 0 || nb < 0)
        return kiln_error_set_errno(w->err, -errno, "readlink '%s'", w->path.buf);
    *ret = na == nb && memcmp(a, b, (size_t)na) == 0;
    return 0;
}

/* The regular file `name` of both sides, opened for the capability and content checks. */
static int open_pair(struct walker *w, int lfd, int ufd, const char *name, int fds[2])
{
    fds[0] = openat(lfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    fds[1] = fds[0] < 0 ? -1 : openat(ufd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fds[1] >= 0)
        return 0;
    int r = -errno;
    if (fds[0] >= 0)
        close(fds[0]);
    return kiln_error_set_errno(w->err, r, "open '%s'", w->path.buf);
}

/*
 * continuity's sameFile (BuildKit's sameDirent): same inode, or same mode,
 * owner, rdev and capabilities and, for non-directories, same size and mtime,
 * checking the link target or content when both mtimes are whole seconds.
 */
static int same_entry(struct walker *w, int lfd, int ufd, const char *name, const struct stat *a,
                      const struct stat *b, bool *ret)
{
    *ret = false;
    if (a->st_dev == b->st_dev && a->st_ino == b->st_ino) {
        *ret = true;
        return 0;
    }
    if (a->st_mode != b->st_mode || a->st_uid != b->st_uid || a->st_gid != b->st_gid ||
        a->st_rdev != b->st_rdev)
        return 0;
    if (S_ISDIR(a->st_mode)) {
        *ret = true;
        return 0;
    }
    if (a->st_size != b->st_size || a->st_mtim.tv_sec != b->st_mtim.tv_sec)
        return 0;
    bool whole = a->st_mtim.tv_nsec == 0 && b->st_mtim.tv_nsec == 0;
    if (!whole && a->st_mtim.tv_nsec != b->st_mtim.tv_nsec)
        return 0;
    if (S_ISLNK(a->st_mode)) {
        *ret = true;
        return whole ? same_link(w, lfd, ufd, name, ret) : 0;
    }
    if (!S_ISREG(a->st_mode)) {
        *ret = true;
        return 0;
    }
    int fds[2];
    int r = open_pair(w, lfd, ufd, name, fds);
    if (r < 0)
        return r;
    r = same_caps(w, fds[0], fds[1], ret);
    if (r >= 0 && *ret && whole && a->st_size > 0)
        r = same_content(w, fds[0], fds[1], ret);
    close(fds[0]);
    close(fds[1]);
    return r;
}

static int double_walk(struct walker *w, int lfd, int ufd, bool hide, unsigned depth);

/* A name both sides have: compare, record, and go down when the upper is a directory. */
static int double_both(struct walker *w, int lfd, int ufd, const char *name, bool hide,
                       unsigned depth)
{
    struct stat lst, ust;
    int r = stat_at(w, lfd, name, &lst);
    if (r >= 0)
        r = stat_at(w, ufd, name, &ust);
    bool same = false;
    if (r >= 0)
        r = same_entry(w, lfd, ufd, name, &lst, &ust, &same);
    if (r < 0)
        return r;
    if (!same)
        record(w, KILN_OCI_CHANGE_MODIFY, &ust);
    else if (!S_ISDIR(ust.st_mode) && ust.st_nlink > 1)
        record(w, KILN_OCI_CHANGE_UNMODIFIED, &ust);
    if (!S_ISDIR(ust.st_mode))
        return 0;
    int fds[2] = {-1, -1};
    r = open_dir(w, S_ISDIR(lst.st_mode) ? lfd : -1, name, &fds[0]);
    if (r >= 0)
        r = open_dir(w, ufd, name, &fds[1]);
    if (r >= 0)
        r = double_walk(w, fds[0], fds[1], hide, depth + 1);
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    return r;
}

/* A name only the upper has: an add, and everything below it. */
static int double_add(struct walker *w, int ufd, const char *name, bool hide, unsigned depth)
{
    struct stat st;
    int r = stat_at(w, ufd, name, &st);
    if (r < 0)
        return r;
    record(w, KILN_OCI_CHANGE_ADD, &st);
    if (!S_ISDIR(st.st_mode))
        return 0;
    _cleanup_close_ int fd = -1;
    r = open_dir(w, ufd, name, &fd);
    return r < 0 ? r : double_walk(w, -1, fd, hide, depth + 1);
}

static int double_walk(struct walker *w, int lfd, int ufd, bool hide, unsigned depth)
{
    if (depth > KILN_LAYER_DEPTH_MAX)
        return kiln_error_set(w->err, KILN_E_LIMIT, "'%s': nested deeper than %u levels",
                              w->path.buf, KILN_LAYER_DEPTH_MAX);
    _cleanup_strv_ struct kiln_strv lower = KILN_STRV_INIT, upper = KILN_STRV_INIT;
    int r = lfd >= 0 ? list_dir(w, lfd, false, &lower) : 0;
    if (r >= 0 && ufd >= 0)
        r = list_dir(w, ufd, hide, &upper);
    for (size_t i = 0, j = 0; r >= 0 && (i < lower.n || j < upper.n);) {
        int c = i == lower.n ? 1 : j == upper.n ? -1 : strcmp(lower.v[i], upper.v[j]);
        const char *name = c < 0 ? lower.v[i] : upper.v[j];
        size_t mark = path_push(w, name);
        if (c < 0)
            record(w, KILN_OCI_CHANGE_DELETE, NULL);
        else if (c > 0)
            r = double_add(w, ufd, name, hide, depth);
        else
            r = double_both(w, lfd, ufd, name, hide, depth);
        kiln_buf_truncate(&w->path, mark);
        i += c <= 0;
        j += c >= 0;
    }
    return r;
}

/* How the upper entry `name` relates to the lower: *ret_lower tells whether the lower has it. */
static int lower_stat(struct walker *w, int lfd, const char *name, struct stat *st, bool *ret_lower)
{
    *ret_lower = false;
    if (lfd < 0)
        return 0;
    if (fstatat(lfd, name, st, AT_SYMLINK_NOFOLLOW) == 0) {
        *ret_lower = true;
        return 0;
    }
    if (errno == ENOENT || errno == ENOTDIR)
        return 0;
    return kiln_error_set_errno(w->err, -errno, "stat '%s' in the lower", w->path.buf);
}

static int overlay_walk(struct walker *w, int lfd, int ufd, unsigned depth);

/* Below an upper directory: an opaque one is diffed against the lower, else walked on. */
static int overlay_dir(struct walker *w, int lfd, int ufd, const char *name, bool has_lower,
                       const struct stat *lst, unsigned depth)
{
    int fds[2] = {-1, -1};
    bool opaque = false;
    int r = open_dir(w, ufd, name, &fds[1]);
    if (r >= 0 && fds[1] < 0)
        r = kiln_error_set(w->err, -ENOTDIR, "open '%s': not a directory", w->path.buf);
    if (r >= 0)
        r = kiln_oci_whiteout_check_redirect(fds[1], w->path.buf, w->err);
    if (r >= 0)
        r = kiln_oci_whiteout_is_opaque(fds[1], &opaque, w->err);
    if (r >= 0 && has_lower && S_ISDIR(lst->st_mode))
        r = open_dir(w, lfd, name, &fds[0]);
    if (r >= 0 && opaque && has_lower)
        r = double_walk(w, fds[0], fds[1], true, depth + 1);
    else if (r >= 0)
        r = overlay_walk(w, fds[0], fds[1], depth + 1);
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    return r;
}

/* BuildKit's overlay.Changes for one entry of the upper dir. */
static int overlay_entry(struct walker *w, int lfd, int ufd, const char *name, unsigned depth)
{
    struct stat ust, lst;
    bool has_lower, same = false;
    int r = stat_at(w, ufd, name, &ust);
    if (r >= 0)
        r = lower_stat(w, lfd, name, &lst, &has_lower);
    if (r < 0)
        return r;
    if (kiln_oci_whiteout_is_overlay(&ust)) {
        if (has_lower)
            record(w, KILN_OCI_CHANGE_DELETE, NULL);
        return 0;
    }
    if (has_lower)
        r = same_entry(w, lfd, ufd, name, &lst, &ust, &same);
    if (r < 0)
        return r;
    if (!same)
        record(w, has_lower ? KILN_OCI_CHANGE_MODIFY : KILN_OCI_CHANGE_ADD, &ust);
    return S_ISDIR(ust.st_mode) ? overlay_dir(w, lfd, ufd, name, has_lower, &lst, depth) : 0;
}

static int overlay_walk(struct walker *w, int lfd, int ufd, unsigned depth)
{
    if (depth > KILN_LAYER_DEPTH_MAX)
        return kiln_error_set(w->err, KILN_E_LIMIT, "'%s': nested deeper than %u levels",
                              w->path.buf, KILN_LAYER_DEPTH_MAX);
    _cleanup_strv_ struct kiln_strv names = KILN_STRV_INIT;
    int r = list_dir(w, ufd, false, &names);
    for (size_t i = 0; r >= 0 && i < names.n; i++) {
        size_t mark = path_push(w, names.v[i]);
        r = overlay_entry(w, lfd, ufd, names.v[i], depth);
        kiln_buf_truncate(&w->path, mark);
    }
    return r;
}

static int open_root(const char *path, const char *what, int *ret, struct kiln_error **err)
{
    *ret = -1;
    if (!path || !*path)
        return 0;
    *ret = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*ret < 0)
        return kiln_error_set_errno(err, -errno, "open %s '%s'", what, path);
    return 0;
}

static int diff(const char *lower, const char *upper, bool overlay,
                struct kiln_oci_changes *ret_changes, struct kiln_error **err)
{
    _cleanup_close_ int lfd = -1, ufd = -1;
    int r = open_root(lower, "lower", &lfd, err);
    if (r >= 0)
        r = open_root(upper, "upper", &ufd, err);
    if (r >= 0 && ufd < 0)
        r = kiln_error_set(err, KILN_E_INVALID, "diff: no upper directory");
    if (r < 0)
        return r;
    struct kiln_oci_changes out = KILN_OCI_CHANGES_INIT;
    struct walker w = {
            .out = &out,
            .path = KILN_BUF_INIT((KILN_LAYER_DEPTH_MAX + 2) * (KILN_LAYER_COMPONENT_MAX + 1)),
            .err = err,
    };
    r = overlay ? overlay_walk(&w, lfd, ufd, 0) : double_walk(&w, lfd, ufd, false, 0);
    kiln_buf_release(&w.path);
    if (r < 0) {
        kiln_oci_changes_release(&out);
        return r;
    }
    for (size_t i = 0; i < out.n; i++) {
        KILN_GROW(ret_changes->v, ret_changes->alloc, ret_changes->n + 1);
        ret_changes->v[ret_changes->n++] = out.v[i];
    }
    free(out.v);
    return 0;
}

int kiln_oci_diff_overlay(const char *lower, const char *upper,
                          struct kiln_oci_changes *ret_changes, struct kiln_error **err)
{
    return diff(lower, upper, true, ret_changes, err);
}

int kiln_oci_diff_trees(const char *lower, const char *upper, struct kiln_oci_changes *ret_changes,
                        struct kiln_error **err)
{
    return diff(lower, upper, false, ret_changes, err);
}
