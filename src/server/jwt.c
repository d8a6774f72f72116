/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jwt.c - ES256 JSON Web Tokens: base64url, libtrust key IDs, signing and
 * verification through OpenSSL 3's EVP interface.
 */
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "jwt.h"

#include "base/banned.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *kilnd_b64url_encode(const void *p, size_t n)
{
    const uint8_t *in = p;
    char *out = kiln_xmalloc(n / 3 * 4 + 5), *o = out;
    for (size_t i = 0; i < n; i += 3) {
        size_t left = n - i;
        uint32_t v = (uint32_t)in[i] << 16;
        if (left > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (left > 2)
            v |= in[i + 2];
        size_t chars = left >= 3 ? 4 : left + 1;
        for (size_t k = 0; k < chars; k++)
            *o++ = b64url[(v >> (18 - 6 * k)) & 63];
    }
    *o = '\0';
    return out;
}

static int b64url_value(char c)
{
    const char *at = c ? strchr(b64url, c) : NULL;
    return at ? (int)(at - b64url) : -1;
}

int kilnd_b64url_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_len,
                        struct kiln_error **err)
{
    if (len % 4 == 1)
        return kiln_error_set(err, KILN_E_INVALID, "malformed base64url: bad length %zu", len);
    _cleanup_free_ uint8_t *out = kiln_xmalloc(len / 4 * 3 + 3);
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(s[i]);
        if (v < 0)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "malformed base64url: unexpected character at offset %zu", i);
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1))
        return kiln_error_set(err, KILN_E_INVALID, "malformed base64url: stray bits at the end");
    out[o] = '\0';
    *ret = TAKE_PTR(out);
    *ret_len = o;
    return 0;
}

int kilnd_jwt_key_id(EVP_PKEY *pkey, char ret[KILND_JWT_KID_LEN + 1], struct kiln_error **err)
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pkey, &der);
    if (n <= 0)
        return kiln_error_set(err, KILN_E_INVALID, "cannot encode the public key");
    unsigned char sum[SHA256_DIGEST_LENGTH];
    SHA256(der, (size_t)n, sum);
    OPENSSL_free(der);
    /* 30 bytes are 240 bits: 48 base32 characters, no padding. */
    size_t o = 0;
    for (size_t i = 0; i < 30; i += 5) {
        uint64_t v = 0;
        for (size_t k = 0; k < 5; k++)
            v = (v << 8) | sum[i + k];
        for (size_t k = 0; k < 8; k++) {
            if (o % 5 == 4)
                ret[o++] = ':';
            ret[o++] = b32[(v >> (35 - 5 * k)) & 31];
        }
    }
    ret[o] = '\0';
    return 0;
}

static bool is_p256(EVP_PKEY *pkey)
{
    char group[32];
    return EVP_PKEY_is_a(pkey, "EC") &&
           EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

/* DER ECDSA-Sig-Value to R||S. */
static int der_to_raw(const unsigned char *der, size_t n, uint8_t raw[KILND_JWT_SIG_LEN])
{
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &der, (long)n);
    if (!sig)
        return -1;
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(sig, &r, &s);
    int ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    return ok ? 0 : -1;
}

/* R||S to DER; the caller OPENSSL_free()s *ret. */
static int raw_to_der(const uint8_t raw[KILND_JWT_SIG_LEN], unsigned char **ret, size_t *ret_n)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return -1;
    }
    unsigned char *der = NULL;
    int n = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (n <= 0)
        return -1;
    *ret = der;
    *ret_n = (size_t)n;
    return 0;
}

static char *b64url_json(json_t *j)
{
    _cleanup_free_ char *s = json_dumps(j, JSON_COMPACT);
    return kilnd_b64url_encode(s, strlen(s));
}

