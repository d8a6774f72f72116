/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-sync.h - a build's context, synchronised by content
 * (docs/internals/context-sync.md): the client's index is checked, the
 * builder's store says which digests it lacks, the client uploads those as
 * a tar of `sha256/HEX` members into the store, and the worker recreates the
 * context from the index and the store.
 */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "base/error.h"
#include "store/store.h"

/* Caps on the index (docs/internals/cloud-api.md). */
#define KILND_CONTEXT_ENTRIES_MAX   1000000u
#define KILND_CONTEXT_PATH_MAX      4096u
#define KILND_CONTEXT_COMPONENT_MAX 255u
#define KILND_CONTEXT_LINK_MAX      4095u
#define KILND_CONTEXT_FILE_MAX      (64ull * 1024 * 1024 * 1024)
/* Bytes of an upload's members that are skipped (not wanted) before it is refused. */
#define KILND_CONTEXT_SKIP_MAX (1ull * 1024 * 1024 * 1024)

/*
 * Checks an index from a client, which may be hostile: an array of at most
 * KILND_CONTEXT_ENTRIES_MAX objects, each with a clean relative "path" (no
 * "", "." or ".." component, no leading or doubled '/', no NUL, at most
 * KILND_CONTEXT_PATH_MAX bytes), present once and after its parent, which
 * must be a directory of the index; an integer "mode" of a directory,
 * regular file or symbolic link with no bits beyond 07777; an integer "size"
 * in [0, KILND_CONTEXT_FILE_MAX] and "mtime"; "digest" ("sha256:" and 64
 * lower-case hex digits) on regular files only; "link" (a non-empty target
 * of at most KILND_CONTEXT_LINK_MAX bytes, anywhere: it is never followed)
 * on links only. Errors: KILN_E_INVALID naming the entry and the rule,
 * KILN_E_LIMIT past a cap.
 */
int kilnd_context_check(json_t *entries, struct kiln_error **err);

/*
 * The distinct digests of the checked index `entries` that the store lacks,
 * in index order, as a new array in *ret_missing (caller owns it).
 * Errors: those of kiln_content_exists().
 */
int kilnd_context_missing(struct kiln_store *s, json_t *entries, json_t **ret_missing,
                          struct kiln_error **err);
/*
 * Of n distinct digests (well formed: checked before), those the store
 * lacks, in order, as a new array in *ret_missing (caller owns it).
 */
int kilnd_context_lacking(struct kiln_store *s, const char *const *digests, size_t n,
                          json_t **ret_missing, struct kiln_error **err);

/*
 * Reads a tar (gzip-compressed or not) from tar_fd and stores each regular
 * member named `sha256/HEX` whose digest is in `wanted` (an array of
 * digests) once, verified against its name. Members already stored earlier in
 * the stream and members not wanted are skipped (at most
 * KILND_CONTEXT_SKIP_MAX bytes of them); directories are skipped.
 * *ret_stored (may be NULL) receives the number of blobs stored. Every member
 * completed before a failure stays stored, so a cut upload resumes with what
 * is still missing. Errors: KILN_E_INVALID for "upload of sha256:... does not
 * match its digest" (nothing is stored under it), "upload ended early" (a
 * truncated or corrupt stream), a member of another name or type; KILN_E_LIMIT
 * past a cap; -errno, store errors.
 */
int kilnd_context_receive(struct kiln_store *s, int tar_fd, json_t *wanted, size_t *ret_stored,
                          struct kiln_error **err);

/*
 * Recreates the checked index `entries` under dest_dir: directories, regular
 * files copied from the store, symbolic links as links. dest_dir is empty,
 * or holds exactly the tree of the index `previous` (a context kept from an
 * earlier build): then only what differs is removed and written again, so an
 * unchanged context costs no copy and keeps its inodes.
 * the index's permission bits (07777) and mtimes; owned by the caller
 * (root in kilnd). Every path is opened beneath dest_dir without following
 * any symbolic link (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so an
 * index can never write outside it. Errors: those of kilnd_context_check(),
 * KILN_E_NOTFOUND for content the store lacks, KILN_E_INVALID for content
 * whose size differs from the index, -errno naming the path.
 */
int kilnd_context_materialize(struct kiln_store *s, json_t *entries, json_t *previous,
                              const char *dest_dir, struct kiln_error **err);

struct kilnd_context_delta;
/*
 * The same from what differs between two indexes that were checked when
 * kept (context-delta.h): dest_dir holds the tree of the older one.
 */
int kilnd_context_materialize_delta(struct kiln_store *s, const struct kilnd_context_delta *delta,
                                    const char *dest_dir, struct kiln_error **err);
