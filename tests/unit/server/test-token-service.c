/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <ftw.h>
#include <time.h>

#include "base/buf.h"
#include "identity-fixture.h"
#include "server/accounts.h"
#include "server/jwt.h"
#include "server/ratelimit.h"
#include "server/registry-config.h"
#include "server/scopes.h"
#include "server/signing.h"
#include "server/token-service.h"
#include "server/tokens.h"

#include "base/banned.h"

#define SERVICE "registry.test"

struct ts_fixture {
    struct fixture *f;
    struct kilnd_token_service *ts;
    struct kilnd_ratelimit *rl;
    char *push, *pull, *org; /* alice: push acme/app, pull under acme/; acme: push acme/app */
};

static char *make_token(struct fixture *f, const char *owner, const char *scopes)
{
    struct kilnd_token_info t;
    char *token = NULL;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_token_create(f->db, owner, scopes, "test", 0, &t, &token, &err), &err);
    kilnd_token_info_release(&t);
    return token;
}

static int setup(void **state)
{
    fixture_setup(state);
    struct ts_fixture *t = kiln_xcalloc(1, sizeof(*t));
    t->f = *state;
    struct kiln_error *err = NULL;
    struct kilnd_registry_config c = {(char *)SERVICE, (char *)"https://kilnd.test/token",
                                      (char *)"kilnd.test", (char *)"registry.test:5000"};
    expect_ok(kilnd_registry_config_save(t->f->dir, &c, &err), &err);
    expect_ok(kilnd_keyring_open(t->f->dir, true, time(NULL), NULL, &err), &err);
    expect_ok(kilnd_token_service_open(t->f->dir, &t->ts, &err), &err);
    expect_ok(kilnd_account_create(t->f->db, "acme", KILND_ACCOUNT_ORG, &err), &err);
    expect_ok(kilnd_account_create(t->f->db, "alice", KILND_ACCOUNT_USER, &err), &err);
    expect_ok(kilnd_repo_set_public(t->f->db, "acme/public", true, &err), &err);
    t->push = make_token(t->f, "alice", "repo:acme/app:push");
    t->pull = make_token(t->f, "alice", "repo:acme/*:pull");
    t->org = make_token(t->f, "acme", "repo:acme/app:push,cloud-connect");
    t->rl = kilnd_ratelimit_new();
    *state = t;
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int teardown(void **state)
{
    struct ts_fixture *t = *state;
    kilnd_token_service_free(t->ts);
    kilnd_ratelimit_free(t->rl);
    kilnd_db_close(t->f->db);
    assert_int_equal(nftw(t->f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(t->push);
    free(t->pull);
    free(t->org);
    free(t->f);
    free(t);
    return 0;
}

static char *basic(const char *user, const char *token)
{
    _cleanup_free_ char *plain = kiln_xasprintf("%s:%s", user, token);
    char *h = kiln_xcalloc(1, 6 + 4 * strlen(plain) / 3 + 8);
    memcpy(h, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)h + 6, (const unsigned char *)plain, (int)strlen(plain));
    return h;
}

/* Runs one request; returns the body as JSON (the caller decrefs it). */
static json_t *ask(struct ts_fixture *t, const char *method, const char *authorization,
                   const struct kilnd_kv *params, size_t n, int status)
{
    int got = 0;
    char *body = NULL;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_token_service_handle(t->ts, t->f->db, t->rl, method, authorization, "192.0.2.1",
                                         params, n, &got, &body, &err),
              &err);
    json_t *j = json_loads(body, 0, NULL);
    if (got != status || !j)
        fail_msg("%s: got %d '%s', expected %d", method, got, body, status);
    free(body);
    return j;
}

/* The claims of the registry token in j, checked against the current key. */
static json_t *claims_of(struct ts_fixture *t, json_t *j, const char *member)
{
    const char *jwt = json_string_value(json_object_get(j, member));
    assert_non_null(jwt);
    struct kilnd_keyring *kr = NULL;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_keyring_open(t->f->dir, false, time(NULL), &kr, &err), &err);
    struct kilnd_jwt_key keys[KILND_SIGNING_KEYS_MAX];
    size_t n = kilnd_keyring_trusted(kr, keys);
    json_t *claims = NULL;
    expect_ok(kilnd_jwt_verify(jwt, keys, n, &claims, &err), &err);
    kilnd_keyring_free(kr);
    return claims;
}

