/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "identity-fixture.h"
#include "server/accounts.h"
#include "server/ratelimit.h"
#include "server/tokens.h"

#include "base/banned.h"

static int setup(void **state)
{
    fixture_setup(state);
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_account_create(f->db, "acme", KILND_ACCOUNT_ORG, &err), &err);
    expect_ok(kilnd_account_create(f->db, "alice", KILND_ACCOUNT_USER, &err), &err);
    return 0;
}

/* A token for owner; its id in ret_id when given. Caller frees. */
static char *make(struct fixture *f, const char *owner, const char *scopes, int64_t expires,
                  char ret_id[KILND_TOKEN_ID_LEN + 1])
{
    struct kilnd_token_info t;
    char *token = NULL;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_token_create(f->db, owner, scopes, "ci", expires, &t, &token, &err), &err);
    if (ret_id)
        memcpy(ret_id, t.id, sizeof(t.id));
    kilnd_token_info_release(&t);
    return token;
}

static char *basic(const char *name, const char *token)
{
    _cleanup_free_ char *cred = kiln_xasprintf("%s:%s", name, token);
    unsigned char out[512];
    int n = EVP_EncodeBlock(out, (const unsigned char *)cred, (int)strlen(cred));
    return kiln_xasprintf("Basic %.*s", n, out);
}

