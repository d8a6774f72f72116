/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy-private.h - what the files of COPY/ADD and WORKDIR share: paths
 * opened inside a root and the selection of sources (copy-select.c),
 * --chmod (copy-chmod.c), archives (copy-unpack.c) and URLs (copy-url.c).
 */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "base/strv.h"
#include "copy.h"
#include "dockerfile/dockerignore.h"

/*
 * Opens `path` (absolute or relative: taken from the root either way)
 * inside directory fd `root` with open(2) `flags` (O_CLOEXEC added):
 * openat2 with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, so ".." and
 * absolute symlinks stop at the root as if it were "/". Returns the fd or
 * -errno.
 */
int kiln_copy_open_in_root(int root, const char *path, int flags);

/*
 * Makes directory `name` in directory fd `dir` with `mode` and owner
 * uid:gid, set through the new directory's own fd so that nothing is done
 * through a symbolic link. Returns that fd (O_RDONLY) or -errno: -EEXIST
 * when something is in the way (a dangling symlink when the caller's
 * in-root lookup found nothing).
 */
int kiln_copy_mkdir_at(int dir, const char *name, mode_t mode, uid_t uid, gid_t gid);

/* What a COPY reads from one source root. */
struct kiln_copy_sel {
    const struct kiln_copy_src *src;
    int root;                    /* src->root, opened */
    struct kiln_ignore *exclude; /* --exclude; NULL for none */
};

/*
 * Opens src->root and compiles op's --exclude patterns. Release with
 * kiln_copy_sel_release() in every case. Errors: -errno, KILN_E_INVALID
 * for a bad pattern.
 */
int kiln_copy_sel_init(struct kiln_copy_sel *s, const struct kiln_vertex_copy *op,
                       const struct kiln_copy_src *src, struct kiln_error **err);
void kiln_copy_sel_release(struct kiln_copy_sel *s);

/*
 * The paths (relative to the source root, "" for the root itself) the local
 * sources of op select, in order: cleaned into the root, wildcards expanded
 * (Go's filepath.Match per component, "**" any number of directories,
 * sorted; no match is fine), a missing plain path is KILN_E_NOTFOUND naming
 * it, and paths .dockerignore excludes count as missing. ret_keep receives,
 * per path, what --parents keeps of it below the destination (the part
 * after a "/./" pivot, else the whole path); "" without --parents. URL
 * sources are skipped.
 */
int kiln_copy_select(const struct kiln_copy_sel *s, const struct kiln_vertex_copy *op,
                     struct kiln_strv *ret, struct kiln_strv *ret_keep, struct kiln_error **err);

/*
 * The names in directory fd, sorted bytewise, without those .dockerignore
 * excludes (`dir`: the directory relative to the root) and those --exclude
 * excludes (`sub`: the directory relative to the copied source).
 */
int kiln_copy_list(const struct kiln_copy_sel *s, int fd, const char *dir, const char *sub,
                   struct kiln_strv *ret, struct kiln_error **err);

/* "dir/name", or name when dir is "". Caller frees. */
char *kiln_copy_join(const char *dir, const char *name);

/* Whether source is an http(s) URL (ADD). */
bool kiln_copy_is_url(const char *source);

/*
 * The mode --chmod `spec` (octal up to 7777, or symbolic as chmod(1):
 * "u=rwX,go=rX") gives an entry of mode `cur` (type bits included).
 * Errors: KILN_E_INVALID naming the spec.
 */
int kiln_copy_chmod(const char *spec, mode_t cur, mode_t *ret, struct kiln_error **err);

/*
 * Downloads `url` into tmp_dir once per build (later calls reuse the
 * file): *ret_dir (caller frees) is a directory holding just the file, named
 * after the URL path's last component or "__unnamed__", mode 0600, mtime
 * from Last-Modified. `checksum` ("sha256:<hex>", may be NULL) is verified.
 * Errors: KILN_E_UPSTREAM for a failed transfer or HTTP status,
 * KILN_E_INVALID for a checksum mismatch naming both digests, KILN_E_LIMIT
 * past KILN_COPY_URL_MAX bytes, -errno.
 */
int kiln_copy_url_fetch(const char *url, const char *checksum, const char *tmp_dir, char **ret_dir,
                        char **ret_name, struct kiln_error **err);

/*
 * ADD's auto-extraction: when `rel` (in the source root s->root) is a
 * regular file whose content is an archive, extracts it into directory
 * `dest` (absolute, inside dest_root, created as needed) and sets
 * *ret_done. chown: ADD --chown's owner (NULL to keep the archive's).
 */
int kiln_copy_unpack(int src_root, const char *rel, const char *dest_root, const char *dest,
                     const uint32_t *chown, bool *ret_done, struct kiln_error **err);
