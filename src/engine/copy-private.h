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

/*
 * The paths (relative to the source root, "" for the root itself) the
 * sources of op select, in order: wildcards expanded (sorted; no match is
 * fine), a missing plain path is KILN_E_NOTFOUND ("\"/x\": not found"), and
 * for the context, paths .dockerignore excludes count as missing.
 */
int kiln_copy_select(const struct kiln_vertex_copy *op, const struct kiln_copy_src *src,
                     int root_fd, struct kiln_strv *ret, struct kiln_error **err);

/*
 * The names in directory fd, sorted bytewise, without those the context
 * filter excludes (`dir` is the directory's path relative to the root).
 */
int kiln_copy_list(int fd, const struct kiln_copy_src *src, const char *dir, struct kiln_strv *ret,
                   struct kiln_error **err);

/* "dir/name", or name when dir is "". Caller frees. */
char *kiln_copy_join(const char *dir, const char *name);

/* Parses --chmod (octal, or symbolic as chmod(1)) into a mode for an entry of mode `cur`. */
int kiln_copy_chmod(const char *spec, mode_t cur, mode_t *ret, struct kiln_error **err);
