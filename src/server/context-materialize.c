/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-materialize.c - a build's context recreated from its index and
 * the builder's content store, every path opened beneath the destination
 * without following a symbolic link.
 */
#include "context-sync.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/alloc.h"
#include "context-delta.h"
#include "oci/whiteout.h"
#include "store/content.h"

#include "base/banned.h"

struct dest {
    int rootfd;
    char *parent; /* the directory open as parentfd, relative ("" for the root) */
    int parentfd;
};

static int open_beneath(int rootfd, const char *path, int flags)
{
    struct open_how how = {
            .flags = (unsigned long long)(flags | O_CLOEXEC),
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
    };
    for (;;) {
        long fd = syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != EAGAIN)
            return -errno;
    }
}

/* Opens the parent of `path` (cached across siblings); *ret_name is its last component. */
static int parent_of(struct dest *d, const char *path, const char **ret_name,
                     struct kiln_error **err)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    *ret_name = slash ? slash + 1 : path;
    if (d->parent && strlen(d->parent) == n && strncmp(d->parent, path, n) == 0)
        return d->parentfd;
    free(d->parent);
    d->parent = kiln_xstrndup(path, n);
    if (d->parentfd >= 0)
        close(d->parentfd);
    d->parentfd = open_beneath(d->rootfd, d->parent, O_PATH | O_DIRECTORY);
    if (d->parentfd < 0) {
        int r = d->parentfd;
        free(TAKE_PTR(d->parent));
        return kiln_error_set_errno(err, r, "cannot open directory '%.*s' of the context", (int)n,
                                    path);
    }
    return d->parentfd;
}

static struct timespec ts_of(json_t *e)
{
    int64_t ns = json_integer_value(json_object_get(e, "mtime"));
    int64_t sec = ns / 1000000000, rem = ns % 1000000000;
    if (rem < 0) {
        rem += 1000000000;
        sec--;
    }
    return (struct timespec){.tv_sec = sec, .tv_nsec = rem};
}

