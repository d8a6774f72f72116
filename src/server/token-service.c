/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token-service.c - the distribution token-authentication protocol: who
 * asks (Basic credentials, the OAuth2 password or refresh_token grant, or
 * nobody), what for (scopes), what they get (asked ∩ allowed), signed.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/strv.h"
#include "jwt.h"
#include "ratelimit.h"
#include "registry-config.h"
#include "scopes.h"
#include "signing.h"
#include "token-service.h"
#include "tokens.h"

#include "base/banned.h"

struct kilnd_token_service {
    char *data_dir;
    struct kilnd_registry_config cfg;
    pthread_mutex_t lock; /* guards kr and keys_st: rotation swaps them */
    struct kilnd_keyring *kr;
    struct stat keys_st; /* keys.json as kr was read from it */
};

/* One resource scope asked for: a repository and the actions asked. */
struct asked {
    char *repo;
    unsigned actions;
};

struct request {
    const char *service, *grant_type, *username, *password, *refresh_token;
    bool offline;
    struct asked scopes[KILND_TOKEN_SCOPES_MAX];
    size_t n_scopes;
};

static void request_release(struct request *q)
{
    for (size_t i = 0; i < q->n_scopes; i++)
        free(q->scopes[i].repo);
}

static int stat_keys(const char *data_dir, struct stat *st)
{
    _cleanup_free_ char *path = kiln_xasprintf("%s/" KILND_SIGNING_DIR "/keys.json", data_dir);
    return stat(path, st) < 0 ? -errno : 0;
}

int kilnd_token_service_open(const char *data_dir, struct kilnd_token_service **ret,
                             struct kiln_error **err)
{
    struct kilnd_token_service *ts = kiln_xcalloc(1, sizeof(*ts));
    ts->data_dir = kiln_xstrdup(data_dir);
    pthread_mutex_init(&ts->lock, NULL);
    int r = kilnd_registry_config_load(data_dir, &ts->cfg, err);
    if (r >= 0 && (r = stat_keys(data_dir, &ts->keys_st)) < 0)
        r = kiln_error_set(err, KILN_E_NOTFOUND,
                           "no token signing key in '%s': run kilnd admin --data %s "
                           "registry-config again",
                           data_dir, data_dir);
    if (r >= 0)
        r = kilnd_keyring_open(data_dir, false, (int64_t)time(NULL), &ts->kr, err);
    if (r < 0) {
        kilnd_token_service_free(ts);
        return r;
    }
    *ret = ts;
    return 0;
}

void kilnd_token_service_free(struct kilnd_token_service *ts)
{
    if (!ts)
        return;
    kilnd_keyring_free(ts->kr);
    kilnd_registry_config_release(&ts->cfg);
    pthread_mutex_destroy(&ts->lock);
    free(ts->data_dir);
    free(ts);
}

const char *kilnd_token_service_registry(struct kilnd_token_service *ts)
{
    return ts->cfg.registry;
}

/* Under ts->lock: reads the keys again when `signing-key` changed keys.json. */
static void reload_keys(struct kilnd_token_service *ts)
{
    struct stat st;
    struct kilnd_keyring *kr = NULL;
    if (stat_keys(ts->data_dir, &st) < 0 ||
        (st.st_ino == ts->keys_st.st_ino && st.st_size == ts->keys_st.st_size &&
         st.st_mtim.tv_sec == ts->keys_st.st_mtim.tv_sec &&
         st.st_mtim.tv_nsec == ts->keys_st.st_mtim.tv_nsec))
        return;
    /* A keyring that does not load keeps the one in use (and is tried again). */
    if (kilnd_keyring_open(ts->data_dir, false, (int64_t)time(NULL), &kr, NULL) < 0)
        return;
    kilnd_keyring_free(ts->kr);
    ts->kr = kr;
    ts->keys_st = st;
}

static void format_rfc3339(int64_t t, char out[32])
{
    struct tm tm;
    time_t tt = (time_t)t;
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
}