static void test_tokens__form(void **state)
{
    struct fixture *f = *state;
    char id[KILND_TOKEN_ID_LEN + 1];
    _cleanup_free_ char *pat = make(f, "alice", "cloud-connect", 0, id);
    _cleanup_free_ char *oat = make(f, "acme", "cloud-connect", 0, NULL);
    assert_int_equal(strlen(pat), KILND_TOKEN_LEN);
    assert_int_equal(strncmp(pat, "kiln_pat_", 9), 0);
    assert_int_equal(strncmp(oat, "kiln_oat_", 9), 0);
    assert_int_equal(memcmp(pat + 9, id, KILND_TOKEN_ID_LEN), 0);
    assert_int_equal(pat[9 + KILND_TOKEN_ID_LEN], '_');
    assert_int_equal(strspn(pat + 9, "0123456789abcdef"), KILND_TOKEN_ID_LEN);
    assert_int_equal(
            strspn(pat + 22, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            KILND_TOKEN_SECRET_LEN);
    /* The database holds the sha256 of the token, nothing of the secret. */
    unsigned char md[32];
    EVP_Digest(pat, strlen(pat), md, NULL, EVP_sha256(), NULL);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    _cleanup_free_ char *q =
            kiln_xasprintf("SELECT count(*) FROM tokens WHERE id = '%s' AND hash = '%s'", id, hex);
    assert_int_equal(fixture_int(f, q), 1);
    _cleanup_free_ char *leak =
            kiln_xasprintf("SELECT count(*) FROM tokens WHERE hash || scopes || description || id "
                           "LIKE '%%%.20s%%'",
                           pat + 22);
    assert_int_equal(fixture_int(f, leak), 0);
}

static void test_tokens__verify(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char id[KILND_TOKEN_ID_LEN + 1];
    _cleanup_free_ char *pat = make(f, "alice", "cloud-connect,repo:alice/*:push", 0, id);
    _cleanup_(kilnd_principal_freep) struct kilnd_principal *p = NULL;
    expect_ok(kilnd_token_verify(f->db, pat, &p, &err), &err);
    assert_string_equal(p->name, "alice");
    assert_false(p->is_org);
    assert_string_equal(p->token_id, id);
    assert_int_equal(p->scopes.n, 2);
    assert_string_equal(p->scopes.v[1], "repo:alice/*:push");
    assert_true(fixture_int(f, "SELECT last_used FROM tokens") > 0);

    _cleanup_free_ char *oat = make(f, "acme", "cloud-connect", 0, NULL);
    _cleanup_(kilnd_principal_freep) struct kilnd_principal *o = NULL;
    expect_ok(kilnd_token_verify(f->db, oat, &o, &err), &err);
    assert_string_equal(o->name, "acme");
    assert_true(o->is_org);
}

static void test_tokens__refusals(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    struct kilnd_principal *p = NULL;
    _cleanup_free_ char *pat = make(f, "alice", "cloud-connect", 0, NULL);

    _cleanup_free_ char *wrong_secret = kiln_xstrdup(pat);
    wrong_secret[KILND_TOKEN_LEN - 1] = wrong_secret[KILND_TOKEN_LEN - 1] == 'A' ? 'B' : 'A';
    expect_fail(kilnd_token_verify(f->db, wrong_secret, &p, &err), &err, KILN_E_DENIED,
                "invalid access token");

    _cleanup_free_ char *wrong_id = kiln_xstrdup(pat);
    wrong_id[9] = wrong_id[9] == '0' ? '1' : '0';
    expect_fail(kilnd_token_verify(f->db, wrong_id, &p, &err), &err, KILN_E_DENIED,
                "invalid access token");

    _cleanup_free_ char *wrong_kind = kiln_xstrdup(pat);
    memcpy(wrong_kind, "kiln_oat_", 9);
    expect_fail(kilnd_token_verify(f->db, wrong_kind, &p, &err), &err, KILN_E_DENIED,
                "invalid access token");

    static const char *const malformed[] = {
            "", "kiln_pat_", "Bearer x", "kiln_pat_0123456789ab_short",
            "kiln_pat_0123456789AB_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < ELEMENTSOF(malformed); i++)
        expect_fail(kilnd_token_verify(f->db, malformed[i], &p, &err), &err, KILN_E_DENIED,
                    "invalid access token");
    _cleanup_free_ char *longer = kiln_xasprintf("%sA", pat);
    expect_fail(kilnd_token_verify(f->db, longer, &p, &err), &err, KILN_E_DENIED,
                "invalid access token");
    assert_null(p);
}

static void test_tokens__expire_and_revoke(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    struct kilnd_principal *p = NULL;
    char id[KILND_TOKEN_ID_LEN + 1];
    /* 2001-09-09 01:46:40 UTC */
    _cleanup_free_ char *old = make(f, "alice", "cloud-connect", 1000000000, id);
    _cleanup_free_ char *want =
            kiln_xasprintf("token %s expired on 2001-09-09 01:46:40 UTC: create a new one", id);
    expect_fail(kilnd_token_verify(f->db, old, &p, &err), &err, KILN_E_DENIED, want);

    _cleanup_free_ char *later = make(f, "alice", "cloud-connect", kilnd_db_now() + 3600, id);
    expect_ok(kilnd_token_verify(f->db, later, &p, &err), &err);
    kilnd_principal_free(p);
    p = NULL;
    expect_ok(kilnd_token_revoke(f->db, id, &err), &err);
    _cleanup_free_ char *revoked = kiln_xasprintf("token %s was revoked", id);
    expect_fail(kilnd_token_verify(f->db, later, &p, &err), &err, KILN_E_DENIED, revoked);
    expect_fail(kilnd_token_revoke(f->db, "000000000000", &err), &err, KILN_E_NOTFOUND,
                "no token '000000000000'");
}

static void test_tokens__create_checks(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    struct kilnd_token_info t;
    char *token = NULL;
    expect_fail(kilnd_token_create(f->db, "nobody", "cloud-connect", NULL, 0, &t, &token, &err),
                &err, KILN_E_NOTFOUND, "'nobody'");
    expect_fail(kilnd_token_create(f->db, "alice", "cloud-connect,push", NULL, 0, &t, &token, &err),
                &err, KILN_E_INVALID, "invalid scope 'push'");
    expect_fail(kilnd_token_create(f->db, "alice", "cloud-connect", "a\nb", 0, &t, &token, &err),
                &err, KILN_E_INVALID, "control character");
    assert_null(token);
    assert_int_equal(fixture_int(f, "SELECT count(*) FROM tokens"), 0);
}

static void test_tokens__list(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char id[KILND_TOKEN_ID_LEN + 1];
    _cleanup_free_ char *a = make(f, "alice", "cloud-connect", 0, id);
    _cleanup_free_ char *b = make(f, "alice", "repo:alice/x:pull", 0, NULL);
    _cleanup_free_ char *c = make(f, "acme", "cloud-connect", 0, NULL);
    expect_ok(kilnd_token_revoke(f->db, id, &err), &err);
    struct kilnd_token_info *list = NULL;
    size_t n = 0;
    expect_ok(kilnd_token_list(f->db, "alice", &list, &n, &err), &err);
    assert_int_equal(n, 2);
    size_t revoked = 0;
    for (size_t i = 0; i < n; i++) {
        assert_false(list[i].is_org);
        assert_string_equal(list[i].owner, "alice");
        assert_string_equal(list[i].description, "ci");
        revoked += list[i].revoked;
    }
    assert_int_equal(revoked, 1);
    kilnd_token_list_free(list, n);
    expect_fail(kilnd_token_list(f->db, "nobody", &list, &n, &err), &err, KILN_E_NOTFOUND,
                "'nobody'");
}

static void test_tokens__auth_header(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    struct kilnd_principal *p = NULL;
    _cleanup_free_ char *pat = make(f, "alice", "cloud-connect", 0, NULL);
    _cleanup_free_ char *oat = make(f, "acme", "cloud-connect", 0, NULL);
    struct kilnd_ratelimit *rl = kilnd_ratelimit_new();

    _cleanup_free_ char *bearer = kiln_xasprintf("Bearer %s", pat);
    expect_ok(kilnd_auth_header(f->db, rl, bearer, "127.0.0.1", &p, &err), &err);
    assert_string_equal(p->name, "alice");
    kilnd_principal_free(p);
    _cleanup_free_ char *lower = kiln_xasprintf("bearer %s", oat);
    expect_ok(kilnd_auth_header(f->db, rl, lower, "127.0.0.1", &p, &err), &err);
    assert_string_equal(p->name, "acme");
    kilnd_principal_free(p);

    _cleanup_free_ char *good = basic("alice", pat);
    expect_ok(kilnd_auth_header(f->db, rl, good, "127.0.0.1", &p, &err), &err);
    kilnd_principal_free(p);
    _cleanup_free_ char *org = basic("acme", oat);
    expect_ok(kilnd_auth_header(f->db, rl, org, "127.0.0.1", &p, &err), &err);
    kilnd_principal_free(p);
    p = NULL;

    _cleanup_free_ char *wrong_name = basic("acme", pat);
    expect_fail(kilnd_auth_header(f->db, rl, wrong_name, "127.0.0.1", &p, &err), &err,
                KILN_E_DENIED, "invalid access token");
    _cleanup_free_ char *no_colon = kiln_xasprintf("Basic %s", "YWxpY2U="); /* "alice" */
    expect_fail(kilnd_auth_header(f->db, rl, no_colon, "127.0.0.1", &p, &err), &err, KILN_E_DENIED,
                "invalid access token");
    expect_fail(kilnd_auth_header(f->db, rl, "Basic !!!!", "127.0.0.1", &p, &err), &err,
                KILN_E_DENIED, "invalid access token");
    expect_fail(kilnd_auth_header(f->db, rl, "Digest x", "127.0.0.1", &p, &err), &err,
                KILN_E_DENIED, "unsupported authorization");
    assert_null(p);
    kilnd_ratelimit_free(rl);
}

static void test_tokens__rate_limited(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    struct kilnd_principal *p = NULL;
    _cleanup_free_ char *pat = make(f, "alice", "cloud-connect", 0, NULL);
    _cleanup_free_ char *bearer = kiln_xasprintf("Bearer %s", pat);
    struct kilnd_ratelimit *rl = kilnd_ratelimit_new();
    for (int i = 0; i <= KILND_RATELIMIT_FAILURES; i++)
        expect_fail(kilnd_auth_header(f->db, rl, "Bearer kiln_pat_x", "192.0.2.9", &p, &err), &err,
                    KILN_E_DENIED, "invalid access token");
    /* Blocked now, even with the right token; other addresses are not. */
    expect_fail(kilnd_auth_header(f->db, rl, bearer, "192.0.2.9", &p, &err), &err, KILN_E_LIMIT,
                "too many failed attempts from 192.0.2.9: wait 60 s");
    expect_ok(kilnd_auth_header(f->db, rl, bearer, "192.0.2.10", &p, &err), &err);
    kilnd_principal_free(p);
    kilnd_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_tokens__form, setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_tokens__verify, setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_tokens__refusals, setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_tokens__expire_and_revoke, setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_tokens__create_checks, setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_tokens__list, setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_tokens__auth_header, setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_tokens__rate_limited, setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