/* The access claim as "NAME:pull,push NAME2:pull". */
static char *access_text(json_t *claims)
{
    struct kiln_buf b = KILN_BUF_INIT(4096);
    size_t i, k;
    json_t *a, *action;
    json_array_foreach (json_object_get(claims, "access"), i, a) {
        assert_string_equal(json_string_value(json_object_get(a, "type")), "repository");
        (void)kiln_buf_addf(&b, "%s%s:", i ? " " : "",
                            json_string_value(json_object_get(a, "name")));
        json_array_foreach (json_object_get(a, "actions"), k, action)
            (void)kiln_buf_addf(&b, "%s%s", k ? "," : "", json_string_value(action));
    }
    return kiln_buf_detach(&b, NULL);
}

static void expect_access(struct ts_fixture *t, json_t *j, const char *member, const char *sub,
                          const char *want)
{
    json_t *claims = claims_of(t, j, member);
    _cleanup_free_ char *got = access_text(claims);
    if (strcmp(got, want) != 0)
        fail_msg("access is '%s', expected '%s'", got, want);
    assert_string_equal(json_string_value(json_object_get(claims, "sub")), sub);
    assert_string_equal(json_string_value(json_object_get(claims, "aud")), SERVICE);
    assert_string_equal(json_string_value(json_object_get(claims, "iss")), "kilnd.test");
    json_int_t iat = json_integer_value(json_object_get(claims, "iat"));
    assert_int_equal(json_integer_value(json_object_get(claims, "exp")) - iat,
                     KILND_TOKEN_LIFETIME_S);
    assert_int_equal(json_integer_value(json_object_get(claims, "nbf")), iat);
    assert_true(json_string_length(json_object_get(claims, "jti")) >= 16);
    json_decref(claims);
}

static void test_token_service__get_asked_and_allowed(void **state)
{
    struct ts_fixture *t = *state;
    _cleanup_free_ char *auth = basic("alice", t->push);
    const struct kilnd_kv params[] = {
            {"service", SERVICE},
            {"scope", "repository:acme/app:pull,push"},
            {"scope", "repository:acme/other:pull,push"},
            {"scope", "registry:catalog:*"},
    };
    json_t *j = ask(t, "GET", auth, params, ELEMENTSOF(params), 200);
    expect_access(t, j, "token", "alice", "acme/app:pull,push");
    assert_string_equal(json_string_value(json_object_get(j, "token")),
                        json_string_value(json_object_get(j, "access_token")));
    assert_int_equal(json_integer_value(json_object_get(j, "expires_in")), KILND_TOKEN_LIFETIME_S);
    assert_int_equal(json_string_length(json_object_get(j, "issued_at")), 20);
    assert_null(json_object_get(j, "refresh_token"));
    json_decref(j);

    /* A pull token asked for push gets pull only, on every repository its glob covers. */
    _cleanup_free_ char *pull = basic("alice", t->pull);
    j = ask(t, "GET", pull, params, 3, 200);
    expect_access(t, j, "token", "alice", "acme/app:pull acme/other:pull");
    json_decref(j);

    /* An organisation's token, under the organisation's name. */
    _cleanup_free_ char *org = basic("acme", t->org);
    j = ask(t, "GET", org, params, 2, 200);
    expect_access(t, j, "token", "acme", "acme/app:pull,push");
    json_decref(j);
}

static void test_token_service__anonymous_pulls_public(void **state)
{
    struct ts_fixture *t = *state;
    const struct kilnd_kv params[] = {
            {"service", SERVICE},
            {"scope", "repository:acme/public:pull,push repository:acme/app:pull"},
    };
    json_t *j = ask(t, "GET", NULL, params, ELEMENTSOF(params), 200);
    expect_access(t, j, "token", "", "acme/public:pull");
    json_decref(j);
    /* No scope at all: a token for the registry's /v2/ check. */
    j = ask(t, "GET", NULL, params, 1, 200);
    expect_access(t, j, "token", "", "");
    json_decref(j);
}

