/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot.c - snapshots, the snapshots table, and the directory trees they
 * are made of (measured on disk, removed at any depth).
 */
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "internal.h"

#include "base/banned.h"

static const char sql_insert[] =
        "INSERT INTO snapshots (id, parent, depth, state, created, last_used, lease)"
        " VALUES (?1, ?2, ?3, 'active', ?4, ?4, ?5)";
static const char sql_get[] = "SELECT parent, depth, state, disk_bytes, created, last_used"
                              " FROM snapshots WHERE id = ?1";
static const char sql_commit[] =
        "UPDATE snapshots SET state = 'committed', disk_bytes = ?2, last_used = ?3"
        " WHERE id = ?1 AND state = 'active'";
static const char sql_delete[] = "DELETE FROM snapshots WHERE id = ?1";
static const char sql_chain[] = "WITH RECURSIVE chain(id, n) AS ("
                                "  SELECT ?1, 0"
                                "  UNION ALL SELECT s.parent, c.n + 1 FROM snapshots s"
                                "  JOIN chain c ON s.id = c.id WHERE s.parent IS NOT NULL)"
                                " SELECT id FROM chain ORDER BY n";

/* Opens directory `name` under dirfd for removal: read, write and search for its owner. */
static int open_for_removal(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES && fchmodat(dirfd, name, 0700, 0) == 0)
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    (void)fchmod(fd, 0700);
    return fd;
}

/* A DIR stream over a duplicate of fd, rewound: the duplicate shares fd's offset. */
static int dup_dir(int fd, DIR **ret)
{
    int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (dfd < 0)
        return -errno;
    DIR *d = fdopendir(dfd);
    if (!d) {
        int r = -errno;
        (void)close(dfd);
        return r;
    }
    rewinddir(d);
    *ret = d;
    return 0;
}

static bool is_dot(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/*
 * Unlinks the non-directories in *fd. On meeting a directory, enters it:
 * *fd becomes the child and its name is pushed on `path`; returns 1.
 * Returns 0 when *fd is empty.
 */
static int clear_level(int *fd, struct kiln_strv *path)
{
    _cleanup_(kiln_closedirp) DIR *d = NULL;
    int r = dup_dir(*fd, &d);
    if (r < 0)
        return r;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (is_dot(de->d_name) || unlinkat(*fd, de->d_name, 0) == 0 || errno == ENOENT)
            continue;
        if (errno != EISDIR)
            return -errno;
        int child = open_for_removal(*fd, de->d_name);
        if (child < 0)
            return child;
        kiln_strv_push(path, de->d_name);
        (void)close(*fd);
        *fd = child;
        return 1;
    }
    return 0;
}

/* Leaves the empty directory *fd for its parent and removes it there. */
static int climb(int *fd, struct kiln_strv *path)
{
    int parent = openat(*fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0)
        return -errno;
    (void)close(*fd);
    *fd = parent;
    _cleanup_free_ char *name = path->v[--path->n];
    path->v[path->n] = NULL;
    return unlinkat(*fd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

int kiln_tree_remove(int dirfd, const char *name)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR)
        return -errno;
    _cleanup_close_ int fd = open_for_removal(dirfd, name);
    if (fd < 0)
        return fd == -ENOENT ? 0 : fd;
    /* Depth first without recursion: the names from `name` down to fd. */
    _cleanup_strv_ struct kiln_strv path = KILN_STRV_INIT;
    for (;;) {
        int r = clear_level(&fd, &path);
        if (r == 0 && path.n == 0)
            break;
        if (r == 0)
            r = climb(&fd, &path);
        if (r < 0)
            return r;
    }
    return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}

int kiln_tree_remove_if(int fd, int (*doomed)(const char *name, void *userdata), void *userdata,
                        struct kiln_error **err)
{
    _cleanup_(kiln_closedirp) DIR *d = NULL;
    int r = dup_dir(fd, &d);
    if (r < 0)
        return kiln_error_set_errno(err, r, "read directory");
    struct dirent *de;
    while ((de = readdir(d))) {
        if (is_dot(de->d_name))
            continue;
        r = doomed ? doomed(de->d_name, userdata) : 1;
        if (r > 0 && (r = kiln_tree_remove(fd, de->d_name)) < 0)
            r = kiln_error_set_errno(err, r, "remove '%s'", de->d_name);
        if (r < 0)
            return r;
    }
    return 0;
}