/* Signs claims (iss, iat, nbf, jti added here) with the current key. */
static int sign(struct kilnd_token_service *ts, json_t *claims, int64_t now, char **ret,
                struct kiln_error **err)
{
    uint8_t id[16];
    if (RAND_bytes(id, sizeof(id)) != 1)
        return kiln_error_set(err, -EIO, "cannot draw random bytes for a token id");
    _cleanup_free_ char *jti = kilnd_b64url_encode(id, sizeof(id));
    json_object_set_new(claims, "iss", json_string(ts->cfg.issuer));
    json_object_set_new(claims, "iat", json_integer(now));
    json_object_set_new(claims, "nbf", json_integer(now));
    json_object_set_new(claims, "jti", json_string(jti));
    pthread_mutex_lock(&ts->lock);
    reload_keys(ts);
    const struct kilnd_signing_key *k = kilnd_keyring_signer(ts->kr);
    struct kilnd_jwt_key key = {k->kid, k->pkey};
    int r = kilnd_jwt_sign(&key, claims, ret, err);
    pthread_mutex_unlock(&ts->lock);
    return r;
}

static json_t *actions_json(unsigned actions)
{
    json_t *a = json_array();
    if (actions & KILND_ACTION_PULL)
        json_array_append_new(a, json_string("pull"));
    if (actions & KILND_ACTION_PUSH)
        json_array_append_new(a, json_string("push"));
    return a;
}

/* A registry token for sub granting granted[0..n) (entries without actions left out). */
static int registry_token(struct kilnd_token_service *ts, const char *sub,
                          const struct asked *granted, size_t n, int64_t now, char **ret,
                          struct kiln_error **err)
{
    json_t *access = json_array();
    for (size_t i = 0; i < n; i++)
        if (granted[i].actions)
            json_array_append_new(access, json_pack("{s:s, s:s, s:o}", "type", "repository", "name",
                                                    granted[i].repo, "actions",
                                                    actions_json(granted[i].actions)));
    json_t *claims = json_pack("{s:s, s:s, s:I, s:o}", "sub", sub, "aud", ts->cfg.service, "exp",
                               (json_int_t)(now + KILND_TOKEN_LIFETIME_S), "access", access);
    int r = sign(ts, claims, now, ret, err);
    json_decref(claims);
    return r;
}

int kilnd_token_service_mint(struct kilnd_token_service *ts, const char *subject, const char *repo,
                             unsigned actions, char **ret_jwt, struct kiln_error **err)
{
    if (!kilnd_repo_name_valid(repo))
        return kiln_error_set(err, KILN_E_INVALID, "invalid repository name '%s'", repo);
    struct asked a = {(char *)repo, actions & (KILND_ACTION_PULL | KILND_ACTION_PUSH)};
    return registry_token(ts, subject, &a, 1, (int64_t)time(NULL), ret_jwt, err);
}

/* A refresh token: kilnd's own, for the principal's access token (its row id). */
static int refresh_token(struct kilnd_token_service *ts, struct kilnd_db *db,
                         const struct kilnd_principal *p, int64_t now, char **ret,
                         struct kiln_error **err)
{
    int64_t exp = now + KILND_REFRESH_LIFETIME_S;
    struct kilnd_token_info *list = NULL;
    size_t n = 0;
    int r = kilnd_token_list(db, p->name, &list, &n, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].id, p->token_id) == 0 && list[i].expires && list[i].expires < exp)
            exp = list[i].expires;
    kilnd_token_list_free(list, n);
    json_t *claims = json_pack("{s:s, s:s, s:I, s:s}", "sub", p->name, "aud",
                               KILND_REFRESH_AUDIENCE, "exp", (json_int_t)exp, "tid", p->token_id);
    r = sign(ts, claims, now, ret, err);
    json_decref(claims);
    return r;
}

