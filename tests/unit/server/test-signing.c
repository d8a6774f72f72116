/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ftw.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "expect.h"
#include "server/signing.h"

#include "base/banned.h"

#define T0 1800000000 /* the tests' clock */

static int setup(void **state)
{
    char *dir = kiln_xstrdup("/tmp/kilnd-signing-XXXXXX");
    assert_non_null(mkdtemp(dir));
    *state = dir;
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int teardown(void **state)
{
    char *dir = *state;
    assert_int_equal(nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(dir);
    return 0;
}

static char *file_in(const char *dir, const char *name)
{
    return kiln_xasprintf("%s/" KILND_SIGNING_DIR "/%s", dir, name);
}

/* The key IDs of the certificates in the bundle, in order. */
static size_t bundle_kids(const char *dir, char kids[][KILND_JWT_KID_LEN + 1], size_t max)
{
    _cleanup_free_ char *path = file_in(dir, KILND_SIGNING_BUNDLE);
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    size_t n = 0;
    X509 *x;
    while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
        assert_true(n < max);
        EVP_PKEY *k = X509_get_pubkey(x);
        struct kiln_error *err = NULL;
        expect_ok(kilnd_jwt_key_id(k, kids[n++], &err), &err);
        EVP_PKEY_free(k);
        X509_free(x);
    }
    fclose(f);
    return n;
}

static void expect_bundle(const char *dir, const struct kilnd_keyring *kr)
{
    char kids[KILND_SIGNING_KEYS_MAX][KILND_JWT_KID_LEN + 1];
    size_t n = bundle_kids(dir, kids, KILND_SIGNING_KEYS_MAX);
    if (n != kr->n)
        fail_msg("the bundle holds %zu certificates, the keyring %zu keys", n, kr->n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(kids[i], kr->keys[i].kid) != 0)
            fail_msg("bundle certificate %zu is %s, expected key %u %s", i, kids[i], kr->keys[i].n,
                     kr->keys[i].kid);
}

static bool exists(const char *dir, const char *name)
{
    _cleanup_free_ char *path = file_in(dir, name);
    return access(path, F_OK) == 0;
}

static void test_signing__first_key(void **state)
{
    const char *dir = *state;
    struct kilnd_keyring *kr = NULL;
    struct kiln_error *err = NULL;
    expect_fail(kilnd_keyring_open(dir, false, T0, &kr, &err), &err, KILN_E_NOTFOUND,
                "registry-config");
    expect_fail(kilnd_keyring_rotate(dir, false, T0, &kr, &err), &err, KILN_E_NOTFOUND,
                "registry-config");
    expect_fail(kilnd_keyring_activate(dir, T0, &kr, &err), &err, KILN_E_NOTFOUND,
                "registry-config");
    expect_ok(kilnd_keyring_open(dir, true, T0, &kr, &err), &err);
    assert_int_equal(kr->n, 1);
    const struct kilnd_signing_key *k = kilnd_keyring_signer(kr);
    assert_ptr_equal(k, &kr->keys[0]);
    assert_int_equal(k->n, 1);
    assert_int_equal(k->activated, T0);
    expect_bundle(dir, kr);
    struct stat st;
    _cleanup_free_ char *key = file_in(dir, "keys/1.key");
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    kilnd_keyring_free(kr);

    /* Opening again finds the same key, and creates nothing. */
    expect_ok(kilnd_keyring_open(dir, true, T0 + 5, &kr, &err), &err);
    assert_int_equal(kr->n, 1);
    assert_int_equal(kr->keys[0].n, 1);
    struct kilnd_jwt_key trusted[KILND_SIGNING_KEYS_MAX];
    assert_int_equal(kilnd_keyring_trusted(kr, trusted), 1);
    kilnd_keyring_free(kr);
}

static void test_signing__rotate_then_activate(void **state)
{
    const char *dir = *state;
    struct kilnd_keyring *kr = NULL;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_keyring_open(dir, true, T0, NULL, &err), &err);
    expect_fail(kilnd_keyring_activate(dir, T0, &kr, &err), &err, KILN_E_NOTFOUND,
                "signing-key rotate first");

    expect_ok(kilnd_keyring_rotate(dir, false, T0 + 10, &kr, &err), &err);
    /* The new key is trusted at once, but the old one goes on signing. */
    assert_int_equal(kr->n, 2);
    assert_int_equal(kr->keys[0].state, KILND_KEY_NEXT);
    assert_int_equal(kilnd_keyring_signer(kr)->n, 1);
    expect_bundle(dir, kr);
    kilnd_keyring_free(kr);
    expect_fail(kilnd_keyring_rotate(dir, false, T0 + 11, NULL, &err), &err, KILN_E_CONFLICT,
                "key 2 waits to be activated");

    expect_ok(kilnd_keyring_activate(dir, T0 + 20, &kr, &err), &err);
    assert_int_equal(kilnd_keyring_signer(kr)->n, 2);
    assert_int_equal(kr->keys[1].state, KILND_KEY_RETIRED);
    assert_int_equal(kr->keys[1].retired, T0 + 20);
    assert_false(exists(dir, "keys/1.key"));
    assert_true(exists(dir, "keys/1.crt"));
    expect_bundle(dir, kr);
    kilnd_keyring_free(kr);

    /* What a reader (kilnd serving) loads is the same. */
    expect_ok(kilnd_keyring_open(dir, false, T0 + 21, &kr, &err), &err);
    assert_int_equal(kr->n, 2);
    assert_int_equal(kilnd_keyring_signer(kr)->n, 2);
    kilnd_keyring_free(kr);
}

