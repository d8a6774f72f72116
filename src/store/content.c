/* SPDX-License-Identifier: Apache-2.0 */
/*
 * content.c - the content store and the blobs table.
 *
 * A blob is written to DIR/content/ingest/<random>, hashed on the way, and
 * only renamed to DIR/content/blobs/sha256/<hex> once its digest (and size)
 * checked out and its bytes were fsynced. The rename and the row happen in
 * one write transaction, which also serialises them against garbage
 * collection deleting the same digest.
 */
#include "content.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "internal.h"

#include "base/banned.h"

static const char sql_upsert[] =
        "INSERT INTO blobs (digest, size, disk_bytes, media_type, created, last_used)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?5)"
        " ON CONFLICT (digest) DO UPDATE SET last_used = ?5, media_type = coalesce(media_type, ?4)";
static const char sql_touch[] = "UPDATE blobs SET last_used = ?2 WHERE digest = ?1";
static const char sql_size[] = "SELECT size FROM blobs WHERE digest = ?1";
static const char sql_delete[] = "DELETE FROM blobs WHERE digest = ?1";
static const char sql_pinned[] = "SELECT count(*) FROM pins WHERE blob = ?1";
static const char sql_walk[] = "SELECT digest, size, disk_bytes, media_type, created, last_used"
                               " FROM blobs ORDER BY digest";

struct kiln_content_writer {
    struct kiln_store *store;
    struct kiln_lease *lease;
    int fd; /* the temp file, -1 once committed or removed */
    char name[33];
    char expected[KILN_OCI_DIGEST_MAX]; /* "" when the writer names the blob */
    int64_t expected_size;
    uint64_t max_size;
    uint64_t written;
    char *media_type;
    struct kiln_oci_digester digester;
    int failed; /* the error that poisoned the writer, or 0 */
};

int kiln_content_hex(const char *digest, const char **ret_hex, struct kiln_error **err)
{
    int r = kiln_oci_digest_validate(digest, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "blob digest '%s'", digest);
    if (r > 0 || strncmp(digest, "sha256:", 7) != 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "blob digest '%s' is not supported: the store holds sha256 only",
                              digest);
    *ret_hex = digest + 7;
    return 0;
}

/* How messages name the blob being written. */
static const char *blob_name(const struct kiln_content_writer *w)
{
    return w->expected[0] ? w->expected : "(digest not known yet)";
}

/* Removes the temp file and keeps `r` as the writer's error. */
static int writer_fail(struct kiln_content_writer *w, int r)
{
    if (w->fd >= 0) {
        (void)unlinkat(w->store->ingest_fd, w->name, 0);
        kiln_closep(&w->fd);
        w->fd = -1;
    }
    w->failed = r;
    return r;
}

static int check_expect(const struct kiln_content_expect *e, struct kiln_error **err)
{
    const char *hex;
    if (e->digest) {
        int r = kiln_content_hex(e->digest, &hex, err);
        if (r < 0)
            return r;
    }
    if (e->size < -1)
        return kiln_error_set(err, KILN_E_INVALID, "blob '%s': size %lld is negative",
                              e->digest ? e->digest : "", (long long)e->size);
    uint64_t max = e->max_size && e->max_size < KILN_BLOB_MAX ? e->max_size : KILN_BLOB_MAX;
    if (e->size >= 0 && (uint64_t)e->size > max)
        return kiln_error_set(
                err, KILN_E_LIMIT, "blob '%s' of %lld bytes exceeds the limit of %llu bytes",
                e->digest ? e->digest : "", (long long)e->size, (unsigned long long)max);
    return e->media_type ? kiln_store_check_name(e->media_type, "media type", err) : 0;
}

