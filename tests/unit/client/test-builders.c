/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-builders.c - the builders file (src/client/builders.h) and the kilnd
 * HTTP client (src/client/cloud-http.h). The client talks to
 * tests/cli/fake-kilnd.py, a real HTTP server on loopback with kilnd's
 * canned answers, started once for the group.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "client/builders.h"
#include "client/cloud-http.h"
#include "oci/digest.h"
#include "registry/credentials.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/banned.h"

#define TOKEN "kiln_pat_0123456789ab_secretsecretsecretsecretsecretsecret1234567"

extern char **environ;

static char tmpdir[] = "/tmp/kiln-test-builders-XXXXXX";
static pid_t server_pid;
static char endpoint[64];

static char *path_in(const char *name)
{
    return kiln_xasprintf("%s/%s", tmpdir, name);
}

/* tests/cli/fake-kilnd.py, found from this file's path (relative to the build root). */
static char *fake_script(void)
{
    _cleanup_free_ char *me =
            __FILE__[0] == '/'
                    ? kiln_xstrdup(__FILE__)
                    : kiln_xasprintf("%s/%s", getenv("KILN_BUILD_ROOT") ?: ".", __FILE__);
    return kiln_xasprintf("%s/../../cli/fake-kilnd.py", dirname(me));
}

static int start_server(void)
{
    _cleanup_free_ char *script = fake_script(), *portfile = path_in("port");
    char *argv[] = {"python3", script, portfile, TOKEN, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO); /* stdout is TAP */
    int r = posix_spawnp(&server_pid, "python3", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0)
        return -1;
    for (int i = 0; i < 200; i++) {
        struct kiln_buf b = KILN_BUF_INIT(32);
        if (kiln_buf_read_file(&b, portfile) >= 0 && b.len)
            snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%s", b.buf);
        kiln_buf_release(&b);
        if (endpoint[0])
            return 0;
        usleep(50 * 1000);
    }
    return -1;
}

static int group_setup(void **state)
{
    if (!mkdtemp(tmpdir))
        return -1;
    setenv("XDG_CONFIG_HOME", tmpdir, 1);
    unsetenv("KILN_BUILDER");
    unsetenv("BUILDX_BUILDER");
    unsetenv("KILN_INSECURE_REGISTRIES");
    unsetenv("KILN_CA_CERT");
    if (start_server() < 0)
        return -1;
    struct kiln_registry_cred cred = {.username = "alice", .secret = TOKEN};
    _cleanup_free_ char *host = kiln_registry_cred_key(endpoint);
    return kiln_registry_credentials_set(NULL, host, &cred, NULL) < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    pid_t pid;
    char *argv[] = {"rm", "-rf", tmpdir, NULL};
    if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0)
        waitpid(pid, NULL, 0);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static struct kiln_builder_entry cloud(const char *name, const char *ref)
{
    return (struct kiln_builder_entry){.name = (char *)name,
                                       .driver = "cloud",
                                       .endpoint = "http://127.0.0.1:8080",
                                       .builder = (char *)ref};
}

/* --- the builders file --- */

static void test_builders__missing_file_has_default(void **state)
{
    _cleanup_free_ char *p = path_in("none/builders.json");
    struct kiln_builders *bs = NULL;
    assert_int_equal(kiln_builders_load(p, &bs, NULL), 0);
    struct kiln_strv names = KILN_STRV_INIT;
    kiln_builders_names(bs, &names);
    assert_int_equal(names.n, 1);
    assert_string_equal(names.v[0], "default");
    assert_string_equal(kiln_builders_current(bs), "default");
    struct kiln_builder_entry *b = NULL;
    assert_int_equal(kiln_builders_get(bs, "default", &b, NULL), 0);
    assert_string_equal(b->driver, "local");
    assert_null(b->endpoint);
    kiln_builder_entry_free(b);
    kiln_strv_release(&names);
    kiln_builders_free(bs);
}

