/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "identity-fixture.h"
#include "server/accounts.h"
#include "server/builders.h"

#include "base/banned.h"

static void test_accounts__schema(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(fixture_int(f, "PRAGMA user_version"), 2);
    assert_int_equal(fixture_int(f, "PRAGMA foreign_keys"), 1);
    assert_int_equal(fixture_int(f, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
    assert_int_equal(fixture_int(f, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                    "name IN ('accounts', 'members', 'builders', 'tokens', "
                                    "'public_repos', 'builds')"),
                     6);
    char path[128];
    snprintf(path, sizeof(path), "%s/kilnd.db", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    if ((st.st_mode & 07777) != 0600)
        fail_msg("kilnd.db has mode %o, expected 600", st.st_mode & 07777);
}

static void test_accounts__reopen_and_newer_schema(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    struct kilnd_db *db = NULL;
    /* A second handle (another process's, e.g. kilnd admin while kilnd serves). */
    expect_ok(kilnd_db_open(f->dir, &db, &err), &err);
    expect_ok(kilnd_account_create(db, "alice", KILND_ACCOUNT_USER, &err), &err);
    enum kilnd_account_kind k;
    expect_ok(kilnd_account_kind(f->db, "alice", &k, &err), &err);
    kilnd_db_close(db);
    fixture_sql(f, "PRAGMA user_version = 99");
    expect_fail(kilnd_db_open(f->dir, &db, &err), &err, KILN_E_INVALID,
                "schema version 99, newer than this kilnd knows (2)");
}

static void test_accounts__names(void **state)
{
    static const char *const good[] = {
            "a", "acme", "0", "a-b", "a--b", "abc-", "abcdefghijklmnopqrstuvwxyz0123456789abc"};
    static const char *const bad[] = {
            "", "-a", "Acme", "a_b", "a.b", "a/b", "é", "abcdefghijklmnopqrstuvwxyz0123456789abcd"};
    for (size_t i = 0; i < ELEMENTSOF(good); i++)
        if (!kilnd_account_name_valid(good[i]))
            fail_msg("'%s' refused", good[i]);
    for (size_t i = 0; i < ELEMENTSOF(bad); i++)
        if (kilnd_account_name_valid(bad[i]))
            fail_msg("'%s' accepted", bad[i]);
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    expect_fail(kilnd_account_create(f->db, "Bad", KILND_ACCOUNT_ORG, &err), &err, KILN_E_INVALID,
                "invalid name 'Bad'");
}

static void test_accounts__one_namespace(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_account_create(f->db, "acme", KILND_ACCOUNT_ORG, &err), &err);
    expect_ok(kilnd_account_create(f->db, "alice", KILND_ACCOUNT_USER, &err), &err);
    expect_fail(kilnd_account_create(f->db, "acme", KILND_ACCOUNT_USER, &err), &err,
                KILN_E_CONFLICT, "the name 'acme' is taken by an organisation");
    expect_fail(kilnd_account_create(f->db, "alice", KILND_ACCOUNT_ORG, &err), &err,
                KILN_E_CONFLICT, "the name 'alice' is taken by a user");
    enum kilnd_account_kind k = KILND_ACCOUNT_USER;
    expect_ok(kilnd_account_kind(f->db, "acme", &k, &err), &err);
    assert_int_equal(k, KILND_ACCOUNT_ORG);
    expect_fail(kilnd_account_kind(f->db, "nobody", &k, &err), &err, KILN_E_NOTFOUND,
                "no user or organisation 'nobody'");
}

static void test_accounts__members(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_account_create(f->db, "acme", KILND_ACCOUNT_ORG, &err), &err);
    expect_ok(kilnd_account_create(f->db, "alice", KILND_ACCOUNT_USER, &err), &err);
    expect_ok(kilnd_account_create(f->db, "bob", KILND_ACCOUNT_USER, &err), &err);
    assert_int_equal(kilnd_member_is(f->db, "acme", "alice", NULL), 0);
    expect_ok(kilnd_member_add(f->db, "acme", "alice", &err), &err);
    assert_int_equal(kilnd_member_is(f->db, "acme", "alice", NULL), 1);
    assert_int_equal(kilnd_member_is(f->db, "acme", "bob", NULL), 0);
    expect_fail(kilnd_member_add(f->db, "acme", "alice", &err), &err, KILN_E_CONFLICT,
                "'alice' is already a member of 'acme'");
    expect_fail(kilnd_member_add(f->db, "alice", "bob", &err), &err, KILN_E_INVALID,
                "'alice' is a user, not an organisation");
    expect_fail(kilnd_member_add(f->db, "acme", "acme", &err), &err, KILN_E_INVALID,
                "'acme' is an organisation, not a user");
    expect_fail(kilnd_member_add(f->db, "acme", "carol", &err), &err, KILN_E_NOTFOUND, "'carol'");
}

static struct kilnd_builder spec(const char *account, const char *name)
{
    struct kilnd_builder b;
    kilnd_builder_init(&b);
    b.account = kiln_xstrdup(account);
    b.name = kiln_xstrdup(name);
    return b;
}

static void test_accounts__builders(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_account_create(f->db, "acme", KILND_ACCOUNT_ORG, &err), &err);
    struct kilnd_builder b = spec("acme", "main");
    expect_ok(kilnd_builder_create(f->db, &b, &err), &err);
    expect_fail(kilnd_builder_create(f->db, &b, &err), &err, KILN_E_CONFLICT,
                "builder 'acme/main' exists already");
    kilnd_builder_release(&b);

    b = spec("acme", "arm.only_1");
    b.timeout_s = 600;
    b.concurrency = 2;
    b.cache_max = 1000000;
    expect_ok(kilnd_builder_platforms_parse("linux/aarch64,linux/arm64/v8,linux/arm/v7",
                                            &b.platforms, &err),
              &err);
    expect_ok(kilnd_builder_create(f->db, &b, &err), &err);
    kilnd_builder_release(&b);

    struct kilnd_builder *got = NULL;
    expect_ok(kilnd_builder_get(f->db, "acme", "main", &got, &err), &err);
    assert_string_equal(got->account, "acme");
    assert_int_equal(got->timeout_s, 5400);
    assert_int_equal(got->concurrency, 4);
    assert_true(got->cache_max == 20000000000ULL);
    assert_int_equal(got->platforms.n, 2);
    assert_string_equal(got->platforms.v[0], "linux/amd64");
    assert_string_equal(got->platforms.v[1], "linux/arm64");
    assert_false(got->allow_network_host); /* no entitlement until an admin grants it */
    /* update: the grant and the other settings replaced, the builder otherwise the same */
    got->allow_network_host = true;
    got->concurrency = 2;
    expect_ok(kilnd_builder_update(f->db, got, &err), &err);
    kilnd_builder_free(got);
    expect_ok(kilnd_builder_get(f->db, "acme", "main", &got, &err), &err);
    assert_true(got->allow_network_host);
    assert_int_equal(got->concurrency, 2);
    assert_int_equal(got->timeout_s, 5400);
    got->concurrency = 0;
    expect_fail(kilnd_builder_update(f->db, got, &err), &err, KILN_E_INVALID,
                "invalid concurrency 0");
    free(got->name);
    got->name = kiln_xstrdup("nope");
    got->concurrency = 1;
    expect_fail(kilnd_builder_update(f->db, got, &err), &err, KILN_E_NOTFOUND,
                "no builder 'acme/nope'");
    kilnd_builder_free(got);

    expect_ok(kilnd_builder_get(f->db, "acme", "arm.only_1", &got, &err), &err);
    assert_int_equal(got->timeout_s, 600);
    assert_int_equal(got->platforms.n, 2); /* aarch64 and arm64/v8 are one platform */
    assert_string_equal(got->platforms.v[0], "linux/arm64");
    assert_string_equal(got->platforms.v[1], "linux/arm/v7");
    kilnd_builder_free(got);

    expect_fail(kilnd_builder_get(f->db, "acme", "nope", &got, &err), &err, KILN_E_NOTFOUND,
                "no builder 'acme/nope'");
    struct kilnd_builder *list = NULL;
    size_t n = 0;
    expect_ok(kilnd_builder_list(f->db, "acme", &list, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "arm.only_1");
    kilnd_builder_list_free(list, n);
    expect_ok(kilnd_builder_list(f->db, "other", &list, &n, &err), &err);
    assert_int_equal(n, 0);
    kilnd_builder_list_free(list, n);
}

static void test_accounts__builder_bad_input(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char *a = NULL, *n = NULL;
    expect_fail(kilnd_builder_ref_parse("acme", &a, &n, &err), &err, KILN_E_INVALID,
                "write it ACCOUNT/NAME");
    expect_fail(kilnd_builder_ref_parse("acme/.x", &a, &n, &err), &err, KILN_E_INVALID,
                "invalid builder name '.x'");
    expect_fail(kilnd_builder_ref_parse("acme/a/b", &a, &n, &err), &err, KILN_E_INVALID,
                "invalid builder name 'a/b'");
    expect_fail(kilnd_builder_ref_parse("ACME/x", &a, &n, &err), &err, KILN_E_INVALID,
                "invalid account 'ACME'");
    struct kiln_strv p = KILN_STRV_INIT;
    expect_fail(kilnd_builder_platforms_parse("linux", &p, &err), &err, KILN_E_INVALID,
                "invalid platform 'linux'");
    expect_fail(kilnd_builder_platforms_parse("linux/amd64,", &p, &err), &err, KILN_E_INVALID,
                "invalid platform ''");
    expect_fail(kilnd_builder_platforms_parse("linux/amd 64", &p, &err), &err, KILN_E_INVALID,
                "invalid platform 'linux/amd 64'");
    assert_int_equal(p.n, 0);

    struct kilnd_builder b = spec("ghost", "main");
    expect_fail(kilnd_builder_create(f->db, &b, &err), &err, KILN_E_NOTFOUND, "'ghost'");
    kilnd_builder_release(&b);
    expect_ok(kilnd_account_create(f->db, "acme", KILND_ACCOUNT_ORG, &err), &err);
    b = spec("acme", "main");
    b.timeout_s = 0;
    expect_fail(kilnd_builder_create(f->db, &b, &err), &err, KILN_E_INVALID, "invalid timeout");
    b.timeout_s = 60;
    b.concurrency = 0;
    expect_fail(kilnd_builder_create(f->db, &b, &err), &err, KILN_E_INVALID,
                "invalid concurrency 0");
    kilnd_builder_release(&b);
}

static void test_accounts__builder_remove(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_account_create(f->db, "acme", KILND_ACCOUNT_ORG, &err), &err);
    struct kilnd_builder b = spec("acme", "main");
    expect_ok(kilnd_builder_create(f->db, &b, &err), &err);
    kilnd_builder_release(&b);
    fixture_sql(f, "INSERT INTO builds (id, builder, state) VALUES ('b1', 'acme/main', 'running')");
    expect_fail(kilnd_builder_remove(f->db, "acme", "main", &err), &err, KILN_E_CONFLICT,
                "builder 'acme/main' has 1 builds in progress");
    fixture_sql(f, "UPDATE builds SET state = 'succeeded'");
    expect_ok(kilnd_builder_remove(f->db, "acme", "main", &err), &err);
    expect_fail(kilnd_builder_remove(f->db, "acme", "main", &err), &err, KILN_E_NOTFOUND,
                "no builder 'acme/main'");
}

