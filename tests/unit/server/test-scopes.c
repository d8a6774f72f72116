/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "identity-fixture.h"
#include "server/accounts.h"
#include "server/scopes.h"
#include "server/tokens.h"

#include "base/banned.h"

static void test_scopes__repo_names(void **state)
{
    static const char *const good[] = {"a",   "acme/app", "acme/app-web", "a/b/c",          "a.b",
                                       "a_b", "a__b",     "a---b",        "library/alpine", "0/1"};
    static const char *const bad[] = {"",    "/a",   "a/",       "a//b", "A",  "a.",
                                      ".a",  "a..b", "a___b",    "a_.b", "a-", "a b",
                                      "a:b", "a*",   "acme/App", "a/-b"};
    for (size_t i = 0; i < ELEMENTSOF(good); i++)
        if (!kilnd_repo_name_valid(good[i]))
            fail_msg("repository '%s' refused", good[i]);
    for (size_t i = 0; i < ELEMENTSOF(bad); i++)
        if (kilnd_repo_name_valid(bad[i]))
            fail_msg("repository '%s' accepted", bad[i]);
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_false(kilnd_repo_name_valid(longname));
    longname[KILND_REPO_NAME_MAX] = '\0';
    assert_true(kilnd_repo_name_valid(longname));
}

static void test_scopes__valid(void **state)
{
    static const char *const good[] = {
            "cloud-connect",    "repo:public-read", "repo:acme/app:pull",  "repo:acme/app:push",
            "repo:acme/*:pull", "repo:*:push",      "repo:acme/app-*:pull"};
    static const char *const bad[] = {"",
                                      "cloud",
                                      "Cloud-connect",
                                      "repo:acme/app",
                                      "repo:acme/app:delete",
                                      "repo::pull",
                                      "repo:Acme/app:pull",
                                      "repo:acme/*/x:pull",
                                      "repo:/acme*:pull",
                                      "repo:acme//*:pull",
                                      "repo:acme/app:pull ",
                                      "repository:acme/app:pull"};
    for (size_t i = 0; i < ELEMENTSOF(good); i++)
        if (!kilnd_scope_valid(good[i]))
            fail_msg("scope '%s' refused", good[i]);
    for (size_t i = 0; i < ELEMENTSOF(bad); i++)
        if (kilnd_scope_valid(bad[i]))
            fail_msg("scope '%s' accepted", bad[i]);
}

static void test_scopes__parse(void **state)
{
    struct kiln_strv v = KILN_STRV_INIT;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_scopes_parse("cloud-connect,repo:a/b:pull,cloud-connect", &v, &err), &err);
    assert_int_equal(v.n, 2);
    assert_string_equal(v.v[0], "cloud-connect");
    assert_string_equal(v.v[1], "repo:a/b:pull");
    expect_fail(kilnd_scopes_parse("cloud-connect,repo:a/b:write", &v, &err), &err, KILN_E_INVALID,
                "invalid scope 'repo:a/b:write'");
    expect_fail(kilnd_scopes_parse("cloud-connect,", &v, &err), &err, KILN_E_INVALID,
                "invalid scope ''");
    expect_fail(kilnd_scopes_parse("", &v, &err), &err, KILN_E_INVALID, "invalid scope ''");
    assert_int_equal(v.n, 2); /* untouched by the failures */
    kiln_strv_release(&v);

    struct kiln_buf b = KILN_BUF_INIT(1 << 20);
    for (int i = 0; i <= KILND_SCOPES_MAX; i++)
        assert_int_equal(kiln_buf_addf(&b, "%srepo:r%d:pull", i ? "," : "", i), 0);
    expect_fail(kilnd_scopes_parse(b.buf, &v, &err), &err, KILN_E_LIMIT, "more than 64 scopes");
    kiln_buf_release(&b);
}

static unsigned actions(const char *scopes, const char *repo, bool is_public)
{
    struct kiln_strv v = KILN_STRV_INIT;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_scopes_parse(scopes, &v, &err), &err);
    unsigned a = kilnd_scopes_repo_actions(&v, repo, is_public);
    kiln_strv_release(&v);
    return a;
}

#define PULL KILND_ACTION_PULL
#define PUSH KILND_ACTION_PUSH

