/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/pem.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "expect.h"
#include "server/jwt.h"

#include "base/banned.h"

/* A fixed P-256 key, its libtrust key ID (computed with Python from its DER
 * public key), and a token another implementation (the openssl CLI) signed
 * with it. */
static const char fixed_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                                "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgi1Fd/BcEhCss0ois\n"
                                "RR4UI/jjqLuUQLJyLl61zVG5FaehRANCAATfH/ELepsSUMVAd3x8Uk5twvrpKHOL\n"
                                "GAVT/78iStEHTANg1q2MMnNm5ezAzGA6EzK0Q9CiXE/aQx0omtQWgD/z\n"
                                "-----END PRIVATE KEY-----\n";
static const char fixed_kid[] = "QZPU:ELI7:73JF:3O77:HTWZ:MIFC:FJBM:BYW3:UEAK:VMZV:XMT4:LIPU";
static const char foreign_jwt[] =
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiIsImtpZCI6IlFaUFU6RUxJNzo3M0pGOjNPNzc6SFRXWjpNSUZDOkZK"
        "Qk06QllXMzpVRUFLOlZNWlY6WE1UNDpMSVBVIn0."
        "eyJpc3MiOiJvdGhlciIsInN1YiI6ImJvYiIsImF1ZCI6InJlZyIsImV4cCI6NDEwMjQ0NDgwMCwiYWNjZXNzIjpb"
        "eyJ0eXBlIjoicmVwb3NpdG9yeSIsIm5hbWUiOiJib2IvYXBwIiwiYWN0aW9ucyI6WyJwdWxsIl19XX0."
        "jgeZ9n6F8IyxwbEv-7qOTppGABRuqMeZdV5VVZpD6qtQEQ2jTi4qUWKngaWBrUV_KyFFH7fJs9Hn7Lzlp3hxCw";

static EVP_PKEY *fixed_key(void)
{
    BIO *b = BIO_new_mem_buf(fixed_pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(k);
    return k;
}

static void test_jwt__base64url(void **state)
{
    const char *data = "\xfb\xff\xfe kiln?";
    for (size_t n = 0; n <= strlen(data); n++) {
        _cleanup_free_ char *enc = kilnd_b64url_encode(data, n);
        if (strchr(enc, '=') || strchr(enc, '+') || strchr(enc, '/'))
            fail_msg("%zu bytes encode to '%s': not unpadded base64url", n, enc);
        _cleanup_free_ uint8_t *dec = NULL;
        size_t len = 0;
        struct kiln_error *err = NULL;
        expect_ok(kilnd_b64url_decode(enc, strlen(enc), &dec, &len, &err), &err);
        if (len != n || memcmp(dec, data, n) != 0)
            fail_msg("'%s' does not decode to the %zu bytes it came from", enc, n);
    }
    _cleanup_free_ char *enc = kilnd_b64url_encode("\xfb\xff", 2);
    assert_string_equal(enc, "-_8");
    static const char *const bad[] = {"-_8=", "ab+c", "ab/c", "a", "ab c", "-_9"};
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        uint8_t *dec = NULL;
        size_t len = 0;
        struct kiln_error *err = NULL;
        expect_fail(kilnd_b64url_decode(bad[i], strlen(bad[i]), &dec, &len, &err), &err,
                    KILN_E_INVALID, "malformed base64url");
    }
}

static void test_jwt__key_id_is_libtrust(void **state)
{
    EVP_PKEY *k = fixed_key();
    char kid[KILND_JWT_KID_LEN + 1];
    struct kiln_error *err = NULL;
    expect_ok(kilnd_jwt_key_id(k, kid, &err), &err);
    assert_string_equal(kid, fixed_kid);
    EVP_PKEY_free(k);
}

static void test_jwt__verifies_a_foreign_token(void **state)
{
    EVP_PKEY *k = fixed_key();
    struct kilnd_jwt_key key = {fixed_kid, k};
    json_t *claims = NULL;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_jwt_verify(foreign_jwt, &key, 1, &claims, &err), &err);
    assert_string_equal(json_string_value(json_object_get(claims, "sub")), "bob");
    json_decref(claims);
    EVP_PKEY_free(k);
}

/* A token signed by the fixed key, with the header and claims given. */
static char *sign_fixed(json_t *claims)
{
    EVP_PKEY *k = fixed_key();
    struct kilnd_jwt_key key = {fixed_kid, k};
    char *jwt = NULL;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_jwt_sign(&key, claims, &jwt, &err), &err);
    EVP_PKEY_free(k);
    return jwt;
}

