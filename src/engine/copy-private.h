/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy-private.h - what the files of COPY share: source selection and
 * directory listing.
 */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "base/strv.h"
#include "copy.h"
#include "dockerfile/dockerignore.h"

/*
 * The paths (relative to the source root, "" for the root itself) the
 * sources of op select, in order: wildcards expanded (sorted; no match is
 * fine), a missing plain path is KILN_E_NOTFOUND ("\"/x\": not found"), and
 * for the context, paths .dockerignore excludes count as missing.
 */
int kiln_copy_select(const struct kiln_vertex_copy *op, const struct kiln_copy_src *src,
                     int root_fd, struct kiln_strv *ret, struct kiln_error **err);

/* How a walk below one selected path filters what it meets. */
struct kiln_copy_walk {
    const struct kiln_copy_src *src;   /* its .dockerignore (context only) */
    const struct kiln_ignore *exclude; /* --exclude patterns, or NULL */
    size_t strip;                      /* bytes of the selected path and its '/' */
};

/* The --exclude patterns of op as a matcher (NULL when none). */
int kiln_copy_excludes(const struct kiln_vertex_copy *op, struct kiln_ignore **ret,
                       struct kiln_error **err);

/*
 * The names in directory fd, sorted bytewise, without those .dockerignore
 * or --exclude drop (`dir` is the directory's path relative to the root;
 * --exclude sees it relative to the selected path).
 */
int kiln_copy_list(int fd, const struct kiln_copy_walk *w, const char *dir, struct kiln_strv *ret,
                   struct kiln_error **err);

/* "dir/name", or name when dir is "". Caller frees. */
char *kiln_copy_join(const char *dir, const char *name);

/* Parses --chmod (octal, or symbolic as chmod(1)) into a mode for an entry of mode `cur`. */
int kiln_copy_chmod(const char *spec, mode_t cur, mode_t *ret, struct kiln_error **err);

/* Whether source s is an http(s) URL (ADD downloads it). */
bool kiln_copy_is_url(const char *s);

/*
 * Downloads `url` into tmp_dir (once per build: a second call reuses the
 * file), checks it against `checksum` ("sha256:..." or NULL). *ret_rel is
 * its path relative to tmp_dir, named as ADD names it; *ret_digest the
 * sha256 of its bytes. Errors: KILN_E_UPSTREAM for the transfer,
 * KILN_E_INVALID for a checksum mismatch naming both digests.
 */
int kiln_copy_fetch(const char *url, const char *tmp_dir, const char *checksum, char **ret_rel,
                    char ret_digest[KILN_OCI_DIGEST_MAX], struct kiln_error **err);