static void test_signing__retired_keys_are_dropped(void **state)
{
    const char *dir = *state;
    struct kilnd_keyring *kr = NULL;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_keyring_open(dir, true, T0, NULL, &err), &err);
    expect_ok(kilnd_keyring_rotate(dir, true, T0 + 100, NULL, &err), &err);
    /* Key 1 may still have valid tokens until T0 + 100 + KEEP. */
    expect_ok(kilnd_keyring_rotate(dir, true, T0 + 100 + KILND_SIGNING_KEEP_S - 1, &kr, &err),
              &err);
    assert_int_equal(kr->n, 3);
    expect_bundle(dir, kr);
    int64_t later = kr->keys[2].retired + KILND_SIGNING_KEEP_S; /* key 1's end */
    kilnd_keyring_free(kr);
    expect_ok(kilnd_keyring_rotate(dir, true, later, &kr, &err), &err);
    /* Key 1 went, key 2 was retired just now and key 3 before: 4, 3, 2 remain. */
    assert_int_equal(kr->n, 3);
    assert_int_equal(kr->keys[0].n, 4);
    assert_int_equal(kr->keys[2].n, 2);
    assert_false(exists(dir, "keys/1.crt"));
    expect_bundle(dir, kr);
    kilnd_keyring_free(kr);
}

static void test_signing__damage_is_named(void **state)
{
    const char *dir = *state;
    struct kilnd_keyring *kr = NULL;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_keyring_open(dir, true, T0, NULL, &err), &err);
    _cleanup_free_ char *cert = file_in(dir, "keys/1.key");
    _cleanup_free_ char *other = file_in(dir, "keys/1.crt");
    /* A key file that holds another key. */
    assert_int_equal(rename(other, cert), 0);
    expect_fail(kilnd_keyring_open(dir, false, T0, &kr, &err), &err, KILN_E_INVALID,
                "does not hold key");
    _cleanup_free_ char *keys = file_in(dir, "keys.json");
    FILE *f = fopen(keys, "we");
    fputs("{\"keys\": [{\"n\": 1}]}", f);
    fclose(f);
    expect_fail(kilnd_keyring_open(dir, false, T0, &kr, &err), &err, KILN_E_INVALID, "is damaged");
    expect_fail(kilnd_keyring_rotate(dir, false, T0, &kr, &err), &err, KILN_E_INVALID,
                "is damaged");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_signing__first_key, setup, teardown),
            cmocka_unit_test_setup_teardown(test_signing__rotate_then_activate, setup, teardown),
            cmocka_unit_test_setup_teardown(test_signing__retired_keys_are_dropped, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_signing__damage_is_named, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