int kiln_content_writer_open(struct kiln_store *s, const struct kiln_content_expect *expect,
                             struct kiln_lease *lease, struct kiln_content_writer **ret_writer,
                             struct kiln_error **err)
{
    int r = check_expect(expect, err);
    if (r < 0)
        return r;
    _cleanup_(kiln_content_writer_freep) struct kiln_content_writer *w =
            kiln_xcalloc(1, sizeof(*w));
    w->store = s;
    w->lease = lease;
    w->fd = -1;
    w->expected_size = expect->size;
    w->max_size =
            expect->max_size && expect->max_size < KILN_BLOB_MAX ? expect->max_size : KILN_BLOB_MAX;
    if (expect->digest)
        (void)snprintf(w->expected, sizeof(w->expected), "%s", expect->digest);
    w->media_type = expect->media_type ? kiln_xstrdup(expect->media_type) : NULL;
    r = kiln_oci_digester_init(&w->digester, KILN_OCI_SHA256, err);
    if (r >= 0)
        r = kiln_store_random_hex(w->name, err);
    if (r < 0)
        return r;
    w->fd = openat(s->ingest_fd, w->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   0600);
    if (w->fd < 0)
        return kiln_error_set_errno(err, -errno, "create 'content/ingest/%s'", w->name);
    *ret_writer = TAKE_PTR(w);
    return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Whether `len` more bytes fit the cap and the expected size. */
static int check_room(const struct kiln_content_writer *w, size_t len, struct kiln_error **err)
{
    if (len > w->max_size - w->written)
        return kiln_error_set(err, KILN_E_LIMIT, "blob '%s' exceeds the limit of %llu bytes",
                              blob_name(w), (unsigned long long)w->max_size);
    if (w->expected_size >= 0 && w->written + len > (uint64_t)w->expected_size)
        return kiln_error_set(err, KILN_E_INVALID,
                              "blob '%s' failed verification: more than the expected %lld bytes",
                              blob_name(w), (long long)w->expected_size);
    return 0;
}

int kiln_content_write(struct kiln_content_writer *w, const void *data, size_t len,
                       struct kiln_error **err)
{
    if (w->failed || w->fd < 0)
        return kiln_error_set(err, w->failed ? w->failed : KILN_E_INVALID,
                              "blob '%s': write after failure or commit", blob_name(w));
    int r = check_room(w, len, err);
    if (r >= 0)
        r = kiln_oci_digester_update(&w->digester, data, len, err);
    if (r >= 0 && (r = write_all(w->fd, data, len)) < 0)
        r = kiln_error_set_errno(err, r, "write 'content/ingest/%s'", w->name);
    if (r < 0)
        return writer_fail(w, r);
    w->written += len;
    return 0;
}

/* The digest of what was written, checked against what was expected. */
static int verify(struct kiln_content_writer *w, char got[KILN_OCI_DIGEST_MAX],
                  struct kiln_error **err)
{
    int r = kiln_oci_digester_final(&w->digester, got, err);
    if (r < 0)
        return r;
    if (w->expected_size >= 0 && w->written != (uint64_t)w->expected_size)
        return kiln_error_set(
                err, KILN_E_INVALID, "blob '%s' failed verification: got %llu bytes, expected %lld",
                blob_name(w), (unsigned long long)w->written, (long long)w->expected_size);
    if (w->expected[0] && strcmp(got, w->expected) != 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "blob '%s' failed verification: got %s, expected %s", w->expected,
                              got, w->expected);
    return 0;
}

/*
 * In the caller's transaction: moves the temp file to blobs/sha256/<hex>
 * (keeping an existing blob: it has the same bytes) and records the blob with
 * what it takes on disk. The caller syncs the directory before committing.
 */
static int publish(struct kiln_content_writer *w, const char *digest, struct kiln_error **err)
{
    struct kiln_store *s = w->store;
    const char *hex = digest + 7;
    if (renameat2(s->ingest_fd, w->name, s->blobs_fd, hex, RENAME_NOREPLACE) < 0) {
        if (errno != EEXIST)
            return kiln_error_set_errno(err, -errno, "rename blob '%s' into place", digest);
        (void)unlinkat(s->ingest_fd, w->name, 0);
    }
    kiln_closep(&w->fd);
    w->fd = -1;
    kiln_store_failpoint("content-after-rename");
    struct stat st;
    if (fstatat(s->blobs_fd, hex, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(err, -errno, "stat blob '%s'", digest);
    int r = kiln_db_run(s->db, sql_upsert,
                        KILN_DB_ARGS(KILN_DB_TEXT(digest), KILN_DB_INT((int64_t)w->written),
                                     KILN_DB_INT((int64_t)st.st_blocks * 512),
                                     KILN_DB_TEXT(w->media_type), KILN_DB_INT(kiln_store_now())),
                        err);
    if (r >= 0 && w->lease)
        r = kiln_lease_hold_blob(w->lease, digest, err);
    return r < 0 ? kiln_error_wrap(err, r, "record blob '%s'", digest) : 0;
}

int kiln_content_commit(struct kiln_content_writer *w, char ret_digest[KILN_OCI_DIGEST_MAX],
                        struct kiln_error **err)
{
    if (w->failed || w->fd < 0)
        return kiln_error_set(err, w->failed ? w->failed : KILN_E_INVALID,
                              "blob '%s': commit after failure or commit", blob_name(w));
    char got[KILN_OCI_DIGEST_MAX];
    int r = verify(w, got, err);
    if (r < 0)
        return writer_fail(w, r);
    kiln_store_failpoint("content-before-sync");
    if (fsync(w->fd) < 0)
        return writer_fail(w, kiln_error_set_errno(err, -errno, "sync blob '%s'", got));
    _cleanup_(kiln_db_txn_end) struct kiln_db_txn txn = {0};
    r = kiln_db_begin(w->store->db, &txn, err);
    if (r >= 0)
        r = publish(w, got, err);
    if (r >= 0 && fsync(w->store->blobs_fd) < 0)
        r = kiln_error_set_errno(err, -errno, "sync blob '%s'", got);
    if (r >= 0)
        r = kiln_db_commit(&txn, err);
    if (r < 0)
        return writer_fail(w, r);
    if (ret_digest)
        memcpy(ret_digest, got, sizeof(got));
    return 0;
}

int kiln_content_commit_many(struct kiln_content_writer **ws, size_t n, struct kiln_error **err)
{
    if (n == 0)
        return 0;
    struct kiln_store *s = ws[0]->store;
    char(*got)[KILN_OCI_DIGEST_MAX] = kiln_xcalloc(n, sizeof(*got));
    bool *ok = kiln_xcalloc(n, sizeof(*ok));
    int first = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        struct kiln_error **e = first ? NULL : err;
        if (ws[i]->failed || ws[i]->fd < 0)
            r = kiln_error_set(e, KILN_E_INVALID, "blob '%s': commit after failure or commit",
                               blob_name(ws[i]));
        else if ((r = verify(ws[i], got[i], e)) < 0)
            writer_fail(ws[i], r);
        ok[i] = r >= 0;
        if (r < 0 && !first)
            first = r;
    }
    /* one sync of the file system for every blob's bytes, before any is renamed */
    r = syncfs(s->ingest_fd) < 0 ? kiln_error_set_errno(err, -errno, "sync %zu blobs", n) : 0;
    _cleanup_(kiln_db_txn_end) struct kiln_db_txn txn = {0};
    if (r >= 0)
        r = kiln_db_begin(s->db, &txn, err);
    for (size_t i = 0; i < n && r >= 0; i++)
        if (ok[i])
            r = publish(ws[i], got[i], err);
    if (r >= 0 && fsync(s->blobs_fd) < 0)
        r = kiln_error_set_errno(err, -errno, "sync %zu blobs", n);
    if (r >= 0)
        r = kiln_db_commit(&txn, err);
    for (size_t i = 0; i < n && r < 0; i++)
        writer_fail(ws[i], r);
    free(got);
    free(ok);
    return r < 0 ? r : first;
}

void kiln_content_writer_free(struct kiln_content_writer *w)
{
    if (!w)
        return;
    (void)writer_fail(w, 0);
    kiln_oci_digester_release(&w->digester);
    free(w->media_type);
    free(w);
}

int kiln_content_put(struct kiln_store *s, const struct kiln_content_expect *expect,
                     struct kiln_lease *lease, const void *data, size_t len,
                     char ret_digest[KILN_OCI_DIGEST_MAX], struct kiln_error **err)
{
    _cleanup_(kiln_content_writer_freep) struct kiln_content_writer *w = NULL;
    int r = kiln_content_writer_open(s, expect, lease, &w, err);
    if (r >= 0)
        r = kiln_content_write(w, data, len, err);
    if (r >= 0)
        r = kiln_content_commit(w, ret_digest, err);
    return r;
}

int kiln_content_open(struct kiln_store *s, const char *digest, int *ret_fd,
                      struct kiln_error **err)
{
    const char *hex;
    int r = kiln_content_hex(digest, &hex, err);
    if (r < 0)
        return r;
    r = kiln_db_run(s->db, sql_touch,
                    KILN_DB_ARGS(KILN_DB_TEXT(digest), KILN_DB_INT(kiln_store_now())), err);
    if (r < 0)
        return kiln_error_wrap(err, r, "open blob '%s'", digest);
    if (r == 0)
        return kiln_error_set(err, KILN_E_NOTFOUND, "blob '%s' not found", digest);
    int fd = openat(s->blobs_fd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "open blob '%s'", digest);
    *ret_fd = fd;
    return 0;
}

int kiln_content_open_file(struct kiln_store *s, const char *digest, int *ret_fd,
                           struct kiln_error **err)
{
    const char *hex;
    int r = kiln_content_hex(digest, &hex, err);
    if (r < 0)
        return r;
    int fd = openat(s->blobs_fd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? kiln_error_set(err, KILN_E_NOTFOUND, "blob '%s' not found", digest)
                               : kiln_error_set_errno(err, -errno, "open blob '%s'", digest);
    *ret_fd = fd;
    return 0;
}

/* 1 and the size when blob `digest` is recorded, 0 when not. */
static int lookup_size(struct kiln_store *s, const char *digest, int64_t *ret_size,
                       struct kiln_error **err)
{
    const char *hex;
    int r = kiln_content_hex(digest, &hex, err);
    if (r >= 0)
        r = kiln_db_int(s->db, sql_size, KILN_DB_ARGS(KILN_DB_TEXT(digest)), ret_size, err);
    return r;
}

int kiln_content_size(struct kiln_store *s, const char *digest, uint64_t *ret_size,
                      struct kiln_error **err)
{
    int64_t size = 0;
    int r = lookup_size(s, digest, &size, err);
    if (r == 0)
        return kiln_error_set(err, KILN_E_NOTFOUND, "blob '%s' not found", digest);
    if (r < 0)
        return r;
    *ret_size = (uint64_t)size;
    return 0;
}

int kiln_content_exists(struct kiln_store *s, const char *digest, struct kiln_error **err)
{
    int64_t size;
    return lookup_size(s, digest, &size, err);
}

int kiln_content_exist_many(struct kiln_store *s, const char *const *digests, size_t n,
                            bool *ret_exists, struct kiln_error **err)
{
    _cleanup_(kiln_db_finalizep) sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql_size, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return kiln_db_fail(s->db, rc, err);
    /* one read transaction: one lock of the database for every lookup */
    if ((rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
        return kiln_db_fail(s->db, rc, err);
    for (size_t i = 0; i < n && (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE); i++) {
        sqlite3_bind_text(st, 1, digests[i], -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        ret_exists[i] = rc == SQLITE_ROW;
        sqlite3_reset(st);
    }
    int r = rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE ? 0
                                                                     : kiln_db_fail(s->db, rc, err);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return r;
}

int kiln_content_drop(struct kiln_store *s, const char *digest, struct kiln_error **err)
{
    int r = kiln_db_run(s->db, sql_delete, KILN_DB_ARGS(KILN_DB_TEXT(digest)), err);
    if (r == KILN_E_CONFLICT)
        return kiln_error_set(err, r, "blob '%s' is still used by a cache record", digest);
    if (r < 0)
        return kiln_error_wrap(err, r, "delete blob '%s'", digest);
    if (r == 0)
        return kiln_error_set(err, KILN_E_NOTFOUND, "blob '%s' not found", digest);
    if (unlinkat(s->blobs_fd, digest + 7, 0) < 0 && errno != ENOENT)
        return kiln_error_set_errno(err, -errno, "delete blob '%s'", digest);
    return 0;
}

int kiln_content_delete(struct kiln_store *s, const char *digest, struct kiln_error **err)
{
    const char *hex;
    int64_t pins = 0;
    int r = kiln_content_hex(digest, &hex, err);
    if (r < 0)
        return r;
    _cleanup_(kiln_db_txn_end) struct kiln_db_txn txn = {0};
    r = kiln_db_begin(s->db, &txn, err);
    if (r >= 0)
        r = kiln_db_int(s->db, sql_pinned, KILN_DB_ARGS(KILN_DB_TEXT(digest)), &pins, err);
    if (r >= 0 && pins > 0)
        return kiln_error_set(err, KILN_E_CONFLICT, "blob '%s' is pinned", digest);
    if (r >= 0)
        r = kiln_content_drop(s, digest, err);
    if (r >= 0)
        r = kiln_db_commit(&txn, err);
    return r;
}

struct walk_ctx {
    int (*fn)(const struct kiln_content_info *info, void *userdata);
    void *userdata;
};

static int walk_row(sqlite3_stmt *row, void *userdata)
{
    struct walk_ctx *ctx = userdata;
    struct kiln_content_info info = {
            .digest = (const char *)sqlite3_column_text(row, 0),
            .size = (uint64_t)sqlite3_column_int64(row, 1),
            .disk_bytes = (uint64_t)sqlite3_column_int64(row, 2),
            .media_type = (const char *)sqlite3_column_text(row, 3),
            .created = sqlite3_column_int64(row, 4),
            .last_used = sqlite3_column_int64(row, 5),
    };
    return ctx->fn(&info, ctx->userdata);
}

int kiln_content_walk(struct kiln_store *s,
                      int (*fn)(const struct kiln_content_info *info, void *userdata),
                      void *userdata, struct kiln_error **err)
{
    struct walk_ctx ctx = {.fn = fn, .userdata = userdata};
    return kiln_db_each(s->db, sql_walk, KILN_DB_NO_ARGS, walk_row, &ctx, err);
}
