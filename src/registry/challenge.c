/* SPDX-License-Identifier: Apache-2.0 */
#include "challenge.h"

#include <stdbool.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"

#include "base/banned.h"

/*
 * The grammar of RFC 7235 section 4.1, with the token68 form:
 *
 *   header     = [ challenge ] *( OWS "," OWS [ challenge ] )
 *   challenge  = scheme [ 1*SP ( token68 / auth-param *( OWS "," OWS [ auth-param ] ) ) ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 *
 * After a comma, "token =" continues the parameters and a bare token starts
 * the next challenge.
 */
struct cursor {
    const char *start;
    const char *p;
    const char *end;
};

static bool is_tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token68_char(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("-._~+/", c) != NULL;
}

static void skip_ows(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static size_t span_token(const struct cursor *c)
{
    const char *q = c->p;
    while (q < c->end && is_tchar(*q))
        q++;
    return (size_t)(q - c->p);
}

static int fail(const struct cursor *c, struct kiln_error **err, const char *what)
{
    return kiln_error_set(err, KILN_E_INVALID, "WWW-Authenticate: %s at offset %zu", what,
                          (size_t)(c->p - c->start));
}

static char *lower_dup(const char *s, size_t n)
{
    char *r = kiln_xstrndup(s, n);
    for (char *q = r; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    return r;
}

/* A quoted string at c->p (on the opening quote), unescaped into *ret. */
static int quoted_string(struct cursor *c, char **ret, struct kiln_error **err)
{
    _cleanup_buf_ struct kiln_buf b = KILN_BUF_INIT(KILN_REGISTRY_CHALLENGE_MAX);
    c->p++;
    while (c->p < c->end && *c->p != '"') {
        char ch = *c->p;
        if (ch == '\\') {
            if (++c->p == c->end)
                break;
            ch = *c->p;
        }
        if ((unsigned char)ch < 0x20 && ch != '\t')
            return fail(c, err, "control character in quoted string");
        if (ch == 0x7f)
            return fail(c, err, "control character in quoted string");
        if (kiln_buf_addch(&b, ch) < 0)
            return fail(c, err, "quoted string too long");
        c->p++;
    }
    if (c->p == c->end)
        return fail(c, err, "unterminated quoted string");
    c->p++;
    *ret = kiln_buf_detach(&b, NULL);
    return 0;
}

/* Does "token BWS =" start at c->p, with something other than '=' after the '='? */
static bool at_auth_param(const struct cursor *c)
{
    struct cursor t = *c;
    size_t n = span_token(&t);
    if (n == 0)
        return false;
    t.p += n;
    skip_ows(&t);
    if (t.p == t.end || *t.p != '=')
        return false;
    t.p++;
    skip_ows(&t);
    return t.p < t.end && *t.p != '=' && *t.p != ',';
}

static void challenge_release(struct kiln_registry_challenge *ch)
{
    for (size_t i = 0; i < ch->n_params; i++) {
        free(ch->params[i].key);
        free(ch->params[i].value);
    }
    free(ch->params);
    free(ch->token68);
    free(ch->scheme);
    *ch = (struct kiln_registry_challenge){0};
}

static int auth_param(struct cursor *c, struct kiln_registry_challenge *ch, struct kiln_error **err)
{
    size_t n = span_token(c);
    _cleanup_free_ char *key = lower_dup(c->p, n);
    _cleanup_free_ char *value = NULL;
    c->p += n;
    skip_ows(c);
    c->p++; /* '=', as at_auth_param() saw */
    skip_ows(c);
    if (*c->p == '"') {
        int r = quoted_string(c, &value, err);
        if (r < 0)
            return r;
    } else {
        n = span_token(c);
        if (n == 0)
            return fail(c, err, "expected a token or a quoted string");
        value = kiln_xstrndup(c->p, n);
        c->p += n;
    }
    if (kiln_registry_challenge_param(ch, key))
        return fail(c, err, "duplicate parameter");
    if (ch->n_params >= KILN_REGISTRY_CHALLENGE_PARAMS_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "WWW-Authenticate: more than %u parameters",
                              KILN_REGISTRY_CHALLENGE_PARAMS_MAX);
    KILN_GROW(ch->params, ch->alloc, ch->n_params + 1);
    ch->params[ch->n_params++] =
            (struct kiln_registry_param){.key = TAKE_PTR(key), .value = TAKE_PTR(value)};
    return 0;
}

/* token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool token68(struct cursor *c, struct kiln_registry_challenge *ch)
{
    const char *q = c->p;
    while (q < c->end && is_token68_char(*q))
        q++;
    if (q == c->p)
        return false;
    while (q < c->end && *q == '=')
        q++;
    struct cursor t = {.start = c->start, .p = q, .end = c->end};
    skip_ows(&t);
    if (t.p < t.end && *t.p != ',')
        return false;
    ch->token68 = kiln_xstrndup(c->p, (size_t)(q - c->p));
    c->p = q;
    return true;
}

/* The parameters after a scheme, up to the end or the start of the next challenge. */
static int challenge_params(struct cursor *c, struct kiln_registry_challenge *ch,
                            struct kiln_error **err)
{
    if (!at_auth_param(c)) {
        if (token68(c, ch) || c->p == c->end || *c->p == ',')
            return 0;
        return fail(c, err, "expected a parameter");
    }
    for (;;) {
        int r = auth_param(c, ch, err);
        if (r < 0)
            return r;
        skip_ows(c);
        if (c->p == c->end)
            return 0;
        if (*c->p != ',')
            return fail(c, err, "expected ',' after a parameter");
        /* Empty list elements are allowed; a bare token is the next challenge. */
        const char *comma = c->p;
        while (c->p < c->end && (*c->p == ',' || *c->p == ' ' || *c->p == '\t'))
            c->p++;
        if (c->p == c->end || !at_auth_param(c)) {
            c->p = comma;
            return 0;
        }
    }
}

static int one_challenge(struct cursor *c, struct kiln_registry_challenges *out,
                         struct kiln_error **err)
{
    size_t n = span_token(c);
    if (n == 0)
        return fail(c, err, "expected an authentication scheme");
    if (out->n >= KILN_REGISTRY_CHALLENGES_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "WWW-Authenticate: more than %u challenges",
                              KILN_REGISTRY_CHALLENGES_MAX);
    KILN_GROW(out->v, out->alloc, out->n + 1);
    struct kiln_registry_challenge *ch = &out->v[out->n++];
    *ch = (struct kiln_registry_challenge){.scheme = lower_dup(c->p, n)};
    c->p += n;
    if (c->p == c->end || *c->p == ',')
        return 0;
    if (*c->p != ' ' && *c->p != '\t')
        return fail(c, err, "expected a space after the scheme");
    skip_ows(c);
    return challenge_params(c, ch, err);
}

int kiln_registry_challenge_parse(const char *header, size_t len,
                                  struct kiln_registry_challenges *list, struct kiln_error **err)
{
    if (len > KILN_REGISTRY_CHALLENGE_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "WWW-Authenticate: header longer than %u bytes",
                              KILN_REGISTRY_CHALLENGE_MAX);
    struct kiln_registry_challenges got = *list;
    size_t before = list->n;
    struct cursor c = {.start = header, .p = header, .end = header + len};
    int r = 0;
    for (;;) {
        while (c.p < c.end && (*c.p == ',' || *c.p == ' ' || *c.p == '\t'))
            c.p++;
        if (c.p == c.end)
            break;
        r = one_challenge(&c, &got, err);
        if (r < 0)
            break;
    }
    if (r < 0) {
        while (got.n > before)
            challenge_release(&got.v[--got.n]);
    }
    *list = got; /* the array may have moved even on failure */
    return r;
}

const struct kiln_registry_challenge *
kiln_registry_challenges_find(const struct kiln_registry_challenges *list, const char *scheme)
{
    for (size_t i = 0; i < list->n; i++)
        if (strcmp(list->v[i].scheme, scheme) == 0)
            return &list->v[i];
    return NULL;
}

const char *kiln_registry_challenge_param(const struct kiln_registry_challenge *c, const char *key)
{
    for (size_t i = 0; i < c->n_params; i++)
        if (strcmp(c->params[i].key, key) == 0)
            return c->params[i].value;
    return NULL;
}

void kiln_registry_challenges_release(struct kiln_registry_challenges *list)
{
    for (size_t i = 0; i < list->n; i++)
        challenge_release(&list->v[i]);
    free(list->v);
    *list = (struct kiln_registry_challenges)KILN_REGISTRY_CHALLENGES_INIT;
}
