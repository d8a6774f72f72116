/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "oci/digest.h"

static void expect_digest(enum kiln_oci_digest_algo algo, const void *data, size_t len,
                          const char *want)
{
    char got[KILN_OCI_DIGEST_MAX];
    assert_int_equal(kiln_oci_digest_bytes(algo, data, len, got, NULL), 0);
    assert_string_equal(got, want);
}

static void test_digest__known_vectors(void **state)
{
    static const char zeros[1024];
    expect_digest(KILN_OCI_SHA256, "", 0,
                  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_digest(KILN_OCI_SHA256, "abc", 3,
                  "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect_digest(KILN_OCI_SHA384, "abc", 3,
                  "sha384:"
                  "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc23"
                  "58baeca134c825a7");
    expect_digest(KILN_OCI_SHA512, "abc", 3,
                  "sha512:"
                  "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a8"
                  "36ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    /* The OCI empty descriptor's "{}" and an empty tar (two zero blocks). */
    expect_digest(KILN_OCI_SHA256, "{}", 2,
                  "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    expect_digest(KILN_OCI_SHA256, zeros, sizeof(zeros),
                  "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
}

static void test_digest__streaming_equals_one_shot(void **state)
{
    char text[1000], whole[KILN_OCI_DIGEST_MAX], parts[KILN_OCI_DIGEST_MAX];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)(i * 7);
    assert_int_equal(kiln_oci_digest_bytes(KILN_OCI_SHA512, text, sizeof(text), whole, NULL), 0);
    struct kiln_oci_digester d;
    assert_int_equal(kiln_oci_digester_init(&d, KILN_OCI_SHA512, NULL), 0);
    for (size_t off = 0, step = 1; off < sizeof(text); off += step, step = step * 2 + 1) {
        size_t n = off + step > sizeof(text) ? sizeof(text) - off : step;
        assert_int_equal(kiln_oci_digester_update(&d, text + off, n, NULL), 0);
    }
    assert_int_equal(kiln_oci_digester_final(&d, parts, NULL), 0);
    kiln_oci_digester_release(&d);
    assert_string_equal(parts, whole);
}

#define HEX64 "e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046b"
#define HEX96                                                                                      \
    "d3fc7881460b7e22e3d172954463dddd7866d17597e7248453c48b3e9d26d9596bf9c4a9cf8072c9d5bad76e19af" \
    "801d"

/* go-digest's Validate facts: 0 valid, 1 unsupported algorithm, -1 invalid (with the reason). */
static void test_digest__validate_as_go_digest(void **state)
{
    static const struct {
        const char *in;
        int want;
        const char *reason;
    } cases[] = {
            {"sha256:" HEX64, 0, NULL},
            {"sha384:" HEX96, 0, NULL},
            {"sha512:" HEX64 HEX64, 0, NULL},
            {"", -1, "invalid checksum digest format"},
            {"     ", -1, "invalid checksum digest format"},
            {"sha256:", -1, "invalid checksum digest format"},
            {"sha256:                                                                ", -1,
             "invalid checksum digest format"},
            {":", -1, "invalid checksum digest format"},
            {"d41d8cd98f00b204e9800998ecf8427e", -1, "invalid checksum digest format"},
            {"sha256:d41d8cd98f00b204e9800m98ecf8427e", -1, "invalid checksum digest length"},
            {"sha256:abcdef0123456789", -1, "invalid checksum digest length"},
            {"sha512:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", -1,
             "sha512 needs 128 hex digits, not 64"},
            {"foo:d41d8cd98f00b204e9800998ecf8427e", 1, NULL},
            {"sha384__foo+bar:" HEX96, -1, "invalid checksum digest format"},
            {"sha384.foo+bar:" HEX96, 1, NULL},
            {"sha384_foo+bar:" HEX96, 1, NULL},
            {"sha256+b64:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", 1, NULL},
            {"multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", 1, NULL},
            {"sha256+foo+-b:" HEX64, -1, "invalid checksum digest format"},
            {"SHA256:" HEX64, -1, "invalid checksum digest format"},
            {"sha256:E58FCF7418D4390DEC8E8FB69D88C06EC07039D651FEDD3AA72AF9972E7D046B", -1,
             "lower-case hex"},
            {"sha256:" HEX64 ":", -1, "invalid checksum digest length"},
            {"foo:a:b", -1, "invalid checksum digest format"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kiln_error *err = NULL;
        int r = kiln_oci_digest_validate(cases[i].in, &err);
        int got = r < 0 ? -1 : r;
        if (got != cases[i].want)
            fail_msg("'%s': got %d (%s), want %d", cases[i].in, got,
                     err ? err->message : "no message", cases[i].want);
        if (cases[i].reason && (!err || !strstr(err->message, cases[i].reason)))
            fail_msg("'%s': message '%s' lacks '%s'", cases[i].in, err ? err->message : "",
                     cases[i].reason);
        if (r < 0)
            assert_int_equal(r, KILN_E_INVALID);
        kiln_error_free(err);
    }
}

static void test_digest__verify_names_both_digests(void **state)
{
    struct kiln_error *err = NULL;
    assert_int_equal(kiln_oci_digest_verify("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a"
                                            "9cb410ff61f20015ad",
                                            "abc", 3, &err),
                     0);
    assert_int_equal(kiln_oci_digest_verify("sha256:" HEX64, "abc", 3, &err), KILN_E_INVALID);
    assert_non_null(strstr(err->message, "content digest is sha256:ba7816bf"));
    assert_non_null(strstr(err->message, "expected sha256:" HEX64));
    assert_int_equal(kiln_oci_digest_verify("sha256+b64:abc", "abc", 3, &err), KILN_E_INVALID);
    assert_non_null(strstr(err->message, "unsupported digest algorithm"));
    assert_int_equal(kiln_oci_digest_verify("sha256:abc", "abc", 3, &err), KILN_E_INVALID);
    assert_non_null(strstr(err->message, "invalid checksum digest length"));
    kiln_error_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_digest__known_vectors),
            cmocka_unit_test(test_digest__streaming_equals_one_shot),
            cmocka_unit_test(test_digest__validate_as_go_digest),
            cmocka_unit_test(test_digest__verify_names_both_digests),
    };
    return cmocka_run_group_tests_name("oci/digest", tests, NULL, NULL);
}
