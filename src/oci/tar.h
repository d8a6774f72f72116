/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tar.h - tar headers as Go's archive/tar writes them (what BuildKit's layers
 * are made of), and a bounded reader for untrusted tar streams (USTAR, PAX,
 * GNU long names, old V7).
 *
 * Writing: kiln_oci_tar_header_encode() gives the bytes of one entry's
 * header(s); the caller writes them, then `size` bytes of content, then
 * kiln_oci_tar_padding(size) zero bytes; two zero blocks end the archive.
 *
 * Reading:
 *   struct kiln_oci_tar_reader *r;
 *   kiln_oci_tar_reader_new(read_fn, ud, &limits, &r);
 *   while ((n = kiln_oci_tar_reader_next(r, &h, &err)) > 0)
 *       ... kiln_oci_tar_reader_read(r, buf, len, &err) for h->size bytes ...
 *   n == 0: a complete archive, n < 0: a failure
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/error.h"
#include "compress.h"

#define KILN_OCI_TAR_BLOCK 512u

/* Entry types (the typeflag byte). */
#define KILN_OCI_TAR_REG      '0'
#define KILN_OCI_TAR_LINK     '1'
#define KILN_OCI_TAR_SYMLINK  '2'
#define KILN_OCI_TAR_CHAR     '3'
#define KILN_OCI_TAR_BLOCKDEV '4'
#define KILN_OCI_TAR_DIR      '5'
#define KILN_OCI_TAR_FIFO     '6'

struct kiln_oci_xattr {
    char *name;  /* "security.capability" (without the "SCHILY.xattr." prefix) */
    char *value; /* binary, `len` bytes */
    size_t len;
};

struct kiln_oci_tar_header {
    char *name;     /* as stored: "etc/", "etc/passwd" */
    char *linkname; /* symlink target or hard link source; "" when none */
    char type;      /* KILN_OCI_TAR_* */
    uint32_t mode;  /* permission bits with setuid, setgid and sticky (07777) */
    uint64_t uid, gid;
    uint64_t size;       /* content bytes (0 for header-only types) */
    int64_t mtime;       /* seconds since the epoch */
    uint32_t mtime_nsec; /* from a PAX record when reading; ignored when writing */
    uint32_t devmajor, devminor;
    struct kiln_oci_xattr *xattrs;
    size_t n_xattrs;
};

/*
 * Appends to `out` what Go's tar.Writer writes for a header of Format PAX
 * (plain USTAR when every field fits, else a PAX extended header named
 * "<dir>/PaxHeaders.0/<base>" with its records sorted, then the main header).
 * Errors: KILN_E_LIMIT when out's cap is reached or the records pass
 * KILN_LAYER_PAX_MAX, KILN_E_INVALID for a field no format can hold.
 */
int kiln_oci_tar_header_encode(const struct kiln_oci_tar_header *h, struct kiln_buf *out,
                               struct kiln_error **err);

/* Zero bytes that follow `size` bytes of content to fill the last block. */
static inline size_t kiln_oci_tar_padding(uint64_t size)
{
    return (size_t)(-size & (KILN_OCI_TAR_BLOCK - 1));
}

struct kiln_oci_tar_limits {
    uint64_t max_bytes;   /* archive bytes read (0: KILN_LAYER_SIZE_MAX) */
    uint64_t max_entries; /* entries returned (0: KILN_LAYER_ENTRIES_MAX) */
    const char *what;     /* what the stream is, for messages: "archive" (NULL: "layer") */
};

struct kiln_oci_tar_reader;

/* A reader of the tar stream in(userdata, ...). limits may be NULL. The caller frees *ret. */
void kiln_oci_tar_reader_new(kiln_oci_read_fn in, void *userdata,
                             const struct kiln_oci_tar_limits *limits,
                             struct kiln_oci_tar_reader **ret);

/*
 * Skips what is left of the current entry and reads the next header: 1 and
 * *ret_header (owned by the reader, valid until the next call), or 0 at the
 * end-of-archive marker. Names are returned as stored, not cleaned. Errors:
 * KILN_E_INVALID for a bad checksum, a malformed field or record, an
 * unsupported type (sparse files, volumes) or a stream that ends before the
 * end-of-archive marker; KILN_E_LIMIT past a limit (bytes, entries,
 * KILN_LAYER_PAX_MAX, KILN_LAYER_NAME_MAX); those of in().
 */
int kiln_oci_tar_reader_next(struct kiln_oci_tar_reader *r,
                             const struct kiln_oci_tar_header **ret_header,
                             struct kiln_error **err);

/* Reads up to `len` bytes of the current entry's content: the count, 0 at its end. */
ssize_t kiln_oci_tar_reader_read(struct kiln_oci_tar_reader *r, void *buf, size_t len,
                                 struct kiln_error **err);

/* Archive bytes consumed so far. */
uint64_t kiln_oci_tar_reader_offset(const struct kiln_oci_tar_reader *r);

void kiln_oci_tar_reader_free(struct kiln_oci_tar_reader *r);
KILN_DEFINE_CLEANUP(struct kiln_oci_tar_reader, kiln_oci_tar_reader_free)

/* Frees the strings and xattrs of h (not h itself) and zeroes it. */
void kiln_oci_tar_header_clear(struct kiln_oci_tar_header *h);
