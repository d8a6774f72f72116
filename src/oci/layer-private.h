/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layer-private.h - what the layer writer (layer.c), the layer unpacker
 * (unpack.c) and ADD's archive extraction (archive.c) share: a set of
 * paths, opening paths inside a root, and the tar-to-directory extractor.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "tar.h"
#include "whiteout.h"

/* A set of strings (owned copies), open addressing. */
struct kiln_oci_pathset {
    char **slots;
    size_t n, alloc;
};

#define KILN_OCI_PATHSET_INIT             \
    {                                     \
        .slots = NULL, .n = 0, .alloc = 0 \
    }

/* Adds a copy of s. Returns true when s was not in the set yet. */
bool kiln_oci_pathset_add(struct kiln_oci_pathset *s, const char *str);
bool kiln_oci_pathset_contains(const struct kiln_oci_pathset *s, const char *str);
void kiln_oci_pathset_release(struct kiln_oci_pathset *s);

/*
 * openat2(rootfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
 * extra_resolve): every symlink and ".." is resolved as if rootfd were "/",
 * so nothing outside the root is reached. O_CLOEXEC is added; EAGAIN (a
 * rename raced the lookup) is retried. Returns the fd or -errno (no message:
 * callers name the entry).
 */
int kiln_oci_open_in_root(int rootfd, const char *path, int flags,
                          unsigned long long extra_resolve);

/*
 * Opens directory `path` (relative to rootfd, resolved inside it), making
 * each missing directory on the way with `mode`, and chowned to uid:gid when
 * `chown`. Returns its fd or -errno (no message: callers name the entry).
 */
int kiln_oci_mkdir_in_root(int rootfd, const char *path, mode_t mode, bool chown, uid_t uid,
                           gid_t gid);

/* Bytes of entry paths remembered while one layer or archive is unpacked (opaque dirs, dir times).
 */
#define KILN_LAYER_PATHS_MAX (256u * 1024 * 1024)

/* How kiln_oci_unpack() reads names, whiteouts and owners. */
struct kiln_oci_unpack_opts {
    /*
     * false: a layer (containerd's applyNaive): a name with ".." or a
     * leading '/' is refused; ".wh." names are whiteouts.
     * true: an archive for ADD (go-archive's Unpack): names are cleaned
     * lexically ("/a" is "a", "a/../b" is "b"; climbing above the root is
     * refused), a relative symlink target may not climb above the root,
     * ".wh." names are plain files, implied parents are 0:0 0755.
     */
    bool archive;
    enum kiln_oci_whiteout_mode whiteouts; /* layers only */
    bool allow_devices;                    /* create device nodes (needs root) */
    bool chown;                            /* every entry gets uid:gid (ADD --chown) */
    uid_t uid;
    gid_t gid;
};

/*
 * Extracts the entries of tr into the directory rootfd, every path resolved
 * with rootfd as "/" (kiln_oci_open_in_root()). Directory mtimes are set at
 * the end. Adds the number of entries to *ret_entries. Errors: KILN_E_INVALID
 * naming the entry, KILN_E_LIMIT (name, depth, remembered paths
 * KILN_LAYER_PATHS_MAX), KILN_E_DENIED for devices, those of the reader,
 * -errno.
 */
int kiln_oci_unpack(int rootfd, struct kiln_oci_tar_reader *tr,
                    const struct kiln_oci_unpack_opts *opts, uint64_t *ret_entries,
                    struct kiln_error **err);
