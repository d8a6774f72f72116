/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.c - the registry's authentication (distribution's token spec): on a
 * 401 the client learns the challenge; Basic sends the credentials, Bearer
 * gets a token for the request's scopes from the realm (with the
 * credentials, or anonymously), caches it per scope until it expires, and
 * the request is tried once more.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "internal.h"

#include "base/banned.h"

/* A token is not used in its last seconds: the request might arrive after it expired. */
#define TOKEN_MARGIN_S 10
/* The spec's default lifetime, also the least a token is taken to live. */
#define TOKEN_MIN_LIFE_S 60

static struct timespec now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

static void token_release(struct kiln_registry_token *t)
{
    explicit_bzero(t->token, strlen(t->token));
    free(t->token);
    free(t->scope);
}

void kiln_registry_tokens_clear(struct kiln_registry_client *c)
{
    for (size_t i = 0; i < c->n_tokens; i++)
        token_release(&c->tokens[i]);
    free(c->tokens);
    c->tokens = NULL;
    c->n_tokens = c->alloc_tokens = 0;
}

static void token_drop(struct kiln_registry_client *c, size_t i)
{
    token_release(&c->tokens[i]);
    memmove(&c->tokens[i], &c->tokens[i + 1], (c->n_tokens - i - 1) * sizeof(*c->tokens));
    c->n_tokens--;
}

/* The cached token for `scope` that is good for a while yet, or NULL. */
static const char *token_find(struct kiln_registry_client *c, const char *scope)
{
    struct timespec t = now();
    for (size_t i = 0; i < c->n_tokens; i++) {
        if (strcmp(c->tokens[i].scope, scope) != 0)
            continue;
        if (t.tv_sec + TOKEN_MARGIN_S < c->tokens[i].expires.tv_sec)
            return c->tokens[i].token;
        token_drop(c, i);
        return NULL;
    }
    return NULL;
}

static const char *token_add(struct kiln_registry_client *c, const char *scope, char *token,
                             long long life)
{
    if (c->n_tokens == KILN_REGISTRY_TOKENS_MAX)
        token_drop(c, 0); /* the oldest */
    KILN_GROW(c->tokens, c->alloc_tokens, c->n_tokens + 1);
    struct kiln_registry_token *t = &c->tokens[c->n_tokens++];
    *t = (struct kiln_registry_token){.scope = kiln_xstrdup(scope), .token = token};
    t->expires = now();
    t->expires.tv_sec += life < TOKEN_MIN_LIFE_S ? TOKEN_MIN_LIFE_S : life;
    return t->token;
}

/* {"token": "...", "access_token": "...", "expires_in": N}: the token and its lifetime. */
static int parse_token(const struct kiln_buf *body, char **ret, long long *ret_life,
                       struct kiln_error **err)
{
    json_t *root = json_loadb(body->buf, body->len, 0, NULL);
    const char *tok = json_string_value(json_object_get(root, "token"));
    if (!tok || !tok[0])
        tok = json_string_value(json_object_get(root, "access_token"));
    json_t *exp = json_object_get(root, "expires_in");
    int r = 0;
    if (!json_is_object(root))
        r = kiln_error_set(err, KILN_E_UPSTREAM, "token server answer is not a JSON object");
    else if (!tok || !tok[0])
        r = kiln_error_set(err, KILN_E_UPSTREAM, "token server answer has no token");
    else if (tok[strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                             "-._~+/=")])
        r = kiln_error_set(err, KILN_E_UPSTREAM, "token server answer has a malformed token");
    if (r >= 0) {
        *ret_life = json_is_integer(exp) ? json_integer_value(exp) : TOKEN_MIN_LIFE_S;
        *ret = kiln_xstrdup(tok);
    }
    json_decref(root);
    return r;
}

static void add_param(struct kiln_registry_client *c, struct kiln_buf *b, const char *key,
                      const char *value)
{
    char *e = curl_easy_escape(c->curl, value, 0);
    (void)kiln_buf_addf(b, "%s%s=%s", b->len ? "&" : "", key, e ? e : "");
    curl_free(e);
}

/* service=...&scope=...&scope=...: the parameters of a token request. */
static void token_params(struct kiln_registry_client *c, const char *scope, struct kiln_buf *b)
{
    if (c->service)
        add_param(c, b, "service", c->service);
    for (const char *s = scope; *s;) {
        size_t n = strcspn(s, " ");
        _cleanup_free_ char *one = kiln_xstrndup(s, n);
        if (n)
            add_param(c, b, "scope", one);
        s += n + (s[n] == ' ');
    }
}

