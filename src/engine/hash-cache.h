/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hash-cache.h - the sha256 of files' bytes, remembered by (path, device,
 * inode, size, mtime, ctime, mode) so an unchanged file is not read again by
 * the next build; kept in one file, rewritten atomically (temp file, fsync,
 * rename). Thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "oci/digest.h"

/* Entries kept at most; past it the cache stops growing. */
#define KILN_HASH_CACHE_MAX 4000000u
/* A cache file larger than this is ignored (bytes). */
#define KILN_HASH_CACHE_FILE_MAX (1024ull * 1024 * 1024)

struct kiln_hash_cache;

/* Loads `path` (a missing or unreadable file is an empty cache). The caller frees *ret. */
int kiln_hash_cache_open(const char *path, struct kiln_hash_cache **ret, struct kiln_error **err);

/*
 * The cache of the build context context_dir, kept in cache_dir (created when
 * missing) as a file named by the sha256 of the context's absolute path.
 */
int kiln_hash_cache_open_for(const char *cache_dir, const char *context_dir,
                             struct kiln_hash_cache **ret, struct kiln_error **err);

/* Writes the cache back when it changed. NULL is fine. Errors: -errno. */
int kiln_hash_cache_save(struct kiln_hash_cache *c, struct kiln_error **err);

void kiln_hash_cache_free(struct kiln_hash_cache *c);
KILN_DEFINE_CLEANUP(struct kiln_hash_cache, kiln_hash_cache_free)

/* The remembered digest of `path` with metadata st: true and ret, or false. */
bool kiln_hash_cache_get(struct kiln_hash_cache *c, const char *path, const struct stat *st,
                         char ret[KILN_OCI_DIGEST_MAX]);

/* Remembers the digest of `path` with metadata st. */
void kiln_hash_cache_put(struct kiln_hash_cache *c, const char *path, const struct stat *st,
                         const char *digest);