static void expect_error(struct ts_fixture *t, const char *method, const char *auth,
                         const struct kilnd_kv *params, size_t n, int status, const char *part)
{
    json_t *j = ask(t, method, auth, params, n, status);
    const char *msg = json_string_value(json_object_get(j, "error"));
    const char *details = json_string_value(json_object_get(j, "details"));
    if (!msg || !strstr(msg, part) || !details || strcmp(msg, details) != 0)
        fail_msg("error '%s' (details '%s'), expected it to hold '%s'", msg, details, part);
    json_decref(j);
}

static void test_token_service__refusals(void **state)
{
    struct ts_fixture *t = *state;
    const struct kilnd_kv ok[] = {{"service", SERVICE}, {"scope", "repository:acme/app:pull"}};
    _cleanup_free_ char *wrong = basic("alice", "kiln_pat_000000000000_wrong");
    expect_error(t, "GET", wrong, ok, 2, 401, "invalid access token");
    _cleanup_free_ char *not_owner = basic("bob", t->push);
    expect_error(t, "GET", not_owner, ok, 2, 401, "");
    const struct kilnd_kv other[] = {{"service", "elsewhere"}};
    expect_error(t, "GET", NULL, other, 1, 400, "service 'elsewhere' is not served here");
    expect_error(t, "GET", NULL, NULL, 0, 400, "service '' is not served here");
    const struct kilnd_kv bad[] = {{"service", SERVICE}, {"scope", "repository:acme/App:pull"}};
    expect_error(t, "GET", NULL, bad, 2, 400, "invalid repository");
    const struct kilnd_kv bad2[] = {{"service", SERVICE}, {"scope", "repository"}};
    expect_error(t, "GET", NULL, bad2, 2, 400, "malformed scope");
    expect_error(t, "PUT", NULL, ok, 2, 405, "GET or POST");
    const struct kilnd_kv grant[] = {{"service", SERVICE}, {"grant_type", "client_credentials"}};
    expect_error(t, "POST", NULL, grant, 2, 400, "unsupported grant_type");
    const struct kilnd_kv nopass[] = {
            {"service", SERVICE}, {"grant_type", "password"}, {"username", "alice"}};
    expect_error(t, "POST", NULL, nopass, 3, 400, "needs username and password");
    struct kilnd_kv many[KILND_TOKEN_SCOPES_MAX + 2] = {{"service", SERVICE}};
    char names[KILND_TOKEN_SCOPES_MAX + 1][64];
    for (size_t i = 0; i <= KILND_TOKEN_SCOPES_MAX; i++) {
        snprintf(names[i], sizeof(names[i]), "repository:acme/r%zu:pull", i);
        many[i + 1] = (struct kilnd_kv){"scope", names[i]};
    }
    expect_error(t, "GET", NULL, many, ELEMENTSOF(many), 400, "more than 16 scopes");
}

static void test_token_service__rate_limited(void **state)
{
    struct ts_fixture *t = *state;
    const struct kilnd_kv ok[] = {{"service", SERVICE}};
    _cleanup_free_ char *wrong = basic("alice", "kiln_pat_000000000000_wrong");
    for (int i = 0; i <= KILND_RATELIMIT_FAILURES; i++)
        expect_error(t, "GET", wrong, ok, 1, 401, "invalid access token");
    _cleanup_free_ char *right = basic("alice", t->push);
    expect_error(t, "GET", wrong, ok, 1, 429, "too many failed attempts");
    expect_error(t, "GET", right, ok, 1, 429, "too many failed attempts");
}

