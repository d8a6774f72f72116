/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layer.h - layer blobs: a snapshot's changes written as BuildKit writes a
 * layer (containerd's ChangeWriter over Go's archive/tar, then compressed),
 * and a layer applied to a directory safely.
 *
 *   struct kiln_oci_changes c = KILN_OCI_CHANGES_INIT;
 *   kiln_oci_diff_overlay(lower, upper, &c, &err);
 *   struct kiln_oci_layer_opts o = {.compression = KILN_OCI_COMPRESSION_GZIP,
 *                                   .level = KILN_OCI_LEVEL_DEFAULT};
 *   struct kiln_oci_layer l;
 *   kiln_oci_layer_write(upper, &c, &o, kiln_oci_fd_write, &fd, &l, &err);
 *   l.diff_id, l.digest, l.size, l.media_type
 *
 *   kiln_oci_layer_apply(root, blob_fd, &apply_opts, &stats, &err);
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "compress.h"
#include "diff.h"
#include "digest.h"
#include "whiteout.h"

struct kiln_oci_layer_opts {
    enum kiln_oci_compression compression;
    int level;      /* KILN_OCI_LEVEL_DEFAULT, or 0-9 (gzip), 0-22 (zstd) */
    bool has_epoch; /* SOURCE_DATE_EPOCH given: */
    int64_t epoch;  /* mtimes later than this become this */
    bool docker_media_type;
};

struct kiln_oci_layer {
    char diff_id[KILN_OCI_DIGEST_MAX]; /* sha256 of the uncompressed tar */
    char digest[KILN_OCI_DIGEST_MAX];  /* sha256 of the blob */
    uint64_t size;                     /* blob bytes */
    uint64_t tar_size;                 /* uncompressed bytes */
    const char *media_type;            /* static; NULL for zstd with Docker media types */
};

/*
 * Writes the layer of `changes` (from kiln_oci_diff_*(), in their order)
 * reading content, link targets and security.capability under `root` (the
 * upper dir or upper tree of the diff), through the compressor to
 * out(userdata, ...): entries as containerd's ChangeWriter writes them
 * (parents first, hard links to the first path written, deletes as
 * ".wh.<name>" with mtime 0, sockets skipped), headers as Go's tar.Writer.
 * The tar is streamed once: diff id, blob digest and size are computed on
 * the way, memory stays bounded whatever the layer size. Fills *ret on
 * success. Errors: -errno (a file vanished or changed size while being read:
 * -EIO), KILN_E_INVALID for bad options, those of out().
 */
int kiln_oci_layer_write(const char *root, const struct kiln_oci_changes *changes,
                         const struct kiln_oci_layer_opts *opts, kiln_oci_write_fn out,
                         void *userdata, struct kiln_oci_layer *ret, struct kiln_error **err);

/* A kiln_oci_write_fn writing to the fd *(int *)userdata, retrying short writes. */
int kiln_oci_fd_write(void *userdata, const void *data, size_t len, struct kiln_error **err);

/* A kiln_oci_read_fn reading from the fd *(int *)userdata. */
ssize_t kiln_oci_fd_read(void *userdata, void *buf, size_t len, struct kiln_error **err);

struct kiln_oci_apply_opts {
    enum kiln_oci_whiteout_mode whiteouts; /* REMOVE for a plain dir, OVERLAY for an upper dir */
    bool allow_devices;   /* create device nodes (needs root); else they are an error */
    uint64_t max_bytes;   /* uncompressed bytes (0: KILN_LAYER_SIZE_MAX) */
    uint64_t max_entries; /* (0: KILN_LAYER_ENTRIES_MAX) */
};

struct kiln_oci_apply_stats {
    enum kiln_oci_compression compression; /* what the blob turned out to be */
    char diff_id[KILN_OCI_DIGEST_MAX];     /* sha256 of the uncompressed tar */
    char digest[KILN_OCI_DIGEST_MAX];      /* sha256 of the blob as read */
    uint64_t size, tar_size, entries;
};

/*
 * Applies the layer blob read from fd (gzip, zstd or plain tar, told by its
 * magic bytes) to directory `root`. Every path is resolved inside the root
 * (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): names with ".." or a
 * leading '/' are refused, symlinks met on the way are followed as if the
 * root were "/", hard links must name an entry inside the root. Whiteouts
 * delete (or, in overlay mode, become overlay whiteouts); ownership (when
 * running as root), modes, mtimes and xattrs are applied as containerd
 * does. On failure the directory may hold part of the layer: the caller
 * discards it. Fills *ret (may be NULL) on success. Errors: KILN_E_INVALID
 * naming the entry ("layer entry '../etc/passwd': path escapes the root"),
 * for a corrupt or truncated stream; KILN_E_LIMIT past a size, entry, name
 * length or depth limit; KILN_E_DENIED for a device node when not allowed;
 * -errno.
 */
int kiln_oci_layer_apply(const char *root, int fd, const struct kiln_oci_apply_opts *opts,
                         struct kiln_oci_apply_stats *ret, struct kiln_error **err);