/* The principal a refresh token names, checked against its access token's row now. */
static int refresh_principal(struct kilnd_token_service *ts, struct kilnd_db *db, const char *token,
                             int64_t now, struct kilnd_principal **ret, struct kiln_error **err)
{
    static const char msg[] = "refresh token is invalid, expired or revoked: log in again";
    struct kilnd_jwt_key keys[KILND_SIGNING_KEYS_MAX];
    json_t *claims = NULL;
    pthread_mutex_lock(&ts->lock);
    reload_keys(ts);
    size_t n_keys = kilnd_keyring_trusted(ts->kr, keys);
    int r = kilnd_jwt_verify(token, keys, n_keys, &claims, NULL);
    pthread_mutex_unlock(&ts->lock);
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    const char *tid = json_string_value(json_object_get(claims, "tid"));
    json_int_t exp = json_integer_value(json_object_get(claims, "exp"));
    if (r < 0 || !aud || strcmp(aud, KILND_REFRESH_AUDIENCE) != 0 || !iss ||
        strcmp(iss, ts->cfg.issuer) != 0 || !sub || !tid || exp <= now) {
        json_decref(claims);
        return kiln_error_set(err, KILN_E_DENIED, "%s", msg);
    }
    struct kilnd_token_info *list = NULL;
    size_t n = 0;
    r = kilnd_token_list(db, sub, &list, &n, NULL);
    struct kilnd_principal *p = NULL;
    for (size_t i = 0; r >= 0 && i < n; i++) {
        const struct kilnd_token_info *t = &list[i];
        if (strcmp(t->id, tid) != 0 || t->revoked || (t->expires && t->expires <= now))
            continue;
        p = kiln_xcalloc(1, sizeof(*p));
        p->name = kiln_xstrdup(t->owner);
        p->is_org = t->is_org;
        memcpy(p->token_id, t->id, sizeof(p->token_id));
        for (size_t s = 0; s < t->scopes.n; s++)
            kiln_strv_push(&p->scopes, t->scopes.v[s]);
    }
    kilnd_token_list_free(list, n);
    json_decref(claims);
    if (!p)
        return kiln_error_set(err, KILN_E_DENIED, "%s", msg);
    *ret = p;
    return 0;
}

/* "repository:NAME:ACTIONS" → q->scopes; other resource types are not granted. */
static int parse_scope(struct request *q, const char *s, size_t len, struct kiln_error **err)
{
    _cleanup_free_ char *text = kiln_xstrndup(s, len);
    char *colon = strchr(text, ':'), *last = strrchr(text, ':');
    if (!colon || colon == last)
        return kiln_error_set(err, KILN_E_INVALID,
                              "malformed scope '%s': expected repository:NAME:ACTIONS", text);
    if (strncmp(text, "repository:", 11) != 0)
        return 0;
    *last = '\0';
    const char *repo = colon + 1;
    if (!kilnd_repo_name_valid(repo))
        return kiln_error_set(err, KILN_E_INVALID, "scope '%s:%s' names an invalid repository",
                              text, last + 1);
    unsigned actions = 0;
    for (char *a = last + 1, *end; a; a = end ? end + 1 : NULL) {
        end = strchr(a, ',');
        size_t n = end ? (size_t)(end - a) : strlen(a);
        if (n == 4 && strncmp(a, "pull", 4) == 0)
            actions |= KILND_ACTION_PULL;
        else if (n == 4 && strncmp(a, "push", 4) == 0)
            actions |= KILND_ACTION_PUSH;
    }
    for (size_t i = 0; i < q->n_scopes; i++)
        if (strcmp(q->scopes[i].repo, repo) == 0) {
            q->scopes[i].actions |= actions;
            return 0;
        }
    if (q->n_scopes == KILND_TOKEN_SCOPES_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "more than %u scopes asked for at once",
                              KILND_TOKEN_SCOPES_MAX);
    q->scopes[q->n_scopes++] = (struct asked){kiln_xstrdup(repo), actions};
    return 0;
}

/* One `scope` value: scopes separated by spaces (the OAuth2 form). */
static int parse_scopes(struct request *q, const char *v, struct kiln_error **err)
{
    for (const char *p = v; *p;) {
        size_t n = strcspn(p, " ");
        int r = n ? parse_scope(q, p, n, err) : 0;
        if (r < 0)
            return r;
        p += n + (p[n] == ' ');
    }
    return 0;
}

