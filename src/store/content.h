/* SPDX-License-Identifier: Apache-2.0 */
/*
 * content.h - content-addressed blobs under DIR/content/blobs/sha256/<hex>.
 *
 *   struct kiln_content_expect e = {.digest = "sha256:...", .size = 1234};
 *   struct kiln_content_writer *w;
 *   kiln_content_writer_open(s, &e, lease, &w, &err);
 *   kiln_content_write(w, p, n, &err);       hashed while written
 *   kiln_content_commit(w, dgst, &err);      verified, fsynced, renamed
 *   kiln_content_writer_free(w);             removes the temp file if not committed
 *
 * A blob is only ever visible under the digest of its bytes.
 */
#pragma once

#include <stdint.h>

#include "base/error.h"
#include "oci/digest.h"
#include "store.h"

struct kiln_content_writer;

struct kiln_content_expect {
    const char *digest;     /* "sha256:<hex>", or NULL: the blob is named by what is written */
    int64_t size;           /* expected size in bytes, or -1 when unknown */
    uint64_t max_size;      /* cap on the bytes written; 0 means KILN_BLOB_MAX */
    const char *media_type; /* recorded with the blob; may be NULL */
};

/*
 * Starts a blob: a temp file DIR/content/ingest/<random> (0600). `lease` (may
 * be NULL) protects the blob from collection until a record or pin holds it.
 * The caller owns *ret_writer. Errors: KILN_E_INVALID for a digest that is
 * not a valid sha256 one or a size below -1, KILN_E_LIMIT for an expected
 * size or media type above its cap, -errno.
 */
int kiln_content_writer_open(struct kiln_store *s, const struct kiln_content_expect *expect,
                             struct kiln_lease *lease, struct kiln_content_writer **ret_writer,
                             struct kiln_error **err);

/*
 * Appends and hashes `len` bytes. Errors: KILN_E_LIMIT past the cap,
 * KILN_E_INVALID past the expected size, -errno. A failed writer stays
 * failed: it can only be freed.
 */
int kiln_content_write(struct kiln_content_writer *w, const void *data, size_t len,
                       struct kiln_error **err);

/*
 * Verifies the digest (and size, when expected), fsyncs the file, renames it
 * into place, fsyncs the directory and records the blob. Committing a blob
 * that exists already succeeds and keeps the one on disk. ret_digest (may be
 * NULL) receives the digest. Errors: KILN_E_INVALID when the content does not
 * match ("blob 'sha256:...' failed verification: got sha256:..., expected
 * sha256:..."; the temp file is removed), -errno, SQLite failures.
 */
int kiln_content_commit(struct kiln_content_writer *w, char ret_digest[KILN_OCI_DIGEST_MAX],
                        struct kiln_error **err);

/* Frees the writer, removing its temp file unless committed. NULL is fine. */
/*
 * Commits n writers of one store at once, as kiln_content_commit() does each,
 * but with one sync of the file system for all their bytes and one
 * transaction: how thousands of small blobs (a build context) are stored
 * without a sync per blob. A writer that fails verification is left out (its
 * temp file removed) and the first such failure is returned, KILN_E_INVALID
 * naming the blob, after the others are committed.
 */
int kiln_content_commit_many(struct kiln_content_writer **ws, size_t n, struct kiln_error **err);

void kiln_content_writer_free(struct kiln_content_writer *w);
KILN_DEFINE_CLEANUP(struct kiln_content_writer, kiln_content_writer_free)

/* One shot: writes `len` bytes as a blob (open, write, commit). Errors as those. */
int kiln_content_put(struct kiln_store *s, const struct kiln_content_expect *expect,
                     struct kiln_lease *lease, const void *data, size_t len,
                     char ret_digest[KILN_OCI_DIGEST_MAX], struct kiln_error **err);

/*
 * Opens blob `digest` for reading (O_RDONLY|O_CLOEXEC) and marks it used;
 * the caller owns *ret_fd. Errors: KILN_E_INVALID, KILN_E_NOTFOUND, -errno.
 */
int kiln_content_open(struct kiln_store *s, const char *digest, int *ret_fd,
                      struct kiln_error **err);

/* The size in bytes of blob `digest`. Errors: KILN_E_INVALID, KILN_E_NOTFOUND. */
int kiln_content_size(struct kiln_store *s, const char *digest, uint64_t *ret_size,
                      struct kiln_error **err);

/* 1 when blob `digest` is in the store, 0 when not. Errors: KILN_E_INVALID. */
int kiln_content_exists(struct kiln_store *s, const char *digest, struct kiln_error **err);
/*
 * Opens blob `digest` as kiln_content_open() does, but without a database
 * call (so without marking it used): for reading thousands of small blobs
 * at once, as a build context does. KILN_E_NOTFOUND when it is not there.
 */
int kiln_content_open_file(struct kiln_store *s, const char *digest, int *ret_fd,
                           struct kiln_error **err);
/* For each of n digests (well formed: the caller checked them), whether the store holds it:
 * one statement for all, as a build context's thousands of files need. */
int kiln_content_exist_many(struct kiln_store *s, const char *const *digests, size_t n,
                            bool *ret_exists, struct kiln_error **err);

/*
 * Deletes blob `digest`. Errors: KILN_E_NOTFOUND, KILN_E_CONFLICT while a
 * cache record or a pin references it, -errno.
 */
int kiln_content_delete(struct kiln_store *s, const char *digest, struct kiln_error **err);

struct kiln_content_info {
    const char *digest;
    uint64_t size;
    uint64_t disk_bytes;    /* allocated on disk */
    const char *media_type; /* NULL when none was recorded */
    int64_t created;        /* nanoseconds since the epoch */
    int64_t last_used;
};

/*
 * Calls fn for every blob in digest order; the info is valid during the call
 * only. fn returns < 0 to stop with that error, > 0 to stop with success.
 */
int kiln_content_walk(struct kiln_store *s,
                      int (*fn)(const struct kiln_content_info *info, void *userdata),
                      void *userdata, struct kiln_error **err);