#define THREADS 4
#define ROUNDS  200

static void *worker(void *arg)
{
    struct kilnd_db *db = arg;
    for (int i = 0; i < ROUNDS; i++) {
        enum kilnd_account_kind k;
        struct kiln_error *err = NULL;
        if (kilnd_account_kind(db, "acme", &k, &err) < 0 ||
            kilnd_member_is(db, "acme", "x", &err) != 0)
            return err;
    }
    return NULL;
}

static void test_accounts__threads_share_a_handle(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_account_create(f->db, "acme", KILND_ACCOUNT_ORG, &err), &err);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, f->db), 0);
    for (int i = 0; i < THREADS; i++) {
        void *ret = NULL;
        pthread_join(t[i], &ret);
        if (ret)
            fail_msg("thread %d: %s", i, kiln_error_message(ret, -1));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_accounts__schema, fixture_setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_accounts__reopen_and_newer_schema, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_accounts__names, fixture_setup, fixture_teardown),
            cmocka_unit_test_setup_teardown(test_accounts__one_namespace, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_accounts__members, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_accounts__builders, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_accounts__builder_bad_input, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_accounts__builder_remove, fixture_setup,
                                            fixture_teardown),
            cmocka_unit_test_setup_teardown(test_accounts__threads_share_a_handle, fixture_setup,
                                            fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
