/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-client.c - what the client decides without a network: HTTP or
 * HTTPS for a registry, the names allowed into URLs, origins, and the
 * messages made of a registry's error answers.
 */

#include <stdlib.h>
#include <string.h>

#include "registry/internal.h"

static struct kiln_registry_client *new_client(const char *domain, const char *const *insecure)
{
    struct kiln_registry_options opts = {.insecure = insecure};
    struct kiln_registry_client *c = NULL;
    struct kiln_error *err = NULL;
    int r = kiln_registry_client_new(domain, &opts, &c, &err);
    if (r < 0)
        fail_msg("client for '%s': %s", domain, kiln_error_message(err, r));
    return c;
}

static void expect_base(const char *domain, const char *const *insecure, const char *base)
{
    struct kiln_registry_client *c = new_client(domain, insecure);
    if (strcmp(c->base, base) != 0)
        fail_msg("'%s' is spoken to at '%s', expected '%s'", domain, c->base, base);
    kiln_registry_client_free(c);
}

static void test_client__http_only_for_loopback_and_insecure(void **state)
{
    static const char *const insecure[] = {"reg.lan:5000", NULL};
    expect_base("127.0.0.1:5000", NULL, "http://127.0.0.1:5000");
    expect_base("127.1.2.3", NULL, "http://127.1.2.3");
    expect_base("localhost:5000", NULL, "http://localhost:5000");
    expect_base("[::1]:5000", NULL, "http://[::1]:5000");
    expect_base("ghcr.io", NULL, "https://ghcr.io");
    expect_base("128.0.0.1:5000", NULL, "https://128.0.0.1:5000");
    expect_base("reg.lan:5000", NULL, "https://reg.lan:5000");
    expect_base("reg.lan:5000", insecure, "http://reg.lan:5000");
    expect_base("docker.io", NULL, "https://registry-1.docker.io");
}

static void test_client__refuses_bad_options(void **state)
{
    struct kiln_registry_client *c = NULL;
    struct kiln_error *err = NULL;
    struct kiln_registry_options big = {.chunk_size = KILN_REGISTRY_CHUNK_MAX + 1};
    assert_int_equal(kiln_registry_client_new("a/b", NULL, &c, &err), KILN_E_INVALID);
    assert_non_null(strstr(err->message, "invalid registry domain 'a/b'"));
    assert_int_equal(kiln_registry_client_new("", NULL, &c, &err), KILN_E_INVALID);
    assert_int_equal(kiln_registry_client_new("x.io", &big, &c, &err), KILN_E_INVALID);
    assert_non_null(strstr(err->message, "chunk size"));
    assert_null(c);
    kiln_error_free(err);
}

static void test_client__names_allowed_in_urls(void **state)
{
    static const char *const good_repos[] = {"app", "library/alpine", "a/b/c", "a.b_c__d--e",
                                             "0x/y-z"};
    static const char *const bad_repos[] = {"",    "App", "a//b", "/a",  "a/", "a/../b", "a?",
                                            "a b", "a_",  "a.-b", "a#b", "..", "a___b"};
    for (size_t i = 0; i < ELEMENTSOF(good_repos); i++)
        if (kiln_registry_check_repo(good_repos[i], NULL) < 0)
            fail_msg("repository '%s' refused", good_repos[i]);
    for (size_t i = 0; i < ELEMENTSOF(bad_repos); i++)
        if (kiln_registry_check_repo(bad_repos[i], NULL) != KILN_E_INVALID)
            fail_msg("repository '%s' accepted", bad_repos[i]);
    assert_int_equal(kiln_registry_check_reference("v1.2_3-x", NULL), 0);
    assert_int_equal(kiln_registry_check_reference("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e"
                                                   "5c1fa7425e73043362938b9824",
                                                   NULL),
                     1);
    assert_int_equal(kiln_registry_check_reference("sha256:../../x", NULL), KILN_E_INVALID);
    assert_int_equal(kiln_registry_check_reference("sha256+b64:abc", NULL), KILN_E_INVALID);
    assert_int_equal(kiln_registry_check_reference(".hidden", NULL), KILN_E_INVALID);
    assert_int_equal(kiln_registry_check_reference("a/b", NULL), KILN_E_INVALID);
    assert_int_equal(kiln_registry_check_reference("", NULL), KILN_E_INVALID);
    assert_int_equal(kiln_registry_check_digest("latest", NULL), KILN_E_INVALID);
}

