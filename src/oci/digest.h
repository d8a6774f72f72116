/* SPDX-License-Identifier: Apache-2.0 */
/*
 * digest.h - content digests ("sha256:<64 lower-case hex>") computed with
 * libcrypto, and checked exactly as go-digest's Digest.Validate (v1.0.0, as
 * used by image-spec, containerd and BuildKit).
 *
 *   struct kiln_oci_digester d;
 *   kiln_oci_digester_init(&d, KILN_OCI_SHA256, &err);
 *   kiln_oci_digester_update(&d, p, n, &err);  ... as often as needed
 *   char dgst[KILN_OCI_DIGEST_MAX];
 *   kiln_oci_digester_final(&d, dgst, &err);   "sha256:..."
 *   kiln_oci_digester_release(&d);
 */
#pragma once

#include <stddef.h>

#include "base/error.h"

enum kiln_oci_digest_algo {
    KILN_OCI_SHA256,
    KILN_OCI_SHA384,
    KILN_OCI_SHA512,
};

/* Room for the longest digest string with its NUL: "sha512:" + 128 hex digits. */
#define KILN_OCI_DIGEST_MAX (sizeof("sha512:") + 128)

struct evp_md_ctx_st;

struct kiln_oci_digester {
    struct evp_md_ctx_st *ctx;
    enum kiln_oci_digest_algo algo;
};

/* Starts a digest. Release it with kiln_oci_digester_release() in every case. */
int kiln_oci_digester_init(struct kiln_oci_digester *d, enum kiln_oci_digest_algo algo,
                           struct kiln_error **err);
/* Adds `len` bytes. Fails (-EIO) only when libcrypto does. */
int kiln_oci_digester_update(struct kiln_oci_digester *d, const void *data, size_t len,
                             struct kiln_error **err);
/* Writes "<algo>:<hex>" into ret. The digester cannot be updated afterwards. */
int kiln_oci_digester_final(struct kiln_oci_digester *d, char ret[KILN_OCI_DIGEST_MAX],
                            struct kiln_error **err);
/* Frees the libcrypto state; safe after a failed init and twice. */
void kiln_oci_digester_release(struct kiln_oci_digester *d);

/* One shot: the digest of `len` bytes into ret. */
int kiln_oci_digest_bytes(enum kiln_oci_digest_algo algo, const void *data, size_t len,
                          char ret[KILN_OCI_DIGEST_MAX], struct kiln_error **err);

/*
 * go-digest's Validate. Returns 0 for a digest of a registered algorithm
 * (sha256, sha384, sha512: lower-case hex of 64, 96 or 128 digits), 1 for
 * a well-formed digest of another algorithm ("sha256+b64:...", which
 * go-digest calls unsupported and the image-spec validator accepts), and
 * KILN_E_INVALID otherwise, with go-digest's reason ("invalid checksum digest
 * length") and what was expected.
 */
int kiln_oci_digest_validate(const char *digest, struct kiln_error **err);

/*
 * Checks that `len` bytes have digest `expected` (of a registered
 * algorithm). Returns 0, or KILN_E_INVALID when `expected` is not valid or
 * the content's digest differs ("content digest is sha256:..., expected ...").
 */
int kiln_oci_digest_verify(const char *expected, const void *data, size_t len,
                           struct kiln_error **err);