static void test_scopes__repo_actions(void **state)
{
    static const struct {
        const char *scopes, *repo;
        bool is_public;
        unsigned want;
    } cases[] = {
            {"repo:acme/app:pull", "acme/app", false, PULL},
            {"repo:acme/app:push", "acme/app", false, PULL | PUSH}, /* push implies pull */
            {"repo:acme/app:pull,repo:acme/app:push", "acme/app", false, PULL | PUSH},
            {"repo:acme/app:push", "acme/app2", false, 0},  /* exact: no prefix */
            {"repo:acme/app:push", "acme/app/x", false, 0}, /* exact: no children */
            {"repo:acme/app:push", "acme", false, 0},
            {"repo:acme/*:pull", "acme/app", false, PULL}, /* glob: prefix */
            {"repo:acme/*:push", "acme/a/b/c", false, PULL | PUSH},
            {"repo:acme/*:push", "acme", false, 0}, /* "acme/" is not a prefix of it */
            {"repo:acme/*:push", "acmecorp/app", false, 0},
            {"repo:acme/app-*:pull", "acme/app-web", false, PULL},
            {"repo:acme/app-*:pull", "acme/app", false, 0},
            {"repo:acme*:pull", "acmecorp/app", false, PULL},
            {"repo:*:pull", "anything/at/all", false, PULL},
            {"repo:*:pull,repo:acme/app:push", "acme/app", false, PULL | PUSH},
            {"repo:public-read", "acme/app", true, PULL}, /* public-read: public only */
            {"repo:public-read", "acme/app", false, 0},
            {"cloud-connect", "acme/app", true, 0}, /* public alone grants nothing */
            {"repo:public-read,repo:acme/app:push", "acme/app", true, PULL | PUSH},
            {"repo:acme/app:pull", "Acme/app", false, 0}, /* not a repository name */
            {"repo:*:push", "", false, 0},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        unsigned got = actions(cases[i].scopes, cases[i].repo, cases[i].is_public);
        if (got != cases[i].want)
            fail_msg("scopes '%s' on '%s' (public %d): got %u, expected %u", cases[i].scopes,
                     cases[i].repo, cases[i].is_public, got, cases[i].want);
    }
}

static struct kilnd_principal *principal(const char *name, bool is_org, const char *scopes)
{
    struct kilnd_principal *p = kiln_xcalloc(1, sizeof(*p));
    p->name = kiln_xstrdup(name);
    p->is_org = is_org;
    p->scopes = (struct kiln_strv)KILN_STRV_INIT;
    snprintf(p->token_id, sizeof(p->token_id), "0123456789ab");
    struct kiln_error *err = NULL;
    expect_ok(kilnd_scopes_parse(scopes, &p->scopes, &err), &err);
    return p;
}

static void test_scopes__public_repos(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    _cleanup_(kilnd_principal_freep) struct kilnd_principal *p =
            principal("alice", false, "repo:public-read,repo:alice/*:push");
    assert_int_equal(kilnd_principal_repo_actions(f->db, p, "acme/pub"), 0);
    expect_ok(kilnd_repo_set_public(f->db, "acme/pub", true, &err), &err);
    expect_ok(kilnd_repo_set_public(f->db, "acme/pub", true, &err), &err); /* twice is fine */
    assert_int_equal(kilnd_repo_is_public(f->db, "acme/pub", NULL), 1);
    assert_int_equal(kilnd_principal_repo_actions(f->db, p, "acme/pub"), PULL);
    assert_int_equal(kilnd_principal_repo_actions(f->db, p, "alice/x"), PULL | PUSH);
    expect_ok(kilnd_repo_set_public(f->db, "acme/pub", false, &err), &err);
    assert_int_equal(kilnd_principal_repo_actions(f->db, p, "acme/pub"), 0);
    expect_fail(kilnd_repo_set_public(f->db, "acme/*", true, &err), &err, KILN_E_INVALID,
                "invalid repository 'acme/*'");
}

static void test_scopes__can_connect(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_account_create(f->db, "acme", KILND_ACCOUNT_ORG, &err), &err);
    expect_ok(kilnd_account_create(f->db, "other", KILND_ACCOUNT_ORG, &err), &err);
    expect_ok(kilnd_account_create(f->db, "alice", KILND_ACCOUNT_USER, &err), &err);
    expect_ok(kilnd_member_add(f->db, "acme", "alice", &err), &err);

    _cleanup_(kilnd_principal_freep) struct kilnd_principal *pat =
            principal("alice", false, "cloud-connect");
    expect_ok(kilnd_principal_can_connect(f->db, pat, "alice", &err), &err); /* own account */
    expect_ok(kilnd_principal_can_connect(f->db, pat, "acme", &err), &err);  /* member */
    expect_fail(kilnd_principal_can_connect(f->db, pat, "other", &err), &err, KILN_E_DENIED,
                "token's owner alice is not a member of other");

    _cleanup_(kilnd_principal_freep) struct kilnd_principal *oat =
            principal("acme", true, "cloud-connect,repo:acme/*:push");
    expect_ok(kilnd_principal_can_connect(f->db, oat, "acme", &err), &err);
    expect_fail(kilnd_principal_can_connect(f->db, oat, "other", &err), &err, KILN_E_DENIED,
                "belongs to organisation acme and cannot use the builders of other");

    _cleanup_(kilnd_principal_freep) struct kilnd_principal *pull =
            principal("alice", false, "repo:acme/*:pull");
    expect_fail(kilnd_principal_can_connect(f->db, pull, "alice", &err), &err, KILN_E_DENIED,
                "token lacks scope cloud-connect");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_scopes__repo_names),
            cmocka_unit_test(test_scopes__valid),
            cmocka_unit_test(test_scopes__parse),
            cmocka_unit_test(test_scopes__repo_actions),
            cmocka_unit_test_setup_teardown(test_scopes__public_repos, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_scopes__can_connect, fixture_setup,
                                            fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