static void test_builders__add_use_save_reload(void **state)
{
    _cleanup_free_ char *p = path_in("a/b/builders.json");
    struct kiln_builders *bs = NULL;
    assert_int_equal(kiln_builders_load(p, &bs, NULL), 0);
    struct kiln_builder_entry e = cloud("cloud-acme-app", "acme/app");
    assert_int_equal(kiln_builders_add(bs, &e, NULL), 0);
    assert_int_equal(kiln_builders_use(bs, "cloud-acme-app", NULL), 0);
    assert_int_equal(kiln_builders_save(bs, NULL), 0);
    kiln_builders_free(bs);

    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    bs = NULL;
    assert_int_equal(kiln_builders_load(p, &bs, NULL), 0);
    assert_string_equal(kiln_builders_current(bs), "cloud-acme-app");
    struct kiln_builder_entry *b = NULL;
    assert_int_equal(kiln_builders_get(bs, "cloud-acme-app", &b, NULL), 0);
    assert_string_equal(b->driver, "cloud");
    assert_string_equal(b->endpoint, "http://127.0.0.1:8080");
    assert_string_equal(b->builder, "acme/app");
    kiln_builder_entry_free(b);
    kiln_builders_free(bs);
}

static void test_builders__conflicts_and_default(void **state)
{
    _cleanup_free_ char *p = path_in("c.json");
    struct kiln_builders *bs = NULL;
    struct kiln_error *e = NULL;
    assert_int_equal(kiln_builders_load(p, &bs, NULL), 0);
    struct kiln_builder_entry a = cloud("x", "acme/app"), d = cloud("default", "acme/app");
    assert_int_equal(kiln_builders_add(bs, &a, NULL), 0);
    assert_int_equal(kiln_builders_add(bs, &a, &e), KILN_E_CONFLICT);
    assert_non_null(strstr(e->message, "kiln rm x first"));
    assert_int_equal(kiln_builders_add(bs, &d, NULL), KILN_E_CONFLICT);
    assert_int_equal(kiln_builders_remove(bs, "default", &e), KILN_E_INVALID);
    assert_non_null(strstr(e->message, "cannot be removed"));
    assert_int_equal(kiln_builders_remove(bs, "nope", &e), KILN_E_NOTFOUND);
    assert_string_equal(e->message, "no builder named nope: kiln ls lists them");
    assert_int_equal(kiln_builders_use(bs, "x", NULL), 0);
    assert_int_equal(kiln_builders_remove(bs, "x", NULL), 0);
    assert_string_equal(kiln_builders_current(bs), "default");
    struct kiln_builder_entry bad = cloud("y", "acme");
    assert_int_equal(kiln_builders_add(bs, &bad, NULL), KILN_E_INVALID);
    bad = cloud("y", "acme/app");
    bad.endpoint = "ftp://x";
    assert_int_equal(kiln_builders_add(bs, &bad, NULL), KILN_E_INVALID);
    kiln_error_free(e);
    kiln_builders_free(bs);
}

static void test_builders__malformed_files(void **state)
{
    static const struct {
        const char *text, *says;
    } cases[] = {
            {"{", "is not valid JSON"},
            {"[]", "not a JSON object"},
            {"{\"current\": 1}", "\"current\" is not a string"},
            {"{\"builders\": []}", "\"builders\" is not an object"},
            {"{\"builders\": {\"b\": {\"driver\": \"local\", \"endpoint\": \"http://h\", "
             "\"builder\": \"a/b\"}}}",
             "in builder b"},
            {"{\"builders\": {\"b\": {\"driver\": \"cloud\", \"endpoint\": \"http://h\", "
             "\"builder\": \"a/../b\"}}}",
             "in builder b"},
            {"{\"builders\": {\"9b\": {}}}", "invalid builder name 9b"},
            {"{\"servers\": {\"h\": {\"endpoint\": 3}}}", "in server h"},
            {"{\"current\": \"a\", \"current\": \"b\"}", "is not valid JSON"},
    };
    _cleanup_free_ char *p = path_in("bad.json");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_file(p, cases[i].text);
        struct kiln_builders *bs = NULL;
        struct kiln_error *e = NULL;
        int r = kiln_builders_load(p, &bs, &e);
        if (r != KILN_E_INVALID || !strstr(e->message, cases[i].says) || !strstr(e->message, p))
            fail_msg("%s: got %d '%s', want /%s/", cases[i].text, r, e ? e->message : "",
                     cases[i].says);
        kiln_error_free(e);
    }
}