struct usage {
    uint64_t bytes;
    void *inodes; /* tsearch tree of the multiply linked files seen */
    unsigned depth;
};

struct inode {
    dev_t dev;
    ino_t ino;
};

static int inode_cmp(const void *a, const void *b)
{
    const struct inode *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* True when a file with several links was counted already (and remembers it). */
static bool seen_before(struct usage *u, const struct stat *st)
{
    struct inode *key = kiln_xmalloc(sizeof(*key));
    *key = (struct inode){.dev = st->st_dev, .ino = st->st_ino};
    struct inode **found = tsearch(key, &u->inodes, inode_cmp);
    if (!found)
        abort(); /* out of memory, as kiln_xmalloc */
    if (*found != key) {
        free(key);
        return true;
    }
    return false;
}

static int usage_at(int atfd, const char *name, struct usage *u, struct kiln_error **err)
{
    struct stat st;
    if (fstatat(atfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(err, -errno, "stat '%s'", name);
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && seen_before(u, &st))
        return 0;
    u->bytes += (uint64_t)st.st_blocks * 512;
    if (!S_ISDIR(st.st_mode))
        return 0;
    if (u->depth >= KILN_SNAPSHOT_DEPTH_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "'%s' is nested deeper than %u directories", name,
                              KILN_SNAPSHOT_DEPTH_MAX);
    int fd = openat(atfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_(kiln_closedirp) DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        int r = kiln_error_set_errno(err, -errno, "open directory '%s'", name);
        if (fd >= 0)
            (void)close(fd);
        return r;
    }
    u->depth++;
    struct dirent *de;
    int r = 0;
    while (r >= 0 && (de = readdir(d)))
        if (!is_dot(de->d_name))
            r = usage_at(dirfd(d), de->d_name, u, err);
    u->depth--;
    return r;
}

int kiln_tree_usage(int dirfd, const char *name, uint64_t *ret_bytes, struct kiln_error **err)
{
    struct usage u = {0};
    int r = usage_at(dirfd, name, &u, err);
    tdestroy(u.inodes, free);
    if (r < 0)
        return kiln_error_wrap(err, r, "measure '%s'", name);
    *ret_bytes = u.bytes;
    return 0;
}

void kiln_store_empty_trash(struct kiln_store *s)
{
    /* One emptier at a time; the others leave it to that one. */
    if (flock(s->trash_fd, LOCK_EX | LOCK_NB) < 0)
        return;
    (void)kiln_tree_remove_if(s->trash_fd, NULL, NULL, NULL);
    (void)flock(s->trash_fd, LOCK_UN);
}

int kiln_snapshot_check_id(const char *id, struct kiln_error **err)
{
    size_t n = strspn(id, "0123456789abcdef");
    if (n != KILN_SNAPSHOT_ID_SIZE - 1 || id[n])
        return kiln_error_set(err, KILN_E_INVALID,
                              "snapshot id '%.80s' is not 32 lower-case hex digits", id);
    return 0;
}

int kiln_snapshot_stat(struct kiln_store *s, const char *id, struct kiln_snapshot_info *ret_info,
                       struct kiln_error **err)
{
    _cleanup_(kiln_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kiln_snapshot_check_id(id, err);
    if (r >= 0)
        r = kiln_db_prepare(s->db, sql_get, KILN_DB_ARGS(KILN_DB_TEXT(id)), &st, err);
    if (r >= 0)
        r = kiln_db_step(st, err);
    if (r == 0)
        return kiln_error_set(err, KILN_E_NOTFOUND, "snapshot '%s' not found", id);
    if (r < 0)
        return r;
    struct kiln_snapshot_info info = {
            .committed = strcmp((const char *)sqlite3_column_text(st, 2), "committed") == 0,
            .depth = (unsigned)sqlite3_column_int64(st, 1),
            .disk_bytes = (uint64_t)sqlite3_column_int64(st, 3),
            .created = sqlite3_column_int64(st, 4),
            .last_used = sqlite3_column_int64(st, 5),
    };
    memcpy(info.id, id, sizeof(info.id));
    const char *parent = (const char *)sqlite3_column_text(st, 0);
    if (parent)
        (void)snprintf(info.parent, sizeof(info.parent), "%s", parent);
    *ret_info = info;
    return 0;
}

/* The depth a child of `parent` gets, after checking the parent can have one. */
static int child_depth(struct kiln_store *s, const char *parent, int64_t *ret_depth,
                       struct kiln_error **err)
{
    struct kiln_snapshot_info info;
    if (!parent) {
        *ret_depth = 0;
        return 0;
    }
    int r = kiln_snapshot_stat(s, parent, &info, err);
    if (r < 0)
        return r;
    if (!info.committed)
        return kiln_error_set(err, KILN_E_CONFLICT,
                              "snapshot '%s' is active; commit it before building on it", parent);
    if (info.depth + 2 > KILN_SNAPSHOT_CHAIN_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "snapshot '%s' has %u parents, the limit is %u",
                              parent, info.depth, KILN_SNAPSHOT_CHAIN_MAX - 1);
    *ret_depth = info.depth + 1;
    return 0;
}

/* DIR/snapshots/<id>/{fs,work}. */
static int make_dirs(struct kiln_store *s, const char *id, struct kiln_error **err)
{
    if (mkdirat(s->snapshots_fd, id, 0700) < 0)
        return kiln_error_set_errno(err, -errno, "create snapshot '%s'", id);
    _cleanup_close_ int fd = openat(s->snapshots_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || mkdirat(fd, "fs", 0755) < 0 || mkdirat(fd, "work", 0700) < 0)
        return kiln_error_set_errno(err, -errno, "create snapshot '%s'", id);
    return 0;
}

int kiln_snapshot_prepare(struct kiln_store *s, const char *parent, struct kiln_lease *lease,
                          char ret_id[KILN_SNAPSHOT_ID_SIZE], struct kiln_error **err)
{
    char id[KILN_SNAPSHOT_ID_SIZE];
    int64_t depth = 0;
    _cleanup_(kiln_db_txn_end) struct kiln_db_txn txn = {0};
    int r = kiln_store_random_hex(id, err);
    if (r >= 0)
        r = kiln_db_begin(s->db, &txn, err);
    if (r >= 0)
        r = child_depth(s, parent, &depth, err);
    if (r >= 0)
        r = kiln_db_run(s->db, sql_insert,
                        KILN_DB_ARGS(KILN_DB_TEXT(id), KILN_DB_TEXT(parent), KILN_DB_INT(depth),
                                     KILN_DB_INT(kiln_store_now()),
                                     KILN_DB_TEXT(lease ? kiln_lease_name(lease) : NULL)),
                        err);
    if (r >= 0)
        r = make_dirs(s, id, err);
    kiln_store_failpoint("snapshot-after-mkdir");
    if (r >= 0)
        r = kiln_db_commit(&txn, err);
    if (r < 0) {
        (void)kiln_tree_remove(s->snapshots_fd, id);
        return kiln_error_wrap(err, r, "prepare snapshot");
    }
    memcpy(ret_id, id, sizeof(id));
    return 0;
}

/* Removes work/, measures the tree and syncs the file system under it. */
static int seal(struct kiln_store *s, const char *id, uint64_t *ret_bytes, struct kiln_error **err)
{
    _cleanup_close_ int fd = openat(s->snapshots_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "open snapshot '%s'", id);
    int r = kiln_tree_remove(fd, "work");
    if (r < 0)
        return kiln_error_set_errno(err, r, "remove 'work' of snapshot '%s'", id);
    r = kiln_tree_usage(s->snapshots_fd, id, ret_bytes, err);
    if (r >= 0 && syncfs(fd) < 0)
        r = kiln_error_set_errno(err, -errno, "sync snapshot '%s'", id);
    return r;
}

int kiln_snapshot_commit(struct kiln_store *s, const char *id, uint64_t *ret_bytes,
                         struct kiln_error **err)
{
    struct kiln_snapshot_info info;
    uint64_t bytes = 0;
    int r = kiln_snapshot_stat(s, id, &info, err);
    if (r < 0)
        return r;
    if (info.committed)
        return kiln_error_set(err, KILN_E_CONFLICT, "snapshot '%s' is already committed", id);
    r = seal(s, id, &bytes, err);
    kiln_store_failpoint("snapshot-before-commit");
    if (r >= 0)
        r = kiln_db_run(s->db, sql_commit,
                        KILN_DB_ARGS(KILN_DB_TEXT(id), KILN_DB_INT((int64_t)bytes),
                                     KILN_DB_INT(kiln_store_now())),
                        err);
    if (r == 0)
        r = kiln_error_set(err, KILN_E_CONFLICT, "snapshot '%s' changed while committing", id);
    if (r < 0)
        return kiln_error_wrap(err, r, "commit snapshot '%s'", id);
    if (ret_bytes)
        *ret_bytes = bytes;
    return 0;
}

int kiln_snapshot_drop(struct kiln_store *s, const char *id, struct kiln_error **err)
{
    int r = kiln_db_run(s->db, sql_delete, KILN_DB_ARGS(KILN_DB_TEXT(id)), err);
    if (r == KILN_E_CONFLICT)
        return kiln_error_set(err, r, "snapshot '%s' is still used by a cache record or a child",
                              id);
    if (r == 0)
        return kiln_error_set(err, KILN_E_NOTFOUND, "snapshot '%s' not found", id);
    if (r > 0 && renameat(s->snapshots_fd, id, s->trash_fd, id) < 0 && errno != ENOENT)
        r = kiln_error_set_errno(err, -errno, "move snapshot '%s' to the trash", id);
    return r < 0 ? kiln_error_wrap(err, r, "remove snapshot '%s'", id) : 0;
}

int kiln_snapshot_remove(struct kiln_store *s, const char *id, struct kiln_error **err)
{
    _cleanup_(kiln_db_txn_end) struct kiln_db_txn txn = {0};
    int r = kiln_snapshot_check_id(id, err);
    if (r >= 0)
        r = kiln_db_begin(s->db, &txn, err);
    if (r >= 0)
        r = kiln_snapshot_drop(s, id, err);
    if (r >= 0)
        r = kiln_db_commit(&txn, err);
    if (r >= 0)
        kiln_store_empty_trash(s);
    return r;
}

int kiln_snapshot_path(struct kiln_store *s, const char *id, char **ret_path,
                       struct kiln_error **err)
{
    struct kiln_snapshot_info info;
    int r = kiln_snapshot_stat(s, id, &info, err);
    if (r < 0)
        return r;
    *ret_path = kiln_xasprintf("%s/snapshots/%s/fs", s->dir, id);
    return 0;
}

struct chain {
    struct kiln_store *s;
    struct kiln_strv *paths;
};

static int chain_row(sqlite3_stmt *row, void *userdata)
{
    struct chain *c = userdata;
    kiln_strv_take(c->paths, kiln_xasprintf("%s/snapshots/%s/fs", c->s->dir,
                                            (const char *)sqlite3_column_text(row, 0)));
    return 0;
}

int kiln_snapshot_chain(struct kiln_store *s, const char *id, struct kiln_strv *ret_paths,
                        struct kiln_error **err)
{
    struct kiln_snapshot_info info;
    _cleanup_strv_ struct kiln_strv paths = KILN_STRV_INIT;
    struct chain c = {s, &paths};
    int r = kiln_snapshot_stat(s, id, &info, err);
    if (r >= 0)
        r = kiln_db_each(s->db, sql_chain, KILN_DB_ARGS(KILN_DB_TEXT(id)), chain_row, &c, err);
    if (r < 0)
        return r;
    *ret_paths = paths;
    paths = (struct kiln_strv)KILN_STRV_INIT;
    return 0;
}
