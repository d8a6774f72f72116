/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-challenge.c - WWW-Authenticate parsing: the forms registries send
 * (distribution, Docker Hub, GHCR, Harbor), RFC 7235's list rules, and
 * malformed or oversized headers.
 */

#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "registry/challenge.h"

static void parse_ok(const char *h, struct kiln_registry_challenges *list)
{
    struct kiln_error *err = NULL;
    int r = kiln_registry_challenge_parse(h, strlen(h), list, &err);
    if (r < 0)
        fail_msg("'%s': %s", h, kiln_error_message(err, r));
}

static void parse_fails(const char *h, int code, const char *msg)
{
    struct kiln_registry_challenges list = KILN_REGISTRY_CHALLENGES_INIT;
    struct kiln_error *err = NULL;
    int r = kiln_registry_challenge_parse(h, strlen(h), &list, &err);
    if (r != code)
        fail_msg("'%s': got %d, expected %d", h, r, code);
    if (!strstr(err->message, msg))
        fail_msg("'%s': message '%s' lacks '%s'", h, err->message, msg);
    assert_int_equal(list.n, 0);
    kiln_error_free(err);
    kiln_registry_challenges_release(&list);
}

static void expect_param(const struct kiln_registry_challenge *c, const char *key, const char *want)
{
    const char *got = kiln_registry_challenge_param(c, key);
    if (!got || strcmp(got, want) != 0)
        fail_msg("%s: param '%s' is '%s', expected '%s'", c->scheme, key, got ? got : "(none)",
                 want);
}

static void test_challenge__bearer_as_distribution_sends_it(void **state)
{
    struct kiln_registry_challenges list = KILN_REGISTRY_CHALLENGES_INIT;
    parse_ok("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
             "scope=\"repository:library/alpine:pull,push\",error=\"insufficient_scope\"",
             &list);
    assert_int_equal(list.n, 1);
    assert_string_equal(list.v[0].scheme, "bearer");
    assert_int_equal(list.v[0].n_params, 4);
    expect_param(&list.v[0], "realm", "https://auth.docker.io/token");
    expect_param(&list.v[0], "service", "registry.docker.io");
    expect_param(&list.v[0], "scope", "repository:library/alpine:pull,push");
    expect_param(&list.v[0], "error", "insufficient_scope");
    assert_null(kiln_registry_challenge_param(&list.v[0], "missing"));
    kiln_registry_challenges_release(&list);
}

static void test_challenge__basic_and_case(void **state)
{
    struct kiln_registry_challenges list = KILN_REGISTRY_CHALLENGES_INIT;
    parse_ok("BASIC Realm=\"Registry Realm\"", &list);
    assert_int_equal(list.n, 1);
    assert_string_equal(list.v[0].scheme, "basic");
    expect_param(&list.v[0], "realm", "Registry Realm");
    assert_non_null(kiln_registry_challenges_find(&list, "basic"));
    assert_null(kiln_registry_challenges_find(&list, "bearer"));
    kiln_registry_challenges_release(&list);
}

static void test_challenge__quoted_escapes_and_tokens(void **state)
{
    struct kiln_registry_challenges list = KILN_REGISTRY_CHALLENGES_INIT;
    parse_ok("Bearer realm = \"a \\\"q\\\" \\\\ b,c\" , service=plain.token , x=\"\"", &list);
    assert_int_equal(list.n, 1);
    expect_param(&list.v[0], "realm", "a \"q\" \\ b,c");
    expect_param(&list.v[0], "service", "plain.token");
    expect_param(&list.v[0], "x", "");
    kiln_registry_challenges_release(&list);
}

