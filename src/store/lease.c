/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lease.c - leases and the leases table.
 *
 * A lease is alive while some open file description holds flock(LOCK_EX) on
 * DIR/locks/<name>: the kernel drops the lock when its holder dies, however
 * it dies, so a dead holder's lease is found by simply trying the lock. The
 * row (taken after the lock, dropped before the file) is what snapshots
 * (their lease column) and blobs (lease_blobs rows) point at; dropping it
 * releases them (ON DELETE SET NULL, CASCADE).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/strv.h"
#include "internal.h"

#include "base/banned.h"

static const char sql_insert[] = "INSERT INTO leases (name, created) VALUES (?1, ?2)";
static const char sql_delete[] = "DELETE FROM leases WHERE name = ?1";
static const char sql_names[] = "SELECT name FROM leases";
static const char sql_hold_blob[] =
        "INSERT INTO lease_blobs (lease, digest) VALUES (?1, ?2) ON CONFLICT DO NOTHING";

struct kiln_lease {
    struct kiln_store *store;
    char *name;
    int fd; /* holds the lock */
};

/*
 * flock(op) on DIR/locks/<name>, created when missing. A holder unlinks the
 * file before letting go, so a lock on a file no longer at that path is
 * worthless: then try again with the new file.
 */
static int lock_file(int locks_fd, const char *name, int op, int *ret_fd)
{
    for (;;) {
        _cleanup_close_ int fd =
                openat(locks_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return -errno;
        int r;
        do
            r = flock(fd, op);
        while (r < 0 && errno == EINTR);
        struct stat held, now;
        if (r < 0 || fstat(fd, &held) < 0)
            return -errno;
        bool present = fstatat(locks_fd, name, &now, AT_SYMLINK_NOFOLLOW) == 0;
        if (!present && errno != ENOENT)
            return -errno;
        if (present && held.st_dev == now.st_dev && held.st_ino == now.st_ino) {
            *ret_fd = TAKE_FD(fd);
            return 0;
        }
    }
}

static int record(struct kiln_lease *l, struct kiln_error **err)
{
    sqlite3 *db = l->store->db;
    _cleanup_(kiln_db_txn_end) struct kiln_db_txn txn = {0};
    int r = kiln_db_begin(db, &txn, err);
    /* A row left by a dead holder of the same name goes, and what it protected with it. */
    if (r >= 0)
        r = kiln_db_run(db, sql_delete, KILN_DB_ARGS(KILN_DB_TEXT(l->name)), err);
    if (r >= 0)
        r = kiln_db_run(db, sql_insert,
                        KILN_DB_ARGS(KILN_DB_TEXT(l->name), KILN_DB_INT(kiln_store_now())), err);
    if (r >= 0)
        r = kiln_db_commit(&txn, err);
    return r;
}

int kiln_lease_acquire(struct kiln_store *s, const char *name, struct kiln_lease **ret_lease,
                       struct kiln_error **err)
{
    int fd = -1;
    int r = lock_file(s->locks_fd, name, LOCK_EX, &fd);
    if (r < 0)
        return kiln_error_set_errno(err, r, "lock 'locks/%s'", name);
    _cleanup_(kiln_lease_freep) struct kiln_lease *l = kiln_xmalloc(sizeof(*l));
    *l = (struct kiln_lease){.store = s, .name = kiln_xstrdup(name), .fd = fd};
    r = record(l, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "lease '%s'", name);
    *ret_lease = TAKE_PTR(l);
    return 0;
}

int kiln_store_lease_new(struct kiln_store *s, struct kiln_lease **ret_lease,
                         struct kiln_error **err)
{
    char hex[33];
    int r = kiln_store_random_hex(hex, err);
    if (r < 0)
        return r;
    char name[64];
    (void)snprintf(name, sizeof(name), "lease-%s", hex);
    return kiln_lease_acquire(s, name, ret_lease, err);
}

const char *kiln_lease_name(const struct kiln_lease *l)
{
    return l->name;
}

void kiln_lease_free(struct kiln_lease *l)
{
    if (!l)
        return;
    /* When the row cannot go now, the next collection finds the lock free and drops it. */
    (void)kiln_db_run(l->store->db, sql_delete, KILN_DB_ARGS(KILN_DB_TEXT(l->name)), NULL);
    (void)unlinkat(l->store->locks_fd, l->name, 0);
    kiln_closep(&l->fd);
    free(l->name);
    free(l);
}

int kiln_lease_hold_blob(struct kiln_lease *l, const char *digest, struct kiln_error **err)
{
    return kiln_db_run(l->store->db, sql_hold_blob,
                       KILN_DB_ARGS(KILN_DB_TEXT(l->name), KILN_DB_TEXT(digest)), err);
}

static int collect_name(sqlite3_stmt *row, void *userdata)
{
    kiln_strv_push(userdata, (const char *)sqlite3_column_text(row, 0));
    return 0;
}

/* 1 when nobody holds lease `name` (then it is gone: row and file), 0 when somebody does. */
static int expire(struct kiln_store *s, const char *name, struct kiln_error **err)
{
    _cleanup_close_ int fd = -1;
    int r = lock_file(s->locks_fd, name, LOCK_EX | LOCK_NB, &fd);
    if (r == -EWOULDBLOCK)
        return 0;
    if (r < 0)
        return kiln_error_set_errno(err, r, "lock 'locks/%s'", name);
    r = kiln_db_run(s->db, sql_delete, KILN_DB_ARGS(KILN_DB_TEXT(name)), err);
    (void)unlinkat(s->locks_fd, name, 0);
    return r < 0 ? r : 1;
}

int kiln_lease_expire_dead(struct kiln_store *s, struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv names = KILN_STRV_INIT;
    int r = kiln_db_each(s->db, sql_names, KILN_DB_NO_ARGS, collect_name, &names, err);
    for (size_t i = 0; r >= 0 && i < names.n; i++)
        r = expire(s, names.v[i], err);
    return r < 0 ? kiln_error_wrap(err, r, "expire leases") : 0;
}