static void test_builders__names(void **state)
{
    assert_int_equal(kiln_builder_name_check("cloud-acme.app_1", NULL), 0);
    const char *bad_names[] = {"", "1x", "-x", "a/b", "a b", "ü"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(*bad_names); i++)
        if (kiln_builder_name_check(bad_names[i], NULL) != KILN_E_INVALID)
            fail_msg("name '%s' was taken", bad_names[i]);
    char longname[KILN_BUILDER_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(kiln_builder_name_check(longname, NULL), KILN_E_INVALID);

    assert_int_equal(kiln_builder_ref_check("acme/app", NULL), 0);
    const char *bad_refs[] = {"acme",    "/app",     "acme/",     "acme/app/x", "../app",
                              "acme/..", "acme/a?b", "acme/a%2f", "acme/a#b"};
    for (size_t i = 0; i < sizeof(bad_refs) / sizeof(*bad_refs); i++)
        if (kiln_builder_ref_check(bad_refs[i], NULL) != KILN_E_INVALID)
            fail_msg("ref '%s' was taken", bad_refs[i]);
    _cleanup_free_ char *n = kiln_builder_default_name("Acme/App");
    assert_string_equal(n, "cloud-acme-app");
}

static void test_builders__servers(void **state)
{
    _cleanup_free_ char *p = path_in("s.json");
    struct kiln_builders *bs = NULL;
    struct kiln_error *e = NULL;
    char *ep = NULL;
    assert_int_equal(kiln_builders_load(p, &bs, NULL), 0);
    assert_int_equal(kiln_builders_server(bs, &ep, &e), KILN_E_NOTFOUND);
    assert_non_null(strstr(e->message, "kiln login SERVER first"));
    assert_int_equal(kiln_builders_add_server(bs, "http://127.0.0.1:8080", 100, NULL), 0);
    assert_int_equal(kiln_builders_server(bs, &ep, NULL), 0);
    assert_string_equal(ep, "http://127.0.0.1:8080");
    free(ep);
    assert_int_equal(kiln_builders_add_server(bs, "https://b.example", 300, NULL), 0);
    assert_int_equal(kiln_builders_add_server(bs, "https://c.example", 200, NULL), 0);
    assert_int_equal(kiln_builders_server(bs, &ep, NULL), 0);
    assert_string_equal(ep, "https://b.example");
    free(ep);
    assert_int_equal(kiln_builders_add_server(bs, "http://127.0.0.1:8080", 400, NULL), 0);
    assert_int_equal(kiln_builders_server(bs, &ep, NULL), 0);
    assert_string_equal(ep, "http://127.0.0.1:8080");
    free(ep);
    assert_int_equal(kiln_builders_add_server(bs, "b.example", 1, NULL), KILN_E_INVALID);
    kiln_error_free(e);
    kiln_builders_free(bs);
}

/* kiln_builder_select's order: flag, $KILN_BUILDER, $BUILDX_BUILDER, current, default. */
static void test_builders__select(void **state)
{
    _cleanup_free_ char *p = NULL;
    assert_int_equal(kiln_builders_path(&p, NULL), 0);
    _cleanup_free_ char *want = path_in("kiln/builders.json");
    assert_string_equal(p, want);
    unlink(p);
    struct kiln_builder_entry *b = NULL;
    struct kiln_error *e = NULL;
    assert_int_equal(kiln_builder_select(NULL, &b, NULL), 0);
    assert_string_equal(b->name, "default");
    kiln_builder_entry_free(b);

    struct kiln_builders *bs = NULL;
    assert_int_equal(kiln_builders_load(NULL, &bs, NULL), 0);
    const char *names[] = {"cur", "kb", "bb", "fl"};
    for (size_t i = 0; i < 4; i++) {
        struct kiln_builder_entry x = cloud(names[i], "acme/app");
        assert_int_equal(kiln_builders_add(bs, &x, NULL), 0);
    }
    assert_int_equal(kiln_builders_use(bs, "cur", NULL), 0);
    assert_int_equal(kiln_builders_save(bs, NULL), 0);
    kiln_builders_free(bs);

    const char *expect[] = {"cur", "bb", "kb", "fl"};
    for (size_t step = 0; step < 4; step++) {
        if (step == 1)
            setenv("BUILDX_BUILDER", "bb", 1);
        if (step == 2)
            setenv("KILN_BUILDER", "kb", 1);
        assert_int_equal(kiln_builder_select(step == 3 ? "fl" : NULL, &b, NULL), 0);
        if (strcmp(b->name, expect[step]) != 0)
            fail_msg("step %zu: selected %s, want %s", step, b->name, expect[step]);
        kiln_builder_entry_free(b);
    }
    assert_int_equal(kiln_builder_select("nope", &b, &e), KILN_E_NOTFOUND);
    assert_string_equal(e->message, "no builder named nope: kiln ls lists them");
    unsetenv("KILN_BUILDER");
    unsetenv("BUILDX_BUILDER");
    kiln_error_free(e);
    unlink(p);
}

static void test_builders__endpoint_for(void **state)
{
    static const struct {
        const char *server, *env, *endpoint;
    } cases[] = {
            {"http://kiln.example:8080/", NULL, "http://kiln.example:8080"},
            {"https://10.0.0.1", NULL, "https://10.0.0.1"},
            {"kiln.example", NULL, "https://kiln.example"},
            {"kiln.example:8443", NULL, "https://kiln.example:8443"},
            {"localhost:8080", NULL, "http://localhost:8080"},
            {"127.0.0.1:8080", NULL, "http://127.0.0.1:8080"},
            {"127.1.2.3", NULL, "http://127.1.2.3"},
            {"127.evil.example", NULL, "https://127.evil.example"},
            {"[::1]:8080", NULL, "http://[::1]:8080"},
            {"10.0.0.5:8080", "a.example, 10.0.0.5:8080", "http://10.0.0.5:8080"},
            {"10.0.0.5:8080", "10.0.0.5", "http://10.0.0.5:8080"},
            {"10.0.0.5:8080", "10.0.0.5:9090", "https://10.0.0.5:8080"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        if (cases[i].env)
            setenv("KILN_INSECURE_REGISTRIES", cases[i].env, 1);
        else
            unsetenv("KILN_INSECURE_REGISTRIES");
        _cleanup_free_ char *ep = kiln_cloud_endpoint_for(cases[i].server);
        if (strcmp(ep, cases[i].endpoint) != 0)
            fail_msg("%s (%s): %s, want %s", cases[i].server, cases[i].env ?: "", ep,
                     cases[i].endpoint);
    }
    unsetenv("KILN_INSECURE_REGISTRIES");
}

/* --- the HTTP client, against fake-kilnd.py --- */

static struct kiln_cloud *open_ok(void)
{
    struct kiln_cloud *c = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_cloud_open(endpoint, &c, &e);
    if (r < 0)
        fail_msg("kiln_cloud_open %s: %s", endpoint, kiln_error_message(e, r));
    return c;
}

static void test_builders__cloud_json(void **state)
{
    struct kiln_cloud *c = open_ok();
    json_t *j = NULL;
    assert_int_equal(kiln_cloud_json(c, "GET", "/v1/whoami", NULL, &j, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(j, "principal")), "alice");
    assert_int_equal(kiln_cloud_last_status(c, NULL), 200);
    json_decref(j);

    json_t *body = json_pack("{s:s, s:[i,i]}", "reason", "x", "n", 1, 2);
    assert_int_equal(kiln_cloud_json(c, "POST", "/v1/echo", body, &j, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(j, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "application/json");
    assert_true(json_equal(json_object_get(j, "body"), body));
    assert_int_equal(body->refcount, 1); /* borrowed */
    json_decref(j);
    json_decref(body);
    assert_int_equal(kiln_cloud_json(c, "POST", "/v1/echo", NULL, &j, NULL), 0);
    assert_true(json_is_null(json_object_get(j, "body")));
    json_decref(j);
    kiln_cloud_free(c);
}

static void test_builders__cloud_errors(void **state)
{
    static const struct {
        const char *path;
        int code;
        const char *message;
    } cases[] = {
            {"/v1/builders/other/app", KILN_E_DENIED,
             "the token lacks scope 'cloud-connect' for account 'other'"},
            {"/v1/builders/acme/nope", KILN_E_NOTFOUND, "no route /v1/builders/acme/nope"},
            {"/v1/status/409", KILN_E_INVALID, "the build has ended"},
            {"/v1/status/ctl", KILN_E_INVALID, "bad?[31m input?"},
            {"/v1/status/503", KILN_E_UPSTREAM, "kilnd is draining: try again later"},
            {"/v1/status/plain", KILN_E_UPSTREAM,
             "kilnd answered GET /v1/status/plain with "
             "HTTP 500"},
            {"/v1/notjson", KILN_E_UPSTREAM,
             "kilnd answered GET /v1/notjson with something "
             "not JSON"},
            {"/v1/big", KILN_E_LIMIT, "kilnd's answer is larger than 67108864 bytes"},
            {"v1/whoami", KILN_E_INVALID, "kilnd path 'v1/whoami' does not start with '/'"},
    };
    struct kiln_cloud *c = open_ok();
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        json_t *j = NULL;
        struct kiln_error *e = NULL;
        int r = kiln_cloud_json(c, "GET", cases[i].path, NULL, &j, &e);
        if (r != cases[i].code || !e || strcmp(e->message, cases[i].message) != 0)
            fail_msg("%s: %d '%s', want %d '%s'", cases[i].path, r, e ? e->message : "",
                     cases[i].code, cases[i].message);
        assert_null(j);
        kiln_error_free(e);
    }
    kiln_cloud_free(c);
}

static void test_builders__cloud_token_refused(void **state)
{
    struct kiln_cloud *c = NULL;
    struct kiln_error *e = NULL;
    json_t *j = NULL;
    assert_int_equal(kiln_cloud_open_token(endpoint, "kiln_pat_wrong", &c, NULL), 0);
    assert_int_equal(kiln_cloud_json(c, "GET", "/v1/whoami", NULL, &j, &e), KILN_E_DENIED);
    const char *host = endpoint + strlen("http://");
    _cleanup_free_ char *want = kiln_xasprintf(
            "the token for %s was refused (wrong, expired or revoked): kiln login %s again", host,
            host);
    assert_string_equal(e->message, want);
    bool kilnd = false;
    assert_int_equal(kiln_cloud_last_status(c, &kilnd), 401);
    assert_true(kilnd);
    kiln_error_free(e);
    e = NULL;
    kiln_cloud_free(c);

    /* not logged in: nothing stored for that host */
    assert_int_equal(kiln_cloud_open("http://127.0.0.1:1", &c, &e), KILN_E_DENIED);
    assert_string_equal(e->message, "not logged in to 127.0.0.1:1: kiln login 127.0.0.1:1");
    kiln_error_free(e);
    e = NULL;
    assert_int_equal(kiln_cloud_open_token("ftp://x", "t", &c, &e), KILN_E_INVALID);
    kiln_error_free(e);
}

static void test_builders__cloud_unreachable(void **state)
{
    struct kiln_cloud *c = NULL;
    struct kiln_error *e = NULL;
    json_t *j = NULL;
    /* port 9 (discard): nothing listens on it here */
    assert_int_equal(kiln_cloud_open_token("http://127.0.0.1:9", TOKEN, &c, NULL), 0);
    assert_int_equal(kiln_cloud_json(c, "GET", "/v1/whoami", NULL, &j, &e), KILN_E_UPSTREAM);
    assert_non_null(strstr(e->message, "cannot reach kilnd at http://127.0.0.1:9/v1/whoami: "));
    assert_null(strstr(e->message, TOKEN));
    assert_int_equal(kiln_cloud_last_status(c, NULL), 0);
    kiln_error_free(e);
    kiln_cloud_free(c);

    /* https to a plain HTTP server: TLS fails */
    e = NULL;
    _cleanup_free_ char *tls = kiln_xasprintf("https://%s", endpoint + strlen("http://"));
    assert_int_equal(kiln_cloud_open_token(tls, TOKEN, &c, NULL), 0);
    assert_int_equal(kiln_cloud_json(c, "GET", "/v1/whoami", NULL, &j, &e), KILN_E_UPSTREAM);
    assert_non_null(strstr(e->message, "cannot reach kilnd at https://"));
    kiln_error_free(e);
    kiln_cloud_free(c);

    /* a time limit */
    e = NULL;
    c = open_ok();
    kiln_cloud_set_timeout(c, 1);
    time_t t0 = time(NULL);
    assert_int_equal(kiln_cloud_json(c, "GET", "/v1/builders/acme/slow", NULL, &j, &e),
                     KILN_E_UPSTREAM);
    assert_true(time(NULL) - t0 < 4);
    assert_non_null(strstr(e->message, "cannot reach kilnd at"));
    kiln_error_free(e);
    kiln_cloud_free(c);
}

struct source {
    size_t left, chunk;
    uint32_t seed;
    bool fail;
};

static ssize_t produce(void *ud, void *buf, size_t n, struct kiln_error **err)
{
    struct source *s = ud;
    if (s->fail && s->left < 100000)
        return kiln_error_set(err, KILN_E_LIMIT, "the context grew past its cap");
    size_t k = n < s->chunk ? n : s->chunk;
    k = k < s->left ? k : s->left;
    for (size_t i = 0; i < k; i++) {
        s->seed = s->seed * 1103515245u + 12345u;
        ((unsigned char *)buf)[i] = (unsigned char)(s->seed >> 16);
    }
    s->left -= k;
    return (ssize_t)k;
}

static void test_builders__cloud_upload(void **state)
{
    /* the digest of what the source produces */
    struct source s = {.left = 300000, .chunk = 7000, .seed = 1};
    struct kiln_buf all = KILN_BUF_INIT(SIZE_MAX);
    char buf[7000], want[KILN_OCI_DIGEST_MAX];
    ssize_t n;
    while ((n = produce(&s, buf, sizeof(buf), NULL)) > 0)
        assert_int_equal(kiln_buf_add(&all, buf, (size_t)n), 0);
    assert_int_equal(kiln_oci_digest_bytes(KILN_OCI_SHA256, all.buf, all.len, want, NULL), 0);
    kiln_buf_release(&all);

    struct kiln_cloud *c = open_ok();
    json_t *j = NULL;
    s = (struct source){.left = 300000, .chunk = 7000, .seed = 1};
    assert_int_equal(kiln_cloud_upload(c, "/v1/builds/b1/context", "gzip", produce, &s, &j, NULL),
                     0);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes")), 300000);
    assert_true(json_is_true(json_object_get(j, "chunked")));
    assert_string_equal(json_string_value(json_object_get(j, "sha256")), want + strlen("sha256:"));
    assert_string_equal(json_string_value(json_object_get(j, "encoding")), "gzip");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "application/x-tar");
    json_decref(j);
    j = NULL;

    struct kiln_error *e = NULL;
    s = (struct source){.left = 300000, .chunk = 7000, .seed = 1, .fail = true};
    assert_int_equal(kiln_cloud_upload(c, "/v1/builds/b1/context", NULL, produce, &s, &j, &e),
                     KILN_E_LIMIT);
    assert_string_equal(e->message, "the context grew past its cap");
    assert_null(j);
    kiln_error_free(e);
    kiln_cloud_free(c);
}

struct seen {
    struct kiln_strv lines;
    size_t stop_after; /* 0: never */
};

static int on_line(void *ud, const char *line, size_t len, struct kiln_error **err)
{
    struct seen *s = ud;
    kiln_strv_pushn(&s->lines, line, len);
    if (s->stop_after && s->lines.n == s->stop_after)
        return kiln_error_set(err, KILN_E_CANCELLED, "stopped after %zu lines", s->lines.n);
    return 0;
}

static void test_builders__cloud_stream_lines(void **state)
{
    struct kiln_cloud *c = open_ok();
    struct seen s = {.lines = KILN_STRV_INIT};
    struct kiln_error *e = NULL;
    assert_int_equal(kiln_cloud_stream_lines(c, "/v1/builds/b1/events", on_line, &s, NULL), 0);
    const char *want[] = {"{\"n\":1}", "", "{\"n\":2}", "{\"kiln\":\"result\"}", "{\"n\":3}"};
    assert_int_equal(s.lines.n, 5);
    for (size_t i = 0; i < 5; i++)
        if (strcmp(s.lines.v[i], want[i]) != 0)
            fail_msg("line %zu: '%s', want '%s'", i, s.lines.v[i], want[i]);
    kiln_strv_release(&s.lines);

    s = (struct seen){.lines = KILN_STRV_INIT, .stop_after = 2};
    assert_int_equal(kiln_cloud_stream_lines(c, "/v1/builds/b1/events", on_line, &s, &e),
                     KILN_E_CANCELLED);
    assert_string_equal(e->message, "stopped after 2 lines");
    assert_int_equal(s.lines.n, 2);
    kiln_strv_release(&s.lines);
    kiln_error_free(e);
    e = NULL;

    s = (struct seen){.lines = KILN_STRV_INIT};
    assert_int_equal(kiln_cloud_stream_lines(c, "/v1/builds/long/events", on_line, &s, &e),
                     KILN_E_LIMIT);
    assert_string_equal(e->message, "kilnd sent a line longer than 1048576 bytes");
    assert_int_equal(s.lines.n, 0);
    kiln_error_free(e);
    e = NULL;

    assert_int_equal(kiln_cloud_stream_lines(c, "/v1/builders/other/x", on_line, &s, &e),
                     KILN_E_DENIED);
    assert_int_equal(s.lines.n, 0);
    kiln_error_free(e);
    kiln_cloud_free(c);
}

static void test_builders__cloud_download(void **state)
{
    _cleanup_free_ char *file = path_in("output.tar");
    _cleanup_close_ int fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    struct kiln_cloud *c = open_ok();
    uint64_t bytes = 0;
    assert_int_equal(kiln_cloud_download(c, "/v1/builds/b1/output", fd, &bytes, NULL), 0);
    assert_int_equal(bytes, 200000);
    struct kiln_buf got = KILN_BUF_INIT(SIZE_MAX);
    assert_int_equal(kiln_buf_read_file(&got, file), 0);
    assert_int_equal(got.len, 200000);
    for (size_t i = 0; i < got.len; i++)
        if ((unsigned char)got.buf[i] != i * 7 % 251)
            fail_msg("byte %zu: %u, want %zu", i, (unsigned char)got.buf[i], i * 7 % 251);
    kiln_buf_release(&got);

    struct kiln_error *e = NULL;
    assert_int_equal(kiln_cloud_download(c, "/v1/builds/none/output", fd, &bytes, &e),
                     KILN_E_NOTFOUND);
    assert_string_equal(e->message, "no route /v1/builds/none/output");
    kiln_error_free(e);
    kiln_cloud_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_builders__missing_file_has_default),
            cmocka_unit_test(test_builders__add_use_save_reload),
            cmocka_unit_test(test_builders__conflicts_and_default),
            cmocka_unit_test(test_builders__malformed_files),
            cmocka_unit_test(test_builders__names),
            cmocka_unit_test(test_builders__servers),
            cmocka_unit_test(test_builders__select),
            cmocka_unit_test(test_builders__endpoint_for),
            cmocka_unit_test(test_builders__cloud_json),
            cmocka_unit_test(test_builders__cloud_errors),
            cmocka_unit_test(test_builders__cloud_token_refused),
            cmocka_unit_test(test_builders__cloud_unreachable),
            cmocka_unit_test(test_builders__cloud_upload),
            cmocka_unit_test(test_builders__cloud_stream_lines),
            cmocka_unit_test(test_builders__cloud_download),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