static int parse_request(struct request *q, bool post, const struct kilnd_kv *params, size_t n,
                         struct kiln_error **err)
{
    for (size_t i = 0; i < n; i++) {
        const char *k = params[i].key, *v = params[i].value ? params[i].value : "";
        if (strlen(v) > KILND_TOKEN_PARAM_MAX)
            return kiln_error_set(err, KILN_E_LIMIT, "parameter '%s' is longer than %u bytes", k,
                                  KILND_TOKEN_PARAM_MAX);
        int r = 0;
        if (strcmp(k, "scope") == 0)
            r = parse_scopes(q, v, err);
        else if (strcmp(k, "service") == 0)
            q->service = v;
        else if (strcmp(k, post ? "access_type" : "offline_token") == 0)
            q->offline = strcmp(v, post ? "offline" : "true") == 0;
        else if (post && strcmp(k, "grant_type") == 0)
            q->grant_type = v;
        else if (post && strcmp(k, "username") == 0)
            q->username = v;
        else if (post && strcmp(k, "password") == 0)
            q->password = v;
        else if (post && strcmp(k, "refresh_token") == 0)
            q->refresh_token = v;
        if (r < 0)
            return r;
    }
    return 0;
}

/* The Basic credentials of the password grant, as kilnd_auth_header() takes them. */
static char *basic_header(const char *user, const char *password)
{
    _cleanup_free_ char *plain = kiln_xasprintf("%s:%s", user, password);
    size_t n = strlen(plain);
    char *h = kiln_xmalloc(6 + 4 * ((n + 2) / 3) + 1);
    memcpy(h, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)h + 6, (const unsigned char *)plain, (int)n);
    explicit_bzero(plain, n);
    return h;
}

/* Who asks: *ret NULL for anonymous. An HTTP status other than 200 in *ret_status on refusal. */
static int authenticate(struct kilnd_token_service *ts, struct kilnd_db *db,
                        struct kilnd_ratelimit *rl, bool post, const struct request *q,
                        const char *authorization, const char *remote_ip, int64_t now,
                        struct kilnd_principal **ret, int *ret_status, struct kiln_error **err)
{
    int r = 0;
    *ret = NULL;
    if (!post) {
        if (authorization)
            r = kilnd_auth_header(db, rl, authorization, remote_ip, ret, err);
    } else if (q->grant_type && strcmp(q->grant_type, "password") == 0) {
        if (!q->username || !q->password) {
            *ret_status = 400;
            return kiln_error_set(err, KILN_E_INVALID,
                                  "grant_type password needs username and password");
        }
        char *h = basic_header(q->username, q->password);
        r = kilnd_auth_header(db, rl, h, remote_ip, ret, err);
        explicit_bzero(h, strlen(h));
        free(h);
    } else if (q->grant_type && strcmp(q->grant_type, "refresh_token") == 0 && q->refresh_token) {
        int64_t wait = rl ? kilnd_ratelimit_blocked(rl, remote_ip, kilnd_ratelimit_now()) : 0;
        if (wait > 0)
            r = kiln_error_set(err, KILN_E_LIMIT,
                               "too many failed attempts from %s: wait %" PRId64 " s", remote_ip,
                               wait);
        else if ((r = refresh_principal(ts, db, q->refresh_token, now, ret, err)) < 0 && rl)
            kilnd_ratelimit_failure(rl, remote_ip, kilnd_ratelimit_now());
    } else {
        *ret_status = 400;
        return kiln_error_set(err, KILN_E_INVALID,
                              "unsupported grant_type '%s': use password or refresh_token "
                              "(with refresh_token)",
                              q->grant_type ? q->grant_type : "");
    }
    if (r == KILN_E_DENIED || r == KILN_E_AUTH)
        *ret_status = 401;
    else if (r == KILN_E_LIMIT)
        *ret_status = 429;
    else
        *ret_status = r < 0 ? 500 : 200; /* 500: kilnd failed, not the client */
    return r;
}

/* asked ∩ allowed, in place. */
static int grant(struct kilnd_db *db, const struct kilnd_principal *p, struct request *q,
                 struct kiln_error **err)
{
    for (size_t i = 0; i < q->n_scopes; i++) {
        unsigned allowed;
        if (p) {
            allowed = kilnd_principal_repo_actions(db, p, q->scopes[i].repo);
        } else {
            int pub = kilnd_repo_is_public(db, q->scopes[i].repo, err);
            if (pub < 0)
                return pub;
            allowed = pub ? KILND_ACTION_PULL : 0;
        }
        q->scopes[i].actions &= allowed;
    }
    return 0;
}