int kilnd_jwt_sign(const struct kilnd_jwt_key *key, json_t *claims, char **ret_jwt,
                   struct kiln_error **err)
{
    if (!is_p256(key->pkey))
        return kiln_error_set(err, KILN_E_INVALID, "signing key '%s' is not a P-256 key", key->kid);
    json_t *header = json_pack("{s:s, s:s, s:s}", "typ", "JWT", "alg", "ES256", "kid", key->kid);
    _cleanup_free_ char *h = b64url_json(header), *c = b64url_json(claims);
    json_decref(header);
    _cleanup_free_ char *input = kiln_xasprintf("%s.%s", h, c);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[80];
    size_t n = sizeof(der);
    uint8_t raw[KILND_JWT_SIG_LEN];
    int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
             EVP_DigestSign(md, der, &n, (const unsigned char *)input, strlen(input)) == 1 &&
             der_to_raw(der, n, raw) == 0;
    EVP_MD_CTX_free(md);
    if (!ok)
        return kiln_error_set(err, KILN_E_INVALID, "cannot sign with key '%s'", key->kid);
    _cleanup_free_ char *sig = kilnd_b64url_encode(raw, sizeof(raw));
    *ret_jwt = kiln_xasprintf("%s.%s", input, sig);
    return 0;
}

static bool signature_ok(EVP_PKEY *pkey, const char *input, size_t n,
                         const uint8_t raw[KILND_JWT_SIG_LEN])
{
    unsigned char *der = NULL;
    size_t der_n = 0;
    if (!is_p256(pkey) || raw_to_der(raw, &der, &der_n) < 0)
        return false;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
              EVP_DigestVerify(md, der, der_n, (const unsigned char *)input, n) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    return ok;
}

/* Decodes one base64url part holding a JSON object. */
static int json_part(const char *s, size_t n, const char *what, json_t **ret,
                     struct kiln_error **err)
{
    _cleanup_free_ uint8_t *raw = NULL;
    size_t len = 0;
    if (kilnd_b64url_decode(s, n, &raw, &len, NULL) < 0)
        return kiln_error_set(err, KILN_E_INVALID, "malformed token: its %s is not base64url",
                              what);
    json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return kiln_error_set(err, KILN_E_INVALID, "malformed token: its %s is not a JSON object",
                              what);
    }
    *ret = j;
    return 0;
}

static const struct kilnd_jwt_key *find_key(json_t *header, const struct kilnd_jwt_key *keys,
                                            size_t n, struct kiln_error **err)
{
    const char *alg = json_string_value(json_object_get(header, "alg"));
    const char *kid = json_string_value(json_object_get(header, "kid"));
    if (!alg || strcmp(alg, "ES256") != 0) {
        kiln_error_set(err, KILN_E_DENIED, "token algorithm '%s' refused: only ES256 is accepted",
                       alg ? alg : "");
        return NULL;
    }
    for (size_t i = 0; kid && i < n; i++)
        if (strcmp(keys[i].kid, kid) == 0)
            return &keys[i];
    kiln_error_set(err, KILN_E_DENIED, "token signed by an unknown key '%s'", kid ? kid : "");
    return NULL;
}

int kilnd_jwt_verify(const char *jwt, const struct kilnd_jwt_key *keys, size_t n,
                     json_t **ret_claims, struct kiln_error **err)
{
    size_t len = strnlen(jwt, KILND_JWT_MAX + 1);
    if (len > KILND_JWT_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "token longer than %u bytes", KILND_JWT_MAX);
    const char *dot1 = strchr(jwt, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot2 || strchr(dot2 + 1, '.'))
        return kiln_error_set(err, KILN_E_INVALID,
                              "malformed token: not three dot-separated parts");
    json_t *header = NULL, *claims = NULL;
    int r = json_part(jwt, (size_t)(dot1 - jwt), "header", &header, err);
    if (r < 0)
        return r;
    const struct kilnd_jwt_key *key = find_key(header, keys, n, err);
    json_decref(header);
    if (!key)
        return KILN_E_DENIED;
    _cleanup_free_ uint8_t *sig = NULL;
    size_t sig_n = 0;
    if (kilnd_b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - jwt), &sig, &sig_n, NULL) < 0 ||
        sig_n != KILND_JWT_SIG_LEN || !signature_ok(key->pkey, jwt, (size_t)(dot2 - jwt), sig))
        return kiln_error_set(err, KILN_E_DENIED, "token signature does not verify with key '%s'",
                              key->kid);
    r = json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), "claims", &claims, err);
    if (r < 0)
        return r;
    *ret_claims = claims;
    return 0;
}
