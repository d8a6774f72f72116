/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unpack.h - ADD's local archives: a file that decompresses (gzip, bzip2,
 * xz, zstd or none) into something with a valid first tar header is
 * extracted into the destination instead of copied, as BuildKit's ADD does
 * (solver/llbsolver/file/unpack.go over go-archive's Untar). Detection is by
 * content, never by name. Layers are applied with kiln_oci_layer_apply()
 * (layer.h), by the same extractor.
 *
 *   bool is_archive;
 *   kiln_oci_archive_detect(fd, &is_archive, &err);
 *   if (is_archive)
 *       kiln_oci_archive_extract(fd, rootfs, "/app", &(struct kiln_oci_archive_opts){0}, &err);
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

struct kiln_oci_archive_opts {
    bool chown; /* ADD --chown: every entry and each directory of dest made here get uid:gid */
    uid_t uid;
    gid_t gid;
    bool allow_devices;   /* create device nodes (needs root); else they are an error */
    uint64_t max_bytes;   /* uncompressed bytes (0: KILN_LAYER_SIZE_MAX) */
    uint64_t max_entries; /* (0: KILN_LAYER_ENTRIES_MAX) */
};

/*
 * Whether the regular file open as fd is an archive ADD extracts: it
 * decompresses (by its magic bytes) and its first tar header is valid.
 * Reads from offset 0 and leaves the offset unspecified; anything but a
 * regular file is not an archive. Writes *ret_is_archive. Errors: -errno
 * when reading fails (a malformed stream is "not an archive", no error).
 */
int kiln_oci_archive_detect(int fd, bool *ret_is_archive, struct kiln_error **err);

/*
 * Extracts the archive in fd (from offset 0) into directory dest_in_root of
 * root, creating dest (0755, and --chown's owner) when missing. Every path,
 * dest included, is resolved inside root, and the archive's own paths
 * inside dest, as if dest were "/" (go-archive extracts in a chroot at
 * dest): names are cleaned lexically ("/a" and "x/../a" are "a"), a name or
 * hard link climbing above dest or a relative symlink target climbing above
 * it is refused, ".wh." names are plain files (ADD does no whiteout
 * processing), implied parent directories are 0:0 0755, owners come from
 * the headers unless opts->chown (opts may be NULL). On failure dest may
 * hold part of the archive. Errors: KILN_E_INVALID naming the entry
 * ("archive entry '../x': path escapes the root") or for a corrupt stream,
 * KILN_E_LIMIT past a limit, KILN_E_DENIED for a device node, -errno.
 */
int kiln_oci_archive_extract(int fd, const char *root, const char *dest_in_root,
                             const struct kiln_oci_archive_opts *opts, struct kiln_error **err);