static void test_token_service__oauth_password_and_refresh(void **state)
{
    struct ts_fixture *t = *state;
    const struct kilnd_kv login[] = {
            {"grant_type", "password"},
            {"username", "alice"},
            {"password", t->push},
            {"service", SERVICE},
            {"client_id", "docker"},
            {"access_type", "offline"},
            {"scope", "repository:acme/app:pull,push repository:acme/x:pull"},
    };
    json_t *j = ask(t, "POST", NULL, login, ELEMENTSOF(login), 200);
    expect_access(t, j, "access_token", "alice", "acme/app:pull,push");
    assert_string_equal(json_string_value(json_object_get(j, "scope")),
                        "repository:acme/app:pull,push");
    assert_null(json_object_get(j, "token"));
    const char *rt = json_string_value(json_object_get(j, "refresh_token"));
    assert_non_null(rt);
    _cleanup_free_ char *refresh = kiln_xstrdup(rt);
    json_decref(j);

    /* The refresh token is no registry token. */
    j = json_pack("{s:s}", "t", refresh);
    json_t *claims = claims_of(t, j, "t");
    assert_string_equal(json_string_value(json_object_get(claims, "aud")), KILND_REFRESH_AUDIENCE);
    assert_null(json_object_get(claims, "access"));
    json_decref(claims);
    json_decref(j);

    const struct kilnd_kv again[] = {
            {"grant_type", "refresh_token"},
            {"refresh_token", refresh},
            {"service", SERVICE},
            {"scope", "repository:acme/app:push"},
    };
    j = ask(t, "POST", NULL, again, ELEMENTSOF(again), 200);
    expect_access(t, j, "access_token", "alice", "acme/app:push");
    json_decref(j);

    /* A registry token is no refresh token. */
    j = ask(t, "POST", NULL, login, 6, 200);
    const struct kilnd_kv wrong[] = {
            {"grant_type", "refresh_token"},
            {"refresh_token", json_string_value(json_object_get(j, "access_token"))},
            {"service", SERVICE},
    };
    expect_error(t, "POST", NULL, wrong, ELEMENTSOF(wrong), 401, "refresh token is invalid");
    json_decref(j);

    /* Revoking the access token ends its refresh tokens. */
    struct kiln_error *err = NULL;
    char id[KILND_TOKEN_ID_LEN + 1];
    memcpy(id, t->push + 9, KILND_TOKEN_ID_LEN);
    id[KILND_TOKEN_ID_LEN] = '\0';
    expect_ok(kilnd_token_revoke(t->f->db, id, &err), &err);
    expect_error(t, "POST", NULL, again, ELEMENTSOF(again), 401, "refresh token is invalid");
    expect_error(t, "POST", NULL, login, ELEMENTSOF(login), 401, "revoked");
}

static void test_token_service__get_offline_token(void **state)
{
    struct ts_fixture *t = *state;
    _cleanup_free_ char *auth = basic("alice", t->pull);
    const struct kilnd_kv params[] = {
            {"service", SERVICE}, {"offline_token", "true"}, {"client_id", "docker"}};
    json_t *j = ask(t, "GET", auth, params, ELEMENTSOF(params), 200);
    assert_non_null(json_object_get(j, "refresh_token"));
    json_decref(j);
    /* Anonymous: nobody to refresh for. */
    j = ask(t, "GET", NULL, params, ELEMENTSOF(params), 200);
    assert_null(json_object_get(j, "refresh_token"));
    json_decref(j);
}

static void test_token_service__rotation_is_picked_up(void **state)
{
    struct ts_fixture *t = *state;
    const struct kilnd_kv params[] = {{"service", SERVICE}};
    struct kilnd_keyring *kr = NULL;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_keyring_rotate(t->f->dir, false, time(NULL), &kr, &err), &err);
    char next[KILND_JWT_KID_LEN + 1], current[KILND_JWT_KID_LEN + 1];
    memcpy(next, kr->keys[0].kid, sizeof(next));
    memcpy(current, kr->keys[1].kid, sizeof(current));
    kilnd_keyring_free(kr);

    /* Until activated, the current key signs. */
    json_t *j = ask(t, "GET", NULL, params, 1, 200);
    const char *jwt = json_string_value(json_object_get(j, "token"));
    _cleanup_free_ char *kid = kiln_xasprintf("\"kid\":\"%s\"", current);
    uint8_t *header = NULL;
    size_t n = 0;
    expect_ok(kilnd_b64url_decode(jwt, (size_t)(strchr(jwt, '.') - jwt), &header, &n, &err), &err);
    if (!strstr((const char *)header, kid))
        fail_msg("header '%s' does not name the current key %s", header, current);
    free(header);
    json_decref(j);

    expect_ok(kilnd_keyring_activate(t->f->dir, time(NULL), NULL, &err), &err);
    j = ask(t, "GET", NULL, params, 1, 200);
    jwt = json_string_value(json_object_get(j, "token"));
    expect_ok(kilnd_b64url_decode(jwt, (size_t)(strchr(jwt, '.') - jwt), &header, &n, &err), &err);
    _cleanup_free_ char *kid2 = kiln_xasprintf("\"kid\":\"%s\"", next);
    if (!strstr((const char *)header, kid2))
        fail_msg("header '%s' does not name the new key %s", header, next);
    free(header);
    json_decref(j);
}

