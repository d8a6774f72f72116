/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jwt.h - JSON Web Tokens as the distribution registry verifies them
 * (docs/internals/token-service.md): compact serialisation, ES256 only
 * (ECDSA P-256 with SHA-256, the JOSE signature being R||S, 64 bytes), the
 * header {"typ":"JWT","alg":"ES256","kid":KID} with KID the libtrust key ID
 * of the signing key, which distribution 2.x looks up among the keys of the
 * certificates in its rootcertbundle.
 */
#pragma once

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define KILND_JWT_MAX     16384 /* bytes of a compact JWT this side parses */
#define KILND_JWT_KID_LEN 59    /* 12 groups of 4 base32 characters joined by ':' */
#define KILND_JWT_SIG_LEN 64    /* R||S of ES256 */

/* A key tokens may be signed with: kid names it; pkey holds at least its public half. */
struct kilnd_jwt_key {
    const char *kid;
    EVP_PKEY *pkey;
};

/* base64url without padding of p[0..n) (the caller frees the result). */
char *kilnd_b64url_encode(const void *p, size_t n);

/*
 * Decodes base64url without padding (a '=' or any character outside the
 * alphabet, or stray bits in the last character, is refused). ret gets a
 * NUL-terminated copy the caller frees. KILN_E_INVALID when malformed.
 */
int kilnd_b64url_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_len,
                        struct kiln_error **err);

/*
 * The libtrust key ID of pkey's public key: sha256 of its DER
 * SubjectPublicKeyInfo, the first 240 bits in base32, in groups of four
 * joined by ':' ("ABCD:EFGH:...", KILND_JWT_KID_LEN characters).
 */
int kilnd_jwt_key_id(EVP_PKEY *pkey, char ret[KILND_JWT_KID_LEN + 1], struct kiln_error **err);

/*
 * Signs `claims` (a JSON object, serialised compactly in key order) with
 * key (a P-256 private key, KILN_E_INVALID otherwise). ret_jwt gets the
 * compact token (the caller frees it).
 */
int kilnd_jwt_sign(const struct kilnd_jwt_key *key, json_t *claims, char **ret_jwt,
                   struct kiln_error **err);

/*
 * Verifies jwt: three base64url parts, a JSON header whose alg is ES256
 * (none, HS*, RS* and the rest are refused) and whose kid names one of
 * keys[0..n) (a jwk, jku, x5u or x5c in the header is never used to find
 * the key), and an R||S signature that key verifies. ret_claims gets the
 * claims object (the caller decrefs it); no claim is checked here.
 * KILN_E_INVALID for a malformed token, KILN_E_DENIED for an unknown key
 * or a bad signature, KILN_E_LIMIT past KILND_JWT_MAX.
 */
int kilnd_jwt_verify(const char *jwt, const struct kilnd_jwt_key *keys, size_t n,
                     json_t **ret_claims, struct kiln_error **err);
