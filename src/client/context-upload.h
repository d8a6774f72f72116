/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-upload.h - the content a cloud builder lacks, as the body of
 * PUT /v1/builds/ID/context: a zstd-compressed tar whose members are named
 * `sha256/HEX`, each digest once (docs/internals/context-sync.md).
 *
 *   struct kiln_context_upload *u;
 *   kiln_context_upload_open(dir, entries, missing, &u, &err);
 *   while ((n = kiln_context_upload_read(u, buf, sizeof(buf), &err)) > 0)
 *       send(buf, n);                            n == 0: the end, n < 0: failed
 *   kiln_context_upload_bytes(u);                 compressed bytes handed out
 *   kiln_context_upload_close(u);
 *
 * The tar is produced as it is read, a block of a file at a time: memory
 * stays bounded whatever the size of the context.
 */
#pragma once

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

/* zstd level 1: several hundred MB/s, so compressing costs less than it saves even on a fast
 * network, and incompressible files pass through nearly at copy speed. */
#define KILN_CONTEXT_UPLOAD_ZSTD_LEVEL 1
/* Cap on compressed bytes waiting to be read (one file block compresses to less). */
#define KILN_CONTEXT_UPLOAD_PENDING_MAX (8u * 1024 * 1024)

struct kiln_context_upload;

/*
 * Starts the tar of the files of `entries` (kiln_context_index_build()) whose
 * digest is in `missing` (the builder's answer: an array of "sha256:..."),
 * read from `context_dir`. The caller owns *ret (kiln_context_upload_close()).
 * Errors: KILN_E_UPSTREAM when `missing` names a digest the index does not
 * hold, -errno.
 */
int kiln_context_upload_open(const char *context_dir, json_t *entries, json_t *missing,
                             struct kiln_context_upload **ret, struct kiln_error **err);

/*
 * Fills up to n bytes of buf (ud is the upload) and returns how many, 0 at
 * the end. Every file is hashed again while it is read: a file that no
 * longer matches its index entry fails with KILN_E_INVALID ("'PATH' changed
 * while it was uploaded: run the build again"). After a failure every call
 * fails. Other errors: -errno, KILN_E_LIMIT, -EIO from libarchive.
 */
ssize_t kiln_context_upload_read(void *ud, void *buf, size_t n, struct kiln_error **err);

/* The compressed bytes handed out so far. */
uint64_t kiln_context_upload_bytes(const struct kiln_context_upload *u);

/* Frees the upload and closes its files. NULL is fine. */
void kiln_context_upload_close(struct kiln_context_upload *u);
KILN_DEFINE_CLEANUP(struct kiln_context_upload, kiln_context_upload_close)

/*
 * Push-style: the whole tar through `write` (which returns 0 or a negative
 * code with its message). *ret_bytes (may be NULL) receives the compressed
 * bytes written. Errors: those of the functions above, or what write returned.
 */
int kiln_context_upload_write(const char *context_dir, json_t *entries, json_t *missing,
                              int (*write)(void *ud, const void *buf, size_t n,
                                           struct kiln_error **err),
                              void *ud, uint64_t *ret_bytes, struct kiln_error **err);