/*
 * GET realm?service=..&scope=.. with Basic credentials (or none), or with an
 * identity token the OAuth2 POST form of the same.
 */
static int fetch_token(struct kiln_registry_client *c, const char *scope, char **ret,
                       long long *ret_life, struct kiln_error **err)
{
    _cleanup_buf_ struct kiln_buf params = KILN_BUF_INIT(64 * 1024);
    _cleanup_buf_ struct kiln_buf body = KILN_BUF_INIT(KILN_REGISTRY_TOKEN_MAX);
    _cleanup_free_ char *origin = kiln_registry_url_origin(c->realm);
    _cleanup_free_ char *url = NULL;
    bool refresh = c->cred && c->cred->identity_token;
    static const char *const form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    token_params(c, scope, &params);
    if (refresh) {
        add_param(c, &params, "grant_type", "refresh_token");
        add_param(c, &params, "client_id", "kiln");
        add_param(c, &params, "refresh_token", c->cred->identity_token);
    }
    url = refresh ? kiln_xstrdup(c->realm)
                  : kiln_xasprintf("%s%c%s", c->realm, strchr(c->realm, '?') ? '&' : '?',
                                   params.buf);
    struct kiln_registry_request rq = {
            .method = refresh ? "POST" : "GET",
            .url = url,
            .headers = refresh ? form : NULL,
            .body = refresh ? params.buf : NULL,
            .body_len = refresh ? params.len : 0,
            .sink = kiln_registry_buf_sink,
            .sink_data = &body,
            .follow = true,
            .timeout_s = c->request_timeout_s,
            .auth_origin = origin,
            .basic = !refresh && c->cred && c->cred->username ? c->cred : NULL,
    };
    _cleanup_response_ struct kiln_registry_response rs = KILN_REGISTRY_RESPONSE_INIT;
    int r = kiln_registry_http_do(c, &rq, &rs, err);
    explicit_bzero(params.buf, params.len);
    if (r >= 0 && rs.status != 200)
        r = kiln_registry_http_status_error(
                &rq, &rs, rs.status == 401 && c->cred ? "the credentials were refused" : NULL, err);
    if (r >= 0)
        r = parse_token(&body, ret, ret_life, err);
    explicit_bzero(body.buf, body.len);
    return r < 0 ? kiln_error_wrap(err, r, "token server '%s'", origin ? origin : "?") : 0;
}

/*
 * Where a token may be fetched with our credentials: an http(s) URL, https
 * when the registry is, and a loopback, private or link-local address only
 * when the registry itself is on that host.
 */
static int check_realm(struct kiln_registry_client *c, const char *realm, struct kiln_error **err)
{
    _cleanup_free_ char *origin = kiln_registry_url_origin(realm);
    _cleanup_free_ char *host = origin ? kiln_registry_url_host(realm) : NULL;
    _cleanup_free_ char *own = kiln_registry_url_host(c->base);
    if (!host)
        return kiln_error_set(err, KILN_E_UPSTREAM, "token realm '%.200s' is not an http(s) URL",
                              realm);
    if (!c->plain_http && strncmp(origin, "https:", 6) != 0)
        return kiln_error_set(err, KILN_E_UPSTREAM,
                              "token realm '%s' is not https like the registry", origin);
    if (kiln_registry_host_private(host) && (!own || strcmp(host, own) != 0))
        return kiln_error_set(err, KILN_E_UPSTREAM,
                              "token realm '%s' is a local address the registry is not on", origin);
    return 0;
}