static int copy_fd(int from, int to, uint64_t size)
{
    bool plain = false;
    char buf[64 * 1024];
    while (size > 0) {
        ssize_t n = plain ? read(from, buf, size < sizeof(buf) ? size : sizeof(buf))
                          : copy_file_range(from, NULL, to, NULL, size, 0);
        if (n < 0 && !plain && (errno == EXDEV || errno == EINVAL || errno == ENOSYS)) {
            plain = true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        for (ssize_t off = 0; plain && off < n;) {
            ssize_t w = write(to, buf + off, (size_t)(n - off));
            if (w < 0 && errno != EINTR)
                return -errno;
            off += w > 0 ? w : 0;
        }
        size -= (uint64_t)n;
    }
    return 0;
}

static int make_file(struct kiln_store *s, int pfd, const char *name, json_t *e,
                     struct kiln_error **err)
{
    const char *path = json_string_value(json_object_get(e, "path"));
    const char *digest = json_string_value(json_object_get(e, "digest"));
    uint64_t size = (uint64_t)json_integer_value(json_object_get(e, "size")), have = 0;
    _cleanup_close_ int from = -1;
    int r = kiln_content_open_file(s, digest, &from, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "context file '%s'", path);
    struct stat st;
    if (fstat(from, &st) < 0)
        return kiln_error_set_errno(err, -errno, "context file '%s'", path);
    have = (uint64_t)st.st_size;
    if (have != size)
        return kiln_error_set(err, KILN_E_INVALID,
                              "context file '%s' has %" PRIu64 " bytes in the index, but its "
                              "content %s has %" PRIu64,
                              path, size, digest, have);
    _cleanup_close_ int to =
            openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (to < 0)
        return kiln_error_set_errno(err, -errno, "cannot create context file '%s'", path);
    struct timespec ts[2] = {ts_of(e), ts_of(e)};
    mode_t mode = (mode_t)json_integer_value(json_object_get(e, "mode")) & 07777;
    if ((r = copy_fd(from, to, size)) < 0 || (fchmod(to, mode) < 0 && (r = -errno)) ||
        (futimens(to, ts) < 0 && (r = -errno)))
        return kiln_error_set_errno(err, r, "cannot write context file '%s'", path);
    return 0;
}

/* Whether a and b differ at most in their mtime (a fresh clone of the same files). */
static bool same_but_time(json_t *a, json_t *b)
{
    const char *key;
    json_t *v;
    if (json_object_size(a) != json_object_size(b))
        return false;
    json_object_foreach (a, key, v) {
        if (strcmp(key, "mtime") != 0 && !json_equal(v, json_object_get(b, key)))
            return false;
    }
    return true;
}

static int make_entry(struct kiln_store *s, struct dest *d, json_t *e, json_t *before,
                      struct kiln_error **err)
{
    const char *path = json_string_value(json_object_get(e, "path")), *name;
    mode_t mode = (mode_t)json_integer_value(json_object_get(e, "mode"));
    if (before && json_equal(before, e))
        return 0; /* there already, as it was last time */
    int pfd = parent_of(d, path, &name, err);
    if (pfd < 0)
        return pfd;
    if (before && !S_ISDIR(mode) && same_but_time(before, e)) {
        /* the same bytes with another time: the time is all that changes */
        struct timespec ts[2] = {ts_of(e), ts_of(e)};
        if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
            return kiln_error_set_errno(err, -errno, "cannot set the time of '%s'", path);
        return 0;
    }
    if (S_ISREG(mode))
        return make_file(s, pfd, name, e, err);
    if (S_ISDIR(mode)) {
        if ((mkdirat(pfd, name, 0700) < 0 && !(before && errno == EEXIST)) ||
            fchmodat(pfd, name, mode & 07777, 0) < 0)
            return kiln_error_set_errno(err, -errno, "cannot create context directory '%s'", path);
        return 0; /* its mtime once its entries are in */
    }
    struct timespec ts[2] = {ts_of(e), ts_of(e)};
    if (symlinkat(json_string_value(json_object_get(e, "link")), pfd, name) < 0 ||
        utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(err, -errno, "cannot create context link '%s'", path);
    return 0;
}

/* Directory mtimes, deepest first: creating their entries changed them. */
static int set_dir_times(int rootfd, json_t *entries, struct kiln_error **err)
{
    for (size_t i = json_array_size(entries); i-- > 0;) {
        json_t *e = json_array_get(entries, i);
        if (!S_ISDIR((mode_t)json_integer_value(json_object_get(e, "mode"))))
            continue;
        const char *path = json_string_value(json_object_get(e, "path"));
        _cleanup_close_ int fd = open_beneath(rootfd, path, O_RDONLY | O_DIRECTORY);
        struct timespec ts[2] = {ts_of(e), ts_of(e)};
        if (fd < 0 || futimens(fd, ts) < 0)
            return kiln_error_set_errno(err, fd < 0 ? fd : -errno,
                                        "cannot set the time of context directory '%s'", path);
    }
    return 0;
}

/* path -> entry of an index. */
static json_t *by_path(json_t *entries)
{
    json_t *m = json_object(), *e;
    size_t i;
    json_array_foreach (entries, i, e)
        json_object_set(m, json_string_value(json_object_get(e, "path")), e);
    return m;
}

static bool same_type(json_t *a, json_t *b)
{
    return ((json_integer_value(json_object_get(a, "mode")) ^
             json_integer_value(json_object_get(b, "mode"))) &
            S_IFMT) == 0;
}

/*
 * Removes what the tree of `previous` holds that `now` does not hold as it
 * was: entries gone, changed files and links, entries whose type changed
 * (a directory with everything in it). Deepest first.
 */
static int remove_stale(struct dest *d, json_t *previous, json_t *now, struct kiln_error **err)
{
    for (size_t i = json_array_size(previous); i-- > 0;) {
        json_t *e = json_array_get(previous, i);
        const char *path = json_string_value(json_object_get(e, "path")), *name;
        json_t *n = json_object_get(now, path);
        bool dir = S_ISDIR((mode_t)json_integer_value(json_object_get(e, "mode")));
        if (n && same_type(n, e) && (dir || same_but_time(n, e)))
            continue; /* kept; make_entry() sets a new time */
        int pfd = parent_of(d, path, &name, NULL);
        if (pfd == -ENOENT || pfd == -ELOOP || pfd == -ENOTDIR)
            continue; /* went with its parent */
        if (pfd < 0)
            return kiln_error_set_errno(err, pfd, "cannot open the directory of '%s'", path);
        int r = dir ? kiln_oci_remove_at(pfd, name, err)
                    : (unlinkat(pfd, name, 0) < 0 && errno != ENOENT ? -errno : 0);
        if (r < 0)
            return kiln_error_set_errno(err, r, "cannot remove '%s' from the context", path);
    }
    free(TAKE_PTR(d->parent)); /* parents may have gone */
    if (d->parentfd >= 0)
        close(d->parentfd);
    d->parentfd = -1;
    return 0;
}

/*
 * Brings dest (the tree of `previous`) to `entries` and sets the times of
 * the directories of `entries` and `dirs`; previous and entries may be just
 * what differs between two indexes.
 */
static int apply(struct kiln_store *s, json_t *entries, json_t *previous, json_t *dirs,
                 const char *dest_dir, struct kiln_error **err)
{
    struct dest d = {.rootfd = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), .parentfd = -1};
    if (d.rootfd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open '%s'", dest_dir);
    int r = 0;
    json_t *before = previous ? by_path(previous) : NULL;
    if (before) {
        json_t *now = by_path(entries);
        r = remove_stale(&d, previous, now, err);
        json_decref(now);
    }
    for (size_t i = 0; i < json_array_size(entries) && r >= 0; i++) {
        json_t *e = json_array_get(entries, i);
        r = make_entry(
                s, &d, e,
                before ? json_object_get(before, json_string_value(json_object_get(e, "path")))
                       : NULL,
                err);
    }
    json_decref(before);
    if (r >= 0)
        r = set_dir_times(d.rootfd, entries, err);
    if (r >= 0 && dirs)
        r = set_dir_times(d.rootfd, dirs, err);
    free(d.parent);
    if (d.parentfd >= 0)
        close(d.parentfd);
    close(d.rootfd);
    return r;
}

int kilnd_context_materialize(struct kiln_store *s, json_t *entries, json_t *previous,
                              const char *dest_dir, struct kiln_error **err)
{
    int r = kilnd_context_check(entries, err);
    return r < 0 ? r : apply(s, entries, previous, NULL, dest_dir, err);
}

int kilnd_context_materialize_delta(struct kiln_store *s, const struct kilnd_context_delta *delta,
                                    const char *dest_dir, struct kiln_error **err)
{
    return apply(s, delta->added, delta->removed, delta->dirs, dest_dir, err);
}
