/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-docker-config.c - credentials from Docker's config.json: "auths"
 * (base64 "auth", username/password, identitytoken, Docker Hub's URL key),
 * credHelpers and credsStore through small docker-credential-* scripts put
 * on PATH.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "registry/credentials.h"

static char *dir;

/* The helper answers for ghcr.io and Docker Hub, and knows nothing else. */
static const char helper_test[] =
        "#!/bin/sh\n"
        "[ \"$1\" = get ] || exit 2\n"
        "read -r server\n"
        "case \"$server\" in\n"
        "ghcr.io) echo '{\"ServerURL\":\"ghcr.io\",\"Username\":\"helper-user\","
        "\"Secret\":\"helper-secret\"}' ;;\n"
        "https://index.docker.io/v1/) echo '{\"Username\":\"<token>\",\"Secret\":\"hub-id\"}' ;;\n"
        "*) echo 'credentials not found in native keychain'; exit 1 ;;\n"
        "esac\n";
static const char helper_broken[] = "#!/bin/sh\necho 'secret-in-output'\nexit 3\n";

static void write_file(const char *name, const char *text, mode_t mode)
{
    char *path = kiln_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    free(path);
}

static int setup(void **state)
{
    dir = kiln_xstrdup("/tmp/kiln-docker-config-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    write_file("docker-credential-test", helper_test, 0755);
    write_file("docker-credential-broken", helper_broken, 0755);
    const char *path = getenv("PATH");
    char *p = kiln_xasprintf("%s:%s", dir, path ? path : "/usr/bin:/bin");
    setenv("PATH", p, 1);
    free(p);
    return 0;
}

static int teardown(void **state)
{
    static const char *const names[] = {"docker-credential-test", "docker-credential-broken",
                                        "config.json"};
    for (size_t i = 0; i < ELEMENTSOF(names); i++) {
        char *path = kiln_xasprintf("%s/%s", dir, names[i]);
        unlink(path);
        free(path);
    }
    rmdir(dir);
    free(dir);
    return 0;
}

static struct kiln_registry_cred *lookup(const char *config, const char *server, int want)
{
    struct kiln_registry_cred *c = NULL;
    struct kiln_error *err = NULL;
    write_file("config.json", config, 0600);
    int r = kiln_registry_docker_config_get(dir, server, &c, &err);
    if (r != want)
        fail_msg("'%s': got %d, expected %d: %s", server, r, want, kiln_error_message(err, r));
    kiln_error_free(err);
    return c;
}

static void test_docker_config__auths(void **state)
{
    /* "YWxpY2U6cGE6c3M=" is "alice:pa:ss": the password may hold ':'. */
    static const char config[] =
            "{\"auths\": {"
            "\"https://index.docker.io/v1/\": {\"auth\": \"aHViLXVzZXI6aHViLXB3\"},"
            "\"ghcr.io\": {\"auth\": \"YWxpY2U6cGE6c3M=\"},"
            "\"https://reg.lan:5000/v2/\": {\"username\": \"bob\", \"password\": \"pw\"},"
            "\"id.io\": {\"identitytoken\": \"refresh\"},"
            "\"empty.io\": {}}}";
    struct kiln_registry_cred *c = lookup(config, "docker.io", 1);
    assert_string_equal(c->username, "hub-user");
    assert_string_equal(c->secret, "hub-pw");
    kiln_registry_cred_free(c);
    c = lookup(config, "ghcr.io", 1);
    assert_string_equal(c->username, "alice");
    assert_string_equal(c->secret, "pa:ss");
    kiln_registry_cred_free(c);
    c = lookup(config, "reg.lan:5000", 1);
    assert_string_equal(c->username, "bob");
    assert_string_equal(c->secret, "pw");
    kiln_registry_cred_free(c);
    c = lookup(config, "id.io", 1);
    assert_string_equal(c->identity_token, "refresh");
    assert_null(c->secret);
    kiln_registry_cred_free(c);
    assert_null(lookup(config, "empty.io", 0));
    assert_null(lookup(config, "other.io", 0));
}

static void test_docker_config__bad_auth_hides_it(void **state)
{
    struct kiln_registry_cred *c = NULL;
    struct kiln_error *err = NULL;
    write_file("config.json", "{\"auths\": {\"x.io\": {\"auth\": \"!!secret-ish!!\"}}}", 0600);
    assert_int_equal(kiln_registry_docker_config_get(dir, "x.io", &c, &err), KILN_E_INVALID);
    assert_non_null(strstr(err->message, "'auth' is not valid base64"));
    assert_null(strstr(err->message, "secret-ish"));
    /* "bm9jb2xvbg==" is "nocolon". */
    write_file("config.json", "{\"auths\": {\"x.io\": {\"auth\": \"bm9jb2xvbg==\"}}}", 0600);
    assert_int_equal(kiln_registry_docker_config_get(dir, "x.io", &c, &err), KILN_E_INVALID);
    assert_non_null(strstr(err->message, "is not 'user:password'"));
    assert_null(strstr(err->message, "nocolon"));
    assert_null(c);
    kiln_error_free(err);
}

static void test_docker_config__helpers(void **state)
{
    static const char config[] = "{\"credHelpers\": {\"ghcr.io\": \"test\", \"bad.io\": "
                                 "\"broken\", \"evil.io\": \"../x\", \"none.io\": \"test\"},"
                                 "\"credsStore\": \"test\","
                                 "\"auths\": {\"none.io\": {\"auth\": \"dTpw\"}}}";
    struct kiln_error *err = NULL;
    struct kiln_registry_cred *c = lookup(config, "ghcr.io", 1);
    assert_string_equal(c->username, "helper-user");
    assert_string_equal(c->secret, "helper-secret");
    kiln_registry_cred_free(c);
    c = lookup(config, "docker.io", 1); /* through credsStore, as an identity token */
    assert_string_equal(c->identity_token, "hub-id");
    assert_null(c->username);
    kiln_registry_cred_free(c);
    c = lookup(config, "none.io", 1); /* the helper does not know it: the file does */
    assert_string_equal(c->username, "u");
    kiln_registry_cred_free(c);
    assert_null(lookup(config, "unknown.io", 0));

    c = NULL;
    assert_int_equal(kiln_registry_docker_config_get(dir, "bad.io", &c, &err), KILN_E_UPSTREAM);
    assert_non_null(
            strstr(err->message, "'docker-credential-broken get' failed with exit status 3"));
    assert_null(strstr(err->message, "secret-in-output"));
    assert_int_equal(kiln_registry_docker_config_get(dir, "evil.io", &c, &err), KILN_E_INVALID);
    assert_non_null(strstr(err->message, "invalid credential helper name"));
    assert_null(c);
    kiln_error_free(err);
}

static void test_docker_config__missing_helper_and_file(void **state)
{
    struct kiln_registry_cred *c = NULL;
    struct kiln_error *err = NULL;
    write_file("config.json", "{\"credsStore\": \"nonexistent-kiln\"}", 0600);
    assert_int_equal(kiln_registry_docker_config_get(dir, "x.io", &c, &err), -ENOENT);
    assert_non_null(strstr(err->message, "run 'docker-credential-nonexistent-kiln'"));
    char *empty = kiln_xasprintf("%s/nowhere", dir);
    assert_int_equal(kiln_registry_docker_config_get(empty, "x.io", &c, NULL), 0);
    assert_null(c);
    free(empty);
    kiln_error_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_docker_config__auths),
            cmocka_unit_test(test_docker_config__bad_auth_hides_it),
            cmocka_unit_test(test_docker_config__helpers),
            cmocka_unit_test(test_docker_config__missing_helper_and_file),
    };
    return cmocka_run_group_tests_name("registry/docker-config", tests, setup, teardown);
}