static void test_jwt__sign_then_verify(void **state)
{
    json_t *claims = json_pack("{s:s, s:i}", "sub", "alice", "exp", 4102444800);
    _cleanup_free_ char *jwt = sign_fixed(claims);
    json_decref(claims);
    /* The header is what distribution expects, the signature R||S. */
    const char *dot1 = strchr(jwt, '.'), *dot2 = strrchr(jwt, '.');
    uint8_t *raw = NULL;
    size_t n = 0;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_b64url_decode(jwt, (size_t)(dot1 - jwt), &raw, &n, &err), &err);
    json_t *h = json_loads((const char *)raw, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES256");
    assert_string_equal(json_string_value(json_object_get(h, "kid")), fixed_kid);
    json_decref(h);
    free(raw);
    expect_ok(kilnd_b64url_decode(dot2 + 1, strlen(dot2 + 1), &raw, &n, &err), &err);
    assert_int_equal(n, KILND_JWT_SIG_LEN);
    free(raw);

    EVP_PKEY *k = fixed_key();
    struct kilnd_jwt_key keys[] = {{"OTHER", k}, {fixed_kid, k}};
    json_t *got = NULL;
    expect_ok(kilnd_jwt_verify(jwt, keys, 2, &got, &err), &err);
    assert_string_equal(json_string_value(json_object_get(got, "sub")), "alice");
    json_decref(got);
    EVP_PKEY_free(k);
}

static void expect_refused(const char *jwt, int code, const char *part)
{
    EVP_PKEY *k = fixed_key();
    struct kilnd_jwt_key key = {fixed_kid, k};
    json_t *claims = NULL;
    struct kiln_error *err = NULL;
    expect_fail(kilnd_jwt_verify(jwt, &key, 1, &claims, &err), &err, code, part);
    assert_null(claims);
    EVP_PKEY_free(k);
}

/* jwt with its part `which` (0 header, 1 claims) replaced by json. */
static char *replace_part(const char *jwt, int which, const char *json)
{
    const char *dot1 = strchr(jwt, '.'), *dot2 = strrchr(jwt, '.');
    _cleanup_free_ char *enc = kilnd_b64url_encode(json, strlen(json));
    if (which == 0)
        return kiln_xasprintf("%s%s", enc, dot1);
    return kiln_xasprintf("%.*s.%s%s", (int)(dot1 - jwt), jwt, enc, dot2);
}

static void test_jwt__refuses_tampering(void **state)
{
    json_t *claims = json_pack("{s:s}", "sub", "alice");
    _cleanup_free_ char *jwt = sign_fixed(claims);
    json_decref(claims);

    _cleanup_free_ char *flipped = kiln_xstrdup(jwt);
    char *last = strrchr(flipped, '.') + 5;
    *last = *last == 'A' ? 'B' : 'A';
    expect_refused(flipped, KILN_E_DENIED, "signature does not verify");

    _cleanup_free_ char *claims2 = replace_part(jwt, 1, "{\"sub\":\"mallory\"}");
    expect_refused(claims2, KILN_E_DENIED, "signature does not verify");

    _cleanup_free_ char *none = replace_part(jwt, 0, "{\"typ\":\"JWT\",\"alg\":\"none\"}");
    expect_refused(none, KILN_E_DENIED, "algorithm 'none' refused");
    _cleanup_free_ char *unsigned_none = kiln_xstrdup(none);
    strrchr(unsigned_none, '.')[1] = '\0';
    expect_refused(unsigned_none, KILN_E_DENIED, "algorithm 'none' refused");

    _cleanup_free_ char *hs = kiln_xasprintf("{\"alg\":\"HS256\",\"kid\":\"%s\"}", fixed_kid);
    _cleanup_free_ char *hs256 = replace_part(jwt, 0, hs);
    expect_refused(hs256, KILN_E_DENIED, "algorithm 'HS256' refused");

    /* An unknown kid with the attacker's key in jwk is still an unknown key. */
    _cleanup_free_ char *jwk = replace_part(
            jwt, 0,
            "{\"alg\":\"ES256\",\"kid\":\"AAAA\",\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\"}}");
    expect_refused(jwk, KILN_E_DENIED, "unknown key 'AAAA'");
    _cleanup_free_ char *nokid = replace_part(jwt, 0, "{\"alg\":\"ES256\"}");
    expect_refused(nokid, KILN_E_DENIED, "unknown key ''");

    expect_refused("a.b", KILN_E_INVALID, "three dot-separated parts");
    expect_refused("a.b.c.d", KILN_E_INVALID, "three dot-separated parts");
    expect_refused("!!.e30.AA", KILN_E_INVALID, "header is not base64url");
    expect_refused("W10.e30.AA", KILN_E_INVALID, "header is not a JSON object");
    char *huge = kiln_xmalloc(KILND_JWT_MAX + 2);
    memset(huge, 'a', KILND_JWT_MAX + 1);
    huge[KILND_JWT_MAX + 1] = '\0';
    expect_refused(huge, KILN_E_LIMIT, "longer than");
    free(huge);
}

static void test_jwt__sign_needs_p256(void **state)
{
    EVP_PKEY *k = EVP_EC_gen("P-384");
    struct kilnd_jwt_key key = {"K", k};
    json_t *claims = json_object();
    char *jwt = NULL;
    struct kiln_error *err = NULL;
    expect_fail(kilnd_jwt_sign(&key, claims, &jwt, &err), &err, KILN_E_INVALID, "not a P-256 key");
    assert_null(jwt);
    json_decref(claims);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_jwt__base64url),
            cmocka_unit_test(test_jwt__key_id_is_libtrust),
            cmocka_unit_test(test_jwt__verifies_a_foreign_token),
            cmocka_unit_test(test_jwt__sign_then_verify),
            cmocka_unit_test(test_jwt__refuses_tampering),
            cmocka_unit_test(test_jwt__sign_needs_p256),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