static void test_client__origins(void **state)
{
    char *o = kiln_registry_url_origin("https://Reg.io/v2/x?y=1");
    assert_string_equal(o, "https://reg.io:443");
    free(o);
    o = kiln_registry_url_origin("http://127.0.0.1:5000/token");
    assert_string_equal(o, "http://127.0.0.1:5000");
    free(o);
    assert_null(kiln_registry_url_origin("file:///etc/passwd"));
    assert_null(kiln_registry_url_origin("ftp://x.io/"));
    assert_null(kiln_registry_url_origin("/relative"));
}

static void test_client__private_hosts(void **state)
{
    static const char *const private[] = {
            "localhost",  "127.0.0.1",      "127.9.9.9",   "10.1.2.3",
            "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
            "0.0.0.0",    "[::1]",          "[fe80::1]",   "[fd00::5]",
            "[::]",       "[zzz]"};
    static const char *const public[] = {"ghcr.io",          "8.8.8.8",       "172.32.0.1",
                                         "192.169.0.1",      "[2001:db8::1]", "11.0.0.1",
                                         "localhost.example"};
    for (size_t i = 0; i < ELEMENTSOF(private); i++)
        if (!kiln_registry_host_private(private[i]))
            fail_msg("'%s' taken for a public host", private[i]);
    for (size_t i = 0; i < ELEMENTSOF(public); i++)
        if (kiln_registry_host_private(public[i]))
            fail_msg("'%s' taken for a local address", public[i]);
}

static void expect_message(long status, const char *body, int code, const char *want)
{
    struct kiln_registry_request rq = {.method = "GET",
                                       .url = "http://r.io/v2/app/manifests/1?secret=no"};
    struct kiln_registry_response rs = KILN_REGISTRY_RESPONSE_INIT;
    struct kiln_error *err = NULL;
    rs.status = status;
    assert_int_equal(kiln_buf_adds(&rs.error_body, body), 0);
    int r = kiln_registry_http_status_error(&rq, &rs, NULL, &err);
    if (r != code || strcmp(err->message, want) != 0)
        fail_msg("status %ld: got %d '%s', expected %d '%s'", status, r, err->message, code, want);
    kiln_error_free(err);
    kiln_registry_response_release(&rs);
}

static void test_client__error_messages(void **state)
{
    expect_message(401,
                   "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication "
                   "required\",\"detail\":[{\"Type\":\"repository\"}]}]}",
                   KILN_E_AUTH,
                   "GET /v2/app/manifests/1: 401 unauthorized: authentication required");
    expect_message(404,
                   "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"},"
                   "{\"code\":\"NAME_UNKNOWN\"}]}",
                   KILN_E_NOTFOUND,
                   "GET /v2/app/manifests/1: 404 manifest unknown: manifest unknown; name unknown");
    expect_message(403, "", KILN_E_DENIED, "GET /v2/app/manifests/1: 403 forbidden");
    expect_message(500, "<html>oops</html>", KILN_E_UPSTREAM,
                   "GET /v2/app/manifests/1: 500 internal server error");
    expect_message(429, "{}", KILN_E_LIMIT, "GET /v2/app/manifests/1: 429 too many requests");
    expect_message(400, "{\"errors\":[{\"code\":\"X\",\"message\":\"a\\nb\\u001b[31m\"}]}",
                   KILN_E_INVALID, "GET /v2/app/manifests/1: 400 x: a b [31m");
    expect_message(418, "{\"errors\":\"no\"}", KILN_E_UPSTREAM,
                   "GET /v2/app/manifests/1: 418 unexpected status");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_client__http_only_for_loopback_and_insecure),
            cmocka_unit_test(test_client__refuses_bad_options),
            cmocka_unit_test(test_client__names_allowed_in_urls),
            cmocka_unit_test(test_client__origins),
            cmocka_unit_test(test_client__private_hosts),
            cmocka_unit_test(test_client__error_messages),
    };
    return cmocka_run_group_tests_name("registry/client", tests, NULL, NULL);
}