/* The granted scopes, space-separated, as the OAuth2 answer's "scope". */
static json_t *granted_scope(const struct request *q)
{
    _cleanup_(kiln_buf_releasep) struct kiln_buf b =
            KILN_BUF_INIT(KILND_TOKEN_SCOPES_MAX * (KILND_TOKEN_PARAM_MAX + 32));
    for (size_t i = 0; i < q->n_scopes; i++) {
        unsigned a = q->scopes[i].actions;
        if (a)
            (void)kiln_buf_addf(&b, "%srepository:%s:%s", b.len ? " " : "", q->scopes[i].repo,
                                a == (KILND_ACTION_PULL | KILND_ACTION_PUSH) ? "pull,push"
                                : a == KILND_ACTION_PULL                     ? "pull"
                                                                             : "push");
    }
    return json_string(b.buf);
}

static char *error_body(const char *msg)
{
    json_t *j = json_pack("{s:s, s:s}", "error", msg, "details", msg);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static int answer(struct kilnd_token_service *ts, struct kilnd_db *db, bool post,
                  const struct kilnd_principal *p, struct request *q, int64_t now, char **ret,
                  struct kiln_error **err)
{
    _cleanup_free_ char *jwt = NULL, *refresh = NULL;
    int r = grant(db, p, q, err);
    if (r >= 0)
        r = registry_token(ts, p ? p->name : "", q->scopes, q->n_scopes, now, &jwt, err);
    if (r >= 0 && p && q->offline)
        r = refresh_token(ts, db, p, now, &refresh, err);
    if (r < 0)
        return r;
    char issued[32];
    format_rfc3339(now, issued);
    json_t *j = json_pack("{s:s, s:i, s:s}", "access_token", jwt, "expires_in",
                          KILND_TOKEN_LIFETIME_S, "issued_at", issued);
    if (post)
        json_object_set_new(j, "scope", granted_scope(q));
    else
        json_object_set_new(j, "token", json_string(jwt));
    if (refresh)
        json_object_set_new(j, "refresh_token", json_string(refresh));
    *ret = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return 0;
}

int kilnd_token_service_handle(struct kilnd_token_service *ts, struct kilnd_db *db,
                               struct kilnd_ratelimit *rl, const char *method,
                               const char *authorization, const char *remote_ip,
                               const struct kilnd_kv *params, size_t n_params, int *ret_status,
                               char **ret_body_json, struct kiln_error **err)
{
    bool post = strcmp(method, "POST") == 0;
    if (!post && strcmp(method, "GET") != 0) {
        *ret_status = 405;
        *ret_body_json = error_body("use GET or POST on /token");
        return 0;
    }
    struct request q = {0};
    _cleanup_(kilnd_principal_freep) struct kilnd_principal *p = NULL;
    struct kiln_error *refusal = NULL;
    int64_t now = (int64_t)time(NULL);
    int status = 400, r = parse_request(&q, post, params, n_params, &refusal);
    if (r >= 0 && (!q.service || strcmp(q.service, ts->cfg.service) != 0))
        r = kiln_error_set(&refusal, KILN_E_INVALID,
                           "service '%s' is not served here: this token service is for '%s'",
                           q.service ? q.service : "", ts->cfg.service);
    if (r >= 0)
        r = authenticate(ts, db, rl, post, &q, authorization, remote_ip, now, &p, &status,
                         &refusal);
    if (r >= 0)
        r = answer(ts, db, post, p, &q, now, ret_body_json, err);
    request_release(&q);
    if (r < 0 && refusal && status == 500) {
        r = kiln_error_set(err, r, "%s", kiln_error_message(refusal, r));
        kiln_error_free(refusal);
        return r;
    }
    if (r < 0 && refusal) {
        *ret_status = status;
        *ret_body_json = error_body(kiln_error_message(refusal, r));
        kiln_error_free(refusal);
        return 0;
    }
    if (r >= 0)
        *ret_status = 200;
    return r;
}
