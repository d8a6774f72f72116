/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compress.h - layer compression: gzip (zlib, pigz-style parallel blocks),
 * zstd (libzstd) or none, as streams; and decompression of any of the three,
 * recognised by its magic bytes.
 *
 *   struct kiln_oci_compressor *c;
 *   kiln_oci_compressor_new(KILN_OCI_COMPRESSION_GZIP, KILN_OCI_LEVEL_DEFAULT, out, ud, &c, &err);
 *   kiln_oci_compressor_write(c, p, n, &err);   ... as often as needed
 *   kiln_oci_compressor_finish(c, &err);        the trailer; out() saw every byte
 *   kiln_oci_compressor_free(c);
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

enum kiln_oci_compression {
    KILN_OCI_COMPRESSION_NONE,
    KILN_OCI_COMPRESSION_GZIP,
    KILN_OCI_COMPRESSION_ZSTD,
};

/* The level BuildKit uses: gzip 6 (Go's DefaultCompression), zstd 3. */
#define KILN_OCI_LEVEL_DEFAULT (-1)

/* Receives output bytes. Returns 0, or a negative code with *err set. */
typedef int (*kiln_oci_write_fn)(void *userdata, const void *data, size_t len,
                                 struct kiln_error **err);
/* Supplies input bytes: the count read (> 0), 0 at the end, or a negative code. */
typedef ssize_t (*kiln_oci_read_fn)(void *userdata, void *buf, size_t len, struct kiln_error **err);

/* "gzip", "zstd" or "uncompressed", BuildKit's names for the compression option. */
const char *kiln_oci_compression_name(enum kiln_oci_compression c);

/* Parses a compression name of kiln_oci_compression_name(). Errors: KILN_E_INVALID. */
int kiln_oci_compression_parse(const char *name, enum kiln_oci_compression *ret,
                               struct kiln_error **err);

/* The layer media type for compression c: OCI, or Docker's when `docker` (none for zstd: NULL). */
const char *kiln_oci_compression_media_type(enum kiln_oci_compression c, bool docker);

struct kiln_oci_compressor;

/*
 * Starts a compressed stream that hands its bytes to out(userdata, ...).
 * `level` is KILN_OCI_LEVEL_DEFAULT or 0-9 for gzip, 0-22 for zstd (ignored
 * for none). gzip input is cut into 128 KiB blocks, each deflated with the
 * 32 KiB before it as dictionary (as pigz), on as many threads as there are
 * cores once there is more than one block: one valid gzip member whose bytes
 * depend only on the input and the level. The caller frees *ret with
 * kiln_oci_compressor_free(). Errors: KILN_E_INVALID for a level out of
 * range, -ENOMEM/-EIO when the library fails.
 */
int kiln_oci_compressor_new(enum kiln_oci_compression c, int level, kiln_oci_write_fn out,
                            void *userdata, struct kiln_oci_compressor **ret,
                            struct kiln_error **err);

/* Compresses `len` bytes. Errors: those of out(), -EIO from the library. */
int kiln_oci_compressor_write(struct kiln_oci_compressor *c, const void *data, size_t len,
                              struct kiln_error **err);

/* Ends the stream (gzip trailer, zstd epilogue). Errors as kiln_oci_compressor_write(). */
int kiln_oci_compressor_finish(struct kiln_oci_compressor *c, struct kiln_error **err);

/* Stops the worker threads and frees c; accepts NULL. */
void kiln_oci_compressor_free(struct kiln_oci_compressor *c);
KILN_DEFINE_CLEANUP(struct kiln_oci_compressor, kiln_oci_compressor_free)

struct kiln_oci_decompressor;

/*
 * Reads a stream from in(userdata, ...) and recognises it by its first bytes:
 * gzip (1f 8b, concatenated members allowed), zstd (28 b5 2f fd; windows up
 * to 32 MiB) or else uncompressed. The caller frees *ret. Errors: those of
 * in(), -ENOMEM.
 */
int kiln_oci_decompressor_new(kiln_oci_read_fn in, void *userdata,
                              struct kiln_oci_decompressor **ret, struct kiln_error **err);

/* What the stream turned out to be. */
enum kiln_oci_compression kiln_oci_decompressor_kind(const struct kiln_oci_decompressor *d);

/*
 * Reads up to `len` decompressed bytes into buf: the count (> 0), or 0 at
 * the end of a complete stream. Errors: KILN_E_INVALID for a corrupt or
 * truncated stream ("truncated gzip stream"), those of in().
 */
ssize_t kiln_oci_decompressor_read(struct kiln_oci_decompressor *d, void *buf, size_t len,
                                   struct kiln_error **err);

void kiln_oci_decompressor_free(struct kiln_oci_decompressor *d);
KILN_DEFINE_CLEANUP(struct kiln_oci_decompressor, kiln_oci_decompressor_free)
