/* SPDX-License-Identifier: Apache-2.0 */
#include "digest.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>

#include "base/cleanup.h"
#include "json.h"

#include "base/banned.h"

static const struct {
    const char *name;
    unsigned hex_len;
    const EVP_MD *(*md)(void);
} algos[] = {
        [KILN_OCI_SHA256] = {"sha256", 64, EVP_sha256},
        [KILN_OCI_SHA384] = {"sha384", 96, EVP_sha384},
        [KILN_OCI_SHA512] = {"sha512", 128, EVP_sha512},
};

static int crypto_fail(struct kiln_error **err, const char *what)
{
    char msg[256];
    ERR_error_string_n(ERR_get_error(), msg, sizeof(msg));
    return kiln_error_set(err, -EIO, "%s: libcrypto: %s", what, msg);
}

int kiln_oci_digester_init(struct kiln_oci_digester *d, enum kiln_oci_digest_algo algo,
                           struct kiln_error **err)
{
    *d = (struct kiln_oci_digester){.algo = algo};
    d->ctx = EVP_MD_CTX_new();
    if (!d->ctx || EVP_DigestInit_ex(d->ctx, algos[algo].md(), NULL) != 1)
        return crypto_fail(err, algos[algo].name);
    return 0;
}

int kiln_oci_digester_update(struct kiln_oci_digester *d, const void *data, size_t len,
                             struct kiln_error **err)
{
    if (EVP_DigestUpdate(d->ctx, data, len) != 1)
        return crypto_fail(err, algos[d->algo].name);
    return 0;
}

int kiln_oci_digester_final(struct kiln_oci_digester *d, char ret[KILN_OCI_DIGEST_MAX],
                            struct kiln_error **err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (EVP_DigestFinal_ex(d->ctx, md, &n) != 1)
        return crypto_fail(err, algos[d->algo].name);
    size_t len = strlen(algos[d->algo].name);
    memcpy(ret, algos[d->algo].name, len);
    ret[len++] = ':';
    for (unsigned i = 0; i < n; i++) {
        ret[len++] = hex[md[i] >> 4];
        ret[len++] = hex[md[i] & 0xf];
    }
    ret[len] = '\0';
    return 0;
}

void kiln_oci_digester_release(struct kiln_oci_digester *d)
{
    EVP_MD_CTX_free(d->ctx);
    d->ctx = NULL;
}

int kiln_oci_digest_bytes(enum kiln_oci_digest_algo algo, const void *data, size_t len,
                          char ret[KILN_OCI_DIGEST_MAX], struct kiln_error **err)
{
    struct kiln_oci_digester d;
    int r = kiln_oci_digester_init(&d, algo, err);
    if (r >= 0)
        r = kiln_oci_digester_update(&d, data, len, err);
    if (r >= 0)
        r = kiln_oci_digester_final(&d, ret, err);
    kiln_oci_digester_release(&d);
    return r;
}

/* [a-z0-9]+ starting at s; returns its length. */
static size_t alnum_run(const char *s)
{
    size_t n = 0;
    while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9'))
        n++;
    return n;
}

/* go-digest's DigestRegexpAnchored: [a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+ */
static bool oci_grammar(const char *s)
{
    size_t n = alnum_run(s);
    if (n == 0)
        return false;
    s += n;
    while (*s && strchr(".+_-", *s)) {
        n = alnum_run(s + 1);
        if (n == 0)
            return false;
        s += n + 1;
    }
    if (*s++ != ':' || !*s)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=_-") ==
           strlen(s);
}

/* The registered algorithm named by the `len` bytes at s, or -1. */
static int algo_of(const char *s, size_t len)
{
    for (size_t i = 0; i < ELEMENTSOF(algos); i++)
        if (strlen(algos[i].name) == len && memcmp(algos[i].name, s, len) == 0)
            return (int)i;
    return -1;
}

int kiln_oci_digest_validate(const char *digest, struct kiln_error **err)
{
    const char *colon = strchr(digest, ':');
    if (!colon || !colon[1])
        return kiln_error_set(err, KILN_E_INVALID,
                              "'%.*s%s' is not a valid digest: invalid checksum digest format "
                              "(expected ALGORITHM:ENCODED)",
                              KILN_OCI_QUOTE(digest));
    int a = algo_of(digest, (size_t)(colon - digest));
    if (a < 0) {
        if (!oci_grammar(digest))
            return kiln_error_set(err, KILN_E_INVALID,
                                  "'%.*s%s' is not a valid digest: invalid checksum digest format "
                                  "(ALGORITHM is [a-z0-9]+ joined by '.', '+', '_' or '-', "
                                  "ENCODED is [a-zA-Z0-9=_-]+)",
                                  KILN_OCI_QUOTE(digest));
        return 1; /* go-digest: ErrDigestUnsupported */
    }
    size_t len = strlen(colon + 1);
    if (len != algos[a].hex_len)
        return kiln_error_set(err, KILN_E_INVALID,
                              "'%.*s%s' is not a valid digest: invalid checksum digest length "
                              "(%s needs %u hex digits, not %zu)",
                              KILN_OCI_QUOTE(digest), algos[a].name, algos[a].hex_len, len);
    if (strspn(colon + 1, "0123456789abcdef") != len)
        return kiln_error_set(err, KILN_E_INVALID,
                              "'%.*s%s' is not a valid digest: invalid checksum digest format "
                              "(%s needs lower-case hex digits)",
                              KILN_OCI_QUOTE(digest), algos[a].name);
    return 0;
}

int kiln_oci_digest_verify(const char *expected, const void *data, size_t len,
                           struct kiln_error **err)
{
    int r = kiln_oci_digest_validate(expected, err);
    if (r == 1)
        return kiln_error_set(
                err, KILN_E_INVALID,
                "unsupported digest algorithm in '%.*s%s': use sha256, sha384 or sha512",
                KILN_OCI_QUOTE(expected));
    if (r < 0)
        return r;
    char got[KILN_OCI_DIGEST_MAX];
    r = kiln_oci_digest_bytes(algo_of(expected, (size_t)(strchr(expected, ':') - expected)), data,
                              len, got, err);
    if (r < 0)
        return r;
    if (strcmp(got, expected) != 0)
        return kiln_error_set(err, KILN_E_INVALID, "content digest is %s, expected %s", got,
                              expected);
    return 0;
}
