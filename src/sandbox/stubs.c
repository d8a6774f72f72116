/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stubs.c - mount points and the working directory made inside a rootfs
 * (docs/internals/sandbox.md, "Mount stubs").
 */
#include "stubs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/alloc.h"
#include "sandbox-limits.h"

#include "base/banned.h"

/* Opens `path` inside the root as the kernel resolves it from there; -errno on failure. */
static int open_in_root(int rootfd, const char *path, int flags)
{
    struct open_how how = {
            .flags = (unsigned long long)(flags | O_CLOEXEC),
            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    for (;;) {
        long fd = syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
    }
}

static long long ns(const struct timespec *t)
{
    return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static void record(struct kiln_sandbox_stubs *s, const char *path, const struct stat *before,
                   int parentfd)
{
    struct stat after;
    if (fstat(parentfd, &after) < 0)
        after = *before;
    KILN_GROW(s->v, s->alloc, s->n + 1);
    s->v[s->n++] = (struct kiln_sandbox_stub){
            .path = kiln_xstrdup(path),
            .parent_orig = {before->st_atim, before->st_mtim},
            .parent_mtime_after = ns(&after.st_mtim),
    };
}

/* Creates `name` in the directory parentfd (of the root-relative path `path`). */
static int create(int parentfd, const char *name, const char *path, bool dir, uid_t uid, gid_t gid,
                  struct kiln_sandbox_stubs *stubs, struct kiln_error **err)
{
    struct stat before;
    if (fstat(parentfd, &before) < 0)
        return kiln_error_set_errno(err, -errno, "stat the parent of '/%s' in the rootfs", path);
    if (dir) {
        if (mkdirat(parentfd, name, 0755) < 0)
            return kiln_error_set_errno(err, -errno, "create directory '/%s' in the rootfs", path);
    } else {
        int fd = openat(parentfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
            return kiln_error_set_errno(err, -errno, "create file '/%s' in the rootfs", path);
        close(fd);
    }
    if (stubs)
        record(stubs, path, &before, parentfd);
    if ((uid != 0 || gid != 0) && fchownat(parentfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(err, -errno, "chown '/%s' in the rootfs to %u:%u", path,
                                    (unsigned)uid, (unsigned)gid);
    return 0;
}

/*
 * When `name` in parentfd is a symbolic link (dangling, since resolving it
 * failed), replaces *want with its target followed by `rest`, relative to
 * `dir` (the link's directory) unless absolute. Returns 1 when it did.
 */
static int follow(int parentfd, const char *dir, const char *name, const char *rest, char **want,
                  struct kiln_error **err)
{
    struct stat st;
    if (fstatat(parentfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode))
        return 0;
    char target[KILN_SANDBOX_PATH_MAX];
    ssize_t n = readlinkat(parentfd, name, target, sizeof(target));
    if (n < 0)
        return kiln_error_set_errno(err, -errno, "read link '/%s/%s' in the rootfs", dir, name);
    if ((size_t)n >= sizeof(target))
        return kiln_error_set(err, -ENAMETOOLONG, "link '/%s/%s' in the rootfs is too long", dir,
                              name);
    target[n] = '\0';
    char *next = kiln_xasprintf("%s/%s/%s", target[0] == '/' ? "" : dir, target, rest);
    free(*want);
    *want = next;
    return 1;
}

/*
 * One pass over *want: resolves its components in turn and creates the
 * missing ones. Returns 0 when done, 1 when *want was replaced by the target
 * of a dangling symbolic link (walk again), or a negative error.
 */
static int walk(int rootfd, char **want, const char *path, bool dir, uid_t uid, gid_t gid,
                struct kiln_sandbox_stubs *stubs, struct kiln_error **err)
{
    _cleanup_free_ char *cur = kiln_xstrdup("");
    for (const char *p = *want;;) {
        p += strspn(p, "/");
        if (!*p)
            return 0;
        size_t len = strcspn(p, "/");
        bool last = p[len + strspn(p + len, "/")] == '\0';
        _cleanup_free_ char *name = kiln_xstrndup(p, len);
        _cleanup_free_ char *next = kiln_xasprintf("%s%s%s", cur, *cur ? "/" : "", name);
        p += len;
        _cleanup_close_ int fd = open_in_root(rootfd, next, O_PATH);
        if (fd == -ENOENT) {
            _cleanup_close_ int parentfd = open_in_root(rootfd, cur, O_RDONLY | O_DIRECTORY);
            if (parentfd < 0)
                return kiln_error_set_errno(err, parentfd, "resolve '%s' in the rootfs", path);
            int r = follow(parentfd, cur, name, p, want, err);
            if (r == 0)
                r = create(parentfd, name, next, dir || !last, uid, gid, stubs, err);
            if (r != 0)
                return r;
        } else if (fd < 0) {
            return kiln_error_set_errno(err, fd, "resolve '%s' in the rootfs", path);
        }
        free(cur);
        cur = TAKE_PTR(next);
    }
}

int kiln_sandbox_mkpath(int rootfd, const char *path, bool dir, uid_t uid, gid_t gid,
                        struct kiln_sandbox_stubs *stubs, struct kiln_error **err)
{
    _cleanup_free_ char *want = kiln_xstrdup(path);
    for (int hops = 0; hops <= KILN_SANDBOX_SYMLINK_HOPS; hops++) {
        int r = walk(rootfd, &want, path, dir, uid, gid, stubs, err);
        if (r <= 0)
            return r;
    }
    return kiln_error_set_errno(err, -ELOOP, "resolve '%s' in the rootfs", path);
}

static bool dir_empty(int fd)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return false;
    }
    bool empty = true;
    for (struct dirent *e; empty && (e = readdir(d));)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

static void remove_one(int rootfd, const struct kiln_sandbox_stub *s)
{
    const char *slash = strrchr(s->path, '/');
    _cleanup_free_ char *dir = kiln_xstrndup(s->path, slash ? (size_t)(slash - s->path) : 0);
    const char *name = slash ? slash + 1 : s->path;
    _cleanup_close_ int parentfd = open_in_root(rootfd, dir, O_RDONLY | O_DIRECTORY);
    struct stat st, pst;
    if (parentfd < 0 || fstatat(parentfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        fstat(parentfd, &pst) < 0)
        return;
    int r;
    if (S_ISDIR(st.st_mode)) {
        int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || !dir_empty(fd))
            return;
        r = unlinkat(parentfd, name, AT_REMOVEDIR);
    } else if (S_ISREG(st.st_mode) && st.st_size == 0) {
        r = unlinkat(parentfd, name, 0);
    } else {
        return;
    }
    if (r < 0)
        return;
    /* Untouched since the stub was made: its times from before; else as the process left them. */
    struct timespec times[2] = {pst.st_atim, pst.st_mtim};
    if (ns(&pst.st_mtim) == s->parent_mtime_after) {
        times[0] = s->parent_orig[0];
        times[1] = s->parent_orig[1];
    }
    (void)futimens(parentfd, times);
}

void kiln_sandbox_stubs_remove(int rootfd, struct kiln_sandbox_stubs *stubs)
{
    for (size_t i = stubs->n; i > 0; i--)
        remove_one(rootfd, &stubs->v[i - 1]);
    kiln_sandbox_stubs_release(stubs);
}

void kiln_sandbox_stubs_release(struct kiln_sandbox_stubs *stubs)
{
    for (size_t i = 0; i < stubs->n; i++)
        free(stubs->v[i].path);
    free(stubs->v);
    *stubs = (struct kiln_sandbox_stubs){0};
}