/* Learns from a 401's challenges what the registry wants. */
static int learn(struct kiln_registry_client *c, const struct kiln_registry_response *rs,
                 char **ret_scope, struct kiln_error **err)
{
    struct kiln_registry_challenges list = KILN_REGISTRY_CHALLENGES_INIT;
    int r = 0;
    for (size_t i = 0; r >= 0 && i < rs->authenticate.n; i++)
        r = kiln_registry_challenge_parse(rs->authenticate.v[i], strlen(rs->authenticate.v[i]),
                                          &list, err);
    const struct kiln_registry_challenge *bearer = kiln_registry_challenges_find(&list, "bearer");
    const char *realm = bearer ? kiln_registry_challenge_param(bearer, "realm") : NULL;
    if (r >= 0 && bearer && !realm)
        r = kiln_error_set(err, KILN_E_UPSTREAM, "Bearer challenge without a realm");
    if (r >= 0 && realm)
        r = check_realm(c, realm, err);
    if (r >= 0 && realm) {
        const char *service = kiln_registry_challenge_param(bearer, "service");
        const char *scope = kiln_registry_challenge_param(bearer, "scope");
        free(c->realm);
        free(c->service);
        c->realm = kiln_xstrdup(realm);
        c->service = service ? kiln_xstrdup(service) : NULL;
        c->auth = KILN_REGISTRY_AUTH_BEARER;
        *ret_scope = kiln_xstrdup(scope ? scope : "");
    } else if (r >= 0) {
        bool basic = kiln_registry_challenges_find(&list, "basic");
        c->auth = basic ? KILN_REGISTRY_AUTH_BASIC : KILN_REGISTRY_AUTH_NONE;
    }
    kiln_registry_challenges_release(&list);
    return r;
}

/* Fills in what proves who we are, as far as the client knows how. */
static int authorize(struct kiln_registry_client *c, struct kiln_registry_request *rq,
                     const char *scope, struct kiln_error **err)
{
    rq->auth_origin = c->origin;
    if (c->auth == KILN_REGISTRY_AUTH_BASIC && c->cred && c->cred->username && c->cred->secret)
        rq->basic = c->cred;
    if (c->auth != KILN_REGISTRY_AUTH_BEARER)
        return 0;
    rq->bearer = token_find(c, scope);
    if (rq->bearer)
        return 0;
    char *token = NULL;
    long long life = 0;
    int r = fetch_token(c, scope, &token, &life, err);
    if (r < 0)
        return r;
    rq->bearer = token_add(c, scope, token, life);
    return 0;
}

static const char *hint_401(const struct kiln_registry_client *c, char *buf, size_t size)
{
    if (c->cred)
        snprintf(buf, size, "the registry refused the credentials for '%s'", c->domain);
    else
        snprintf(buf, size, "no credentials for '%s'; log in with 'kiln login %s'", c->domain,
                 c->domain);
    return buf;
}

static int finish(const struct kiln_registry_client *c, const struct kiln_registry_request *rq,
                  const struct kiln_registry_response *rs, struct kiln_error **err)
{
    char hint[600];
    long s = rs->status;
    if ((s >= 200 && s < 300) || (s == 404 && rq->accept_404) ||
        (s >= 300 && s < 400 && !rq->follow))
        return 0;
    return kiln_registry_http_status_error(rq, rs,
                                           s == 401 ? hint_401(c, hint, sizeof(hint)) : NULL, err);
}

int kiln_registry_request(struct kiln_registry_client *c, const struct kiln_registry_request *rq,
                          struct kiln_registry_response *rs, struct kiln_error **err)
{
    _cleanup_free_ char *learnt_scope = NULL;
    const char *scope = rq->scope ? rq->scope : "";
    struct kiln_registry_request a = *rq;
    int r = authorize(c, &a, scope, err);
    if (r < 0)
        return kiln_registry_http_wrap(rq, r, err);
    r = kiln_registry_http_do(c, &a, rs, err);
    if (r < 0 || rs->status != 401)
        return r < 0 ? r : finish(c, &a, rs, err);

    /* A token we sent was refused (expired, revoked): do not send it again. */
    for (size_t i = 0; a.bearer && i < c->n_tokens; i++)
        if (c->tokens[i].token == a.bearer)
            token_drop(c, i);
    bool sent_basic = a.basic != NULL;
    r = learn(c, rs, &learnt_scope, err);
    if (r < 0)
        return kiln_registry_http_wrap(rq, r, err);
    /* Once more, unless the body cannot be sent again or nothing would change. */
    if (rq->read || c->auth == KILN_REGISTRY_AUTH_NONE || sent_basic)
        return finish(c, &a, rs, err);
    a = *rq;
    r = authorize(c, &a, rq->scope ? scope : learnt_scope, err);
    if (r < 0)
        return kiln_registry_http_wrap(rq, r, err);
    if (a.basic || a.bearer)
        r = kiln_registry_http_do(c, &a, rs, err);
    return r < 0 ? r : finish(c, &a, rs, err);
}