static void test_token_service__mint(void **state)
{
    struct ts_fixture *t = *state;
    assert_string_equal(kilnd_token_service_registry(t->ts), "registry.test:5000");
    char *jwt = NULL;
    struct kiln_error *err = NULL;
    expect_ok(kilnd_token_service_mint(t->ts, "alice", "acme/app", KILND_ACTION_PUSH, &jwt, &err),
              &err);
    json_t *j = json_pack("{s:s}", "t", jwt);
    expect_access(t, j, "t", "alice", "acme/app:push");
    json_decref(j);
    free(jwt);
    expect_fail(kilnd_token_service_mint(t->ts, "alice", "Acme", KILND_ACTION_PULL, &jwt, &err),
                &err, KILN_E_INVALID, "invalid repository name 'Acme'");
}

static void test_token_service__registry_config(void **state)
{
    struct ts_fixture *t = *state;
    struct kilnd_registry_config c = {0};
    struct kiln_error *err = NULL;
    expect_ok(kilnd_registry_config_load(t->f->dir, &c, &err), &err);
    assert_string_equal(c.service, SERVICE);
    assert_string_equal(c.registry, "registry.test:5000");
    _cleanup_free_ char *yaml = kilnd_registry_config_yaml(&c, "/data/signing/bundle.pem");
    assert_string_equal(yaml, "auth:\n"
                              "  token:\n"
                              "    realm: \"https://kilnd.test/token\"\n"
                              "    service: \"registry.test\"\n"
                              "    issuer: \"kilnd.test\"\n"
                              "    rootcertbundle: \"/data/signing/bundle.pem\"\n");
    kilnd_registry_config_release(&c);

    static const struct {
        const char *service, *realm, *registry, *part;
    } bad[] = {
            {"", "http://k/token", NULL, "service is empty"},
            {"a\"b", "http://k/token", NULL, "holds a space, quote"},
            {"a b", "http://k/token", NULL, "holds a space, quote"},
            {"reg", "k/token", NULL, "not an http:// or https:// URL"},
            {KILND_REFRESH_AUDIENCE, "http://k/token", NULL, "reserved"},
            {"reg", "http://k/token", "host:port", "not HOST[:PORT]"},
            {"reg", "http://k/token", "host:70000", "not HOST[:PORT]"},
            {"reg", "http://k/token", "/path", "not HOST[:PORT]"},
    };
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        struct kilnd_registry_config b = {(char *)bad[i].service, (char *)bad[i].realm,
                                          (char *)"kilnd", (char *)bad[i].registry};
        expect_fail(kilnd_registry_config_save(t->f->dir, &b, &err), &err, KILN_E_INVALID,
                    bad[i].part);
    }
    static const char *const good[] = {"localhost", "127.0.0.1:5000", "[::1]:5000",
                                       "registry.example.com"};
    for (size_t i = 0; i < ELEMENTSOF(good); i++) {
        struct kilnd_registry_config g = {(char *)"reg", (char *)"https://k/token", (char *)"kilnd",
                                          (char *)good[i]};
        expect_ok(kilnd_registry_config_check(&g, &err), &err);
    }
}

static void test_token_service__needs_registry_config(void **state)
{
    char dir[] = "/tmp/kilnd-ts-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct kilnd_token_service *ts = NULL;
    struct kiln_error *err = NULL;
    expect_fail(kilnd_token_service_open(dir, &ts, &err), &err, KILN_E_NOTFOUND, "registry-config");
    assert_null(ts);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(test_token_service__##name, setup, teardown)
    const struct CMUnitTest tests[] = {
            T(get_asked_and_allowed),
            T(anonymous_pulls_public),
            T(refusals),
            T(rate_limited),
            T(oauth_password_and_refresh),
            T(get_offline_token),
            T(rotation_is_picked_up),
            T(mint),
            T(registry_config),
            cmocka_unit_test(test_token_service__needs_registry_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