static void test_challenge__several_challenges_and_headers(void **state)
{
    struct kiln_registry_challenges list = KILN_REGISTRY_CHALLENGES_INIT;
    parse_ok("Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", Basic "
             "realm=\"simple\"",
             &list);
    parse_ok(", Negotiate abc+/==, ,NTLM", &list);
    parse_ok("Bearer realm=\"r\"", &list);
    assert_int_equal(list.n, 5);
    assert_string_equal(list.v[0].scheme, "newauth");
    expect_param(&list.v[0], "title", "Login to \"apps\"");
    expect_param(&list.v[0], "type", "1");
    assert_string_equal(list.v[1].scheme, "basic");
    expect_param(&list.v[1], "realm", "simple");
    assert_string_equal(list.v[2].scheme, "negotiate");
    assert_string_equal(list.v[2].token68, "abc+/==");
    assert_string_equal(list.v[3].scheme, "ntlm");
    assert_int_equal(list.v[3].n_params, 0);
    assert_null(list.v[3].token68);
    expect_param(kiln_registry_challenges_find(&list, "bearer"), "realm", "r");
    kiln_registry_challenges_release(&list);
}

static void test_challenge__malformed(void **state)
{
    parse_fails("Bearer realm=\"unterminated", KILN_E_INVALID, "unterminated quoted string");
    parse_fails("Bearer realm=\"a\\", KILN_E_INVALID, "unterminated quoted string");
    parse_fails("Bearer realm=\"a\nb\"", KILN_E_INVALID, "control character");
    parse_fails("Bearer realm=a realm=b", KILN_E_INVALID, "expected ',' after a parameter");
    parse_fails("Bearer realm=a,realm=b", KILN_E_INVALID, "duplicate parameter");
    parse_fails("Bearer realm=\"a\",Realm=\"b\"", KILN_E_INVALID, "duplicate parameter");
    parse_fails("=x", KILN_E_INVALID, "expected an authentication scheme at offset 0");
    parse_fails("Bearer@ realm=x", KILN_E_INVALID, "expected a space after the scheme");
    parse_fails("Bearer \"x\"", KILN_E_INVALID, "expected a parameter");
}

static void test_challenge__limits(void **state)
{
    size_t n = KILN_REGISTRY_CHALLENGE_MAX + 1;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    parse_fails(big, KILN_E_LIMIT, "header longer than");
    free(big);

    char many[4096] = "Bearer ";
    for (unsigned i = 0; i <= KILN_REGISTRY_CHALLENGE_PARAMS_MAX; i++) {
        size_t len = strlen(many);
        snprintf(many + len, sizeof(many) - len, "%sp%u=v", i ? "," : "", i);
    }
    parse_fails(many, KILN_E_LIMIT, "parameters");

    many[0] = '\0';
    for (unsigned i = 0; i <= KILN_REGISTRY_CHALLENGES_MAX; i++) {
        size_t len = strlen(many);
        snprintf(many + len, sizeof(many) - len, "%sS%u", i ? ", " : "", i);
    }
    parse_fails(many, KILN_E_LIMIT, "challenges");
}

static void test_challenge__failure_keeps_earlier_headers(void **state)
{
    struct kiln_registry_challenges list = KILN_REGISTRY_CHALLENGES_INIT;
    struct kiln_error *err = NULL;
    parse_ok("Basic realm=x", &list);
    const char *bad = "Bearer realm=ok, Other \"bad\"";
    assert_int_equal(kiln_registry_challenge_parse(bad, strlen(bad), &list, &err), KILN_E_INVALID);
    assert_int_equal(list.n, 1);
    assert_string_equal(list.v[0].scheme, "basic");
    kiln_error_free(err);
    kiln_registry_challenges_release(&list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_challenge__bearer_as_distribution_sends_it),
            cmocka_unit_test(test_challenge__basic_and_case),
            cmocka_unit_test(test_challenge__quoted_escapes_and_tokens),
            cmocka_unit_test(test_challenge__several_challenges_and_headers),
            cmocka_unit_test(test_challenge__malformed),
            cmocka_unit_test(test_challenge__limits),
            cmocka_unit_test(test_challenge__failure_keeps_earlier_headers),
    };
    return cmocka_run_group_tests_name("registry/challenge", tests, NULL, NULL);
}
