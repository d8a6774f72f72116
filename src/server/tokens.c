/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokens.c - access tokens: making them, listing and revoking them, and
 * checking the one a request carries.
 */
#include "tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "accounts.h"
#include "base/alloc.h"
#include "db.h"
#include "jwt.h"
#include "oci/json.h"
#include "ratelimit.h"
#include "scopes.h"

#include "base/banned.h"

#define SECRET_BYTES 32
#define HASH_HEX     64
#define ID_BYTES     (KILND_TOKEN_ID_LEN / 2)
#define ID_ATTEMPTS  8 /* fresh ids tried when one is taken */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void kilnd_principal_free(struct kilnd_principal *p)
{
    if (!p)
        return;
    free(p->name);
    kiln_strv_release(&p->scopes);
    free(p);
}

void kilnd_token_info_release(struct kilnd_token_info *t)
{
    free(t->owner);
    free(t->description);
    kiln_strv_release(&t->scopes);
    t->owner = t->description = NULL;
}

void kilnd_token_list_free(struct kilnd_token_info *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kilnd_token_info_release(&list[i]);
    free(list);
}

static int random_bytes(uint8_t *buf, size_t n, struct kiln_error **err)
{
    for (size_t got = 0; got < n;) {
        ssize_t k = getrandom(buf + got, n - got, 0);
        if (k < 0 && errno != EINTR)
            return kiln_error_set_errno(err, -errno, "getrandom");
        if (k > 0)
            got += (size_t)k;
    }
    return 0;
}

static void sha256_hex(const char *s, char out[HASH_HEX + 1])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    for (size_t i = 0; i < sizeof(md); i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Splits a token's form: kind and id; false when it is not one. */
static bool token_form(const char *t, bool *ret_is_org, char ret_id[KILND_TOKEN_ID_LEN + 1])
{
    if (strlen(t) != KILND_TOKEN_LEN)
        return false;
    bool org = strncmp(t, "kiln_oat_", 9) == 0;
    if (!org && strncmp(t, "kiln_pat_", 9) != 0)
        return false;
    const char *id = t + 9, *secret = id + KILND_TOKEN_ID_LEN + 1;
    for (size_t i = 0; i < KILND_TOKEN_ID_LEN; i++)
        if (!is_hex(id[i]))
            return false;
    if (id[KILND_TOKEN_ID_LEN] != '_')
        return false;
    for (size_t i = 0; i < KILND_TOKEN_SECRET_LEN; i++)
        if (!strchr(b64url, secret[i]))
            return false;
    *ret_is_org = org;
    memcpy(ret_id, id, KILND_TOKEN_ID_LEN);
    ret_id[KILND_TOKEN_ID_LEN] = '\0';
    return true;
}

static int make_token(bool is_org, char id[KILND_TOKEN_ID_LEN + 1], char **ret,
                      struct kiln_error **err)
{
    uint8_t raw[ID_BYTES + SECRET_BYTES];
    int r = random_bytes(raw, sizeof(raw), err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ID_BYTES; i++)
        snprintf(id + 2 * i, 3, "%02x", raw[i]);
    /* base64url without padding of 32 bytes: 43 characters */
    char *secret = kilnd_b64url_encode(raw + ID_BYTES, SECRET_BYTES);
    *ret = kiln_xasprintf("kiln_%s_%s_%s", is_org ? "oat" : "pat", id, secret);
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
    return 0;
}

static int check_description(const char *d, struct kiln_error **err)
{
    if (strlen(d) > KILND_TOKEN_DESCRIPTION_MAX)
        return kiln_error_set(err, KILN_E_INVALID, "description longer than %d bytes",
                              KILND_TOKEN_DESCRIPTION_MAX);
    for (const unsigned char *p = (const unsigned char *)d; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "description holds a control character: use plain text");
    return 0;
}

static char *join(const struct kiln_strv *v)
{
    size_t len = 1;
    for (size_t i = 0; i < v->n; i++)
        len += strlen(v->v[i]) + 1;
    char *s = kiln_xcalloc(1, len), *at = s;
    for (size_t i = 0; i < v->n; i++)
        at += snprintf(at, len - (size_t)(at - s), "%s%s", i ? "," : "", v->v[i]);
    return s;
}

static void split_into(struct kiln_strv *v, const char *list)
{
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        kiln_strv_pushn(v, p, n);
        p += n + (p[n] == ',');
    }
}

static int insert(struct kilnd_db *db, const struct kilnd_token_info *t, const char *hash,
                  struct kiln_error **err)
{
    _cleanup_free_ char *scopes = join(&t->scopes);
    return kilnd_db_run(db,
                        "INSERT INTO tokens (id, kind, owner, hash, scopes, description, created, "
                        "expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        "ttttttii", err, t->id, t->is_org ? "oat" : "pat", t->owner, hash, scopes,
                        t->description, t->created, t->expires);
}

int kilnd_token_create(struct kilnd_db *db, const char *owner, const char *scopes,
                       const char *description, int64_t expires, struct kilnd_token_info *ret_info,
                       char **ret_token, struct kiln_error **err)
{
    enum kilnd_account_kind kind;
    struct kilnd_token_info t = {.scopes = KILN_STRV_INIT};
    int r = kilnd_account_kind(db, owner, &kind, err);
    if (r >= 0)
        r = kilnd_scopes_parse(scopes, &t.scopes, err);
    if (r >= 0)
        r = check_description(description ? description : "", err);
    _cleanup_free_ char *token = NULL;
    t.is_org = kind == KILND_ACCOUNT_ORG;
    t.owner = kiln_xstrdup(owner);
    t.description = kiln_xstrdup(description ? description : "");
    t.created = kilnd_db_now();
    t.expires = expires;
    for (int i = 0; r >= 0 && i < ID_ATTEMPTS; i++) {
        free(token);
        token = NULL;
        r = make_token(t.is_org, t.id, &token, err);
        char hash[HASH_HEX + 1];
        if (r >= 0) {
            sha256_hex(token, hash);
            r = insert(db, &t, hash, err);
        }
        if (r != KILN_E_CONFLICT)
            break;
    }
    if (r < 0) {
        kilnd_token_info_release(&t);
        return r;
    }
    *ret_info = t;
    *ret_token = TAKE_PTR(token);
    return 0;
}

#define INFO_COLUMNS "id, kind, owner, scopes, description, created, expires, last_used, revoked"

static void info_from_row(sqlite3_stmt *st, struct kilnd_token_info *t)
{
    *t = (struct kilnd_token_info){
            .is_org = strcmp((const char *)sqlite3_column_text(st, 1), "oat") == 0,
            .owner = kiln_xstrdup((const char *)sqlite3_column_text(st, 2)),
            .scopes = KILN_STRV_INIT,
            .description = kiln_xstrdup((const char *)sqlite3_column_text(st, 4)),
            .created = sqlite3_column_int64(st, 5),
            .expires = sqlite3_column_int64(st, 6),
            .last_used = sqlite3_column_int64(st, 7),
            .revoked = sqlite3_column_int64(st, 8) != 0,
    };
    snprintf(t->id, sizeof(t->id), "%s", (const char *)sqlite3_column_text(st, 0));
    split_into(&t->scopes, (const char *)sqlite3_column_text(st, 3));
}

int kilnd_token_list(struct kilnd_db *db, const char *owner, struct kilnd_token_info **ret,
                     size_t *ret_n, struct kiln_error **err)
{
    enum kilnd_account_kind kind;
    int r = kilnd_account_kind(db, owner, &kind, err);
    if (r < 0)
        return r;
    _cleanup_(kilnd_db_finalizep) sqlite3_stmt *st = NULL;
    r = kilnd_db_prepare(db,
                         "SELECT " INFO_COLUMNS " FROM tokens WHERE owner = ? "
                         "ORDER BY created, id LIMIT ?",
                         "ti", &st, err, owner, (int64_t)KILND_TOKENS_LIST_MAX);
    struct kilnd_token_info *list = NULL;
    size_t n = 0, alloc = 0;
    while (r >= 0 && (r = kilnd_db_step(st, err)) > 0) {
        KILN_GROW(list, alloc, n + 1);
        info_from_row(st, &list[n++]);
    }
    if (r < 0) {
        kilnd_token_list_free(list, n);
        return r;
    }
    *ret = list;
    *ret_n = n;
    return 0;
}

int kilnd_token_revoke(struct kilnd_db *db, const char *id, struct kiln_error **err)
{
    int r = kilnd_db_run(db,
                         "UPDATE tokens SET revoked = CASE revoked WHEN 0 THEN ? ELSE revoked END "
                         "WHERE id = ?",
                         "it", err, kilnd_db_now(), id);
    if (r == 0)
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "no token '%s': kilnd admin token ls OWNER lists the tokens", id);
    return r < 0 ? r : 0;
}

/* Why a token was refused, for the log line (never shown to the client). */
enum refusal {
    REFUSE_MALFORMED,
    REFUSE_UNKNOWN,
    REFUSE_SECRET,
    REFUSE_EXPIRED,
    REFUSE_REVOKED,
    REFUSE_NAME,
    REFUSE_SCHEME,
};

static const char *const refusal_names[] = {
        [REFUSE_MALFORMED] = "malformed-token", [REFUSE_UNKNOWN] = "unknown-token",
        [REFUSE_SECRET] = "wrong-secret",       [REFUSE_EXPIRED] = "expired",
        [REFUSE_REVOKED] = "revoked",           [REFUSE_NAME] = "wrong-name",
        [REFUSE_SCHEME] = "bad-header",
};

static int invalid(struct kiln_error **err)
{
    return kiln_error_set(err, KILN_E_DENIED, "invalid access token");
}

static int check_row(sqlite3_stmt *st, const char *id, enum refusal *why, struct kiln_error **err)
{
    int64_t expires = sqlite3_column_int64(st, 6), now = kilnd_db_now();
    if (sqlite3_column_int64(st, 8) != 0) {
        *why = REFUSE_REVOKED;
        return kiln_error_set(err, KILN_E_DENIED, "token %s was revoked", id);
    }
    if (expires != 0 && expires <= now) {
        char date[32];
        struct tm tm;
        time_t t = (time_t)expires;
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
        *why = REFUSE_EXPIRED;
        return kiln_error_set(err, KILN_E_DENIED, "token %s expired on %s: create a new one", id,
                              date);
    }
    return 0;
}

static void touch(struct kilnd_db *db, const char *id)
{
    int64_t now = kilnd_db_now();
    (void)kilnd_db_run(db, "UPDATE tokens SET last_used = ? WHERE id = ? AND last_used <= ?", "iti",
                       NULL, now, id, now - KILND_TOKEN_TOUCH_S);
}

static int verify(struct kilnd_db *db, const char *token, struct kilnd_principal **ret,
                  enum refusal *why, struct kiln_error **err)
{
    bool is_org;
    char id[KILND_TOKEN_ID_LEN + 1];
    if (!token_form(token, &is_org, id)) {
        *why = REFUSE_MALFORMED;
        return invalid(err);
    }
    char hash[HASH_HEX + 1];
    sha256_hex(token, hash);
    _cleanup_(kilnd_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kilnd_db_prepare(db, "SELECT " INFO_COLUMNS ", hash FROM tokens WHERE id = ?", "t", &st,
                             err, id);
    if (r >= 0)
        r = kilnd_db_step(st, err);
    if (r < 0)
        return r;
    /* The same compare runs for an unknown id, against a hash nothing has. */
    const char *stored = r > 0 ? (const char *)sqlite3_column_text(st, 9) : NULL;
    static const char none[HASH_HEX + 1] = {0};
    bool equal = CRYPTO_memcmp(hash, stored && strlen(stored) == HASH_HEX ? stored : none,
                               HASH_HEX) == 0;
    if (!stored || !equal ||
        is_org != (strcmp((const char *)sqlite3_column_text(st, 1), "oat") == 0)) {
        *why = stored ? REFUSE_SECRET : REFUSE_UNKNOWN;
        return invalid(err);
    }
    r = check_row(st, id, why, err);
    if (r < 0)
        return r;
    struct kilnd_token_info t;
    info_from_row(st, &t);
    struct kilnd_principal *p = kiln_xcalloc(1, sizeof(*p));
    *p = (struct kilnd_principal){
            .name = TAKE_PTR(t.owner), .is_org = t.is_org, .scopes = t.scopes};
    memcpy(p->token_id, id, sizeof(p->token_id));
    t.scopes = (struct kiln_strv)KILN_STRV_INIT;
    kilnd_token_info_release(&t);
    sqlite3_reset(st);
    touch(db, id);
    *ret = p;
    return 0;
}

int kilnd_token_verify(struct kilnd_db *db, const char *token, struct kilnd_principal **ret,
                       struct kiln_error **err)
{
    enum refusal why;
    return verify(db, token, ret, &why, err);
}

int kilnd_auth_split(const char *h, char **ret_name, char **ret_token)
{
    if (strncasecmp(h, "Bearer ", 7) == 0) {
        *ret_name = NULL;
        *ret_token = kiln_xstrdup(h + 7 + strspn(h + 7, " "));
        return 1;
    }
    if (strncasecmp(h, "Basic ", 6) != 0)
        return 0;
    uint8_t *raw = NULL;
    size_t n = 0;
    if (!kiln_oci_base64_decode(h + 6 + strspn(h + 6, " "), &raw, &n))
        return -1;
    char *cred = raw ? kiln_xstrndup((const char *)raw, n) : NULL;
    char *colon = cred && strlen(cred) == n ? strchr(cred, ':') : NULL; /* no NUL inside */
    int r = colon ? 1 : -1;
    if (colon) {
        *colon = '\0';
        *ret_name = kiln_xstrdup(cred);
        *ret_token = kiln_xstrdup(colon + 1);
    }
    if (cred)
        explicit_bzero(cred, n);
    if (raw)
        explicit_bzero(raw, n);
    free(cred);
    free(raw);
    return r;
}

static int authenticate(struct kilnd_db *db, const char *h, struct kilnd_principal **ret,
                        enum refusal *why, struct kiln_error **err)
{
    *why = REFUSE_SCHEME;
    if (strlen(h) > KILND_AUTH_HEADER_MAX)
        return invalid(err);
    _cleanup_free_ char *name = NULL, *token = NULL;
    int s = kilnd_auth_split(h, &name, &token);
    if (s == 0)
        return kiln_error_set(err, KILN_E_DENIED,
                              "unsupported authorization: send Bearer TOKEN or Basic credentials");
    if (s < 0)
        return invalid(err);
    struct kilnd_principal *p = NULL;
    int r = verify(db, token, &p, why, err);
    if (r < 0)
        return r;
    if (name && strcmp(name, p->name) != 0) {
        kilnd_principal_free(p);
        *why = REFUSE_NAME;
        return invalid(err);
    }
    *ret = p;
    return 0;
}

int kilnd_auth_header(struct kilnd_db *db, struct kilnd_ratelimit *rl, const char *authorization,
                      const char *remote_ip, struct kilnd_principal **ret, struct kiln_error **err)
{
    int64_t wait = rl ? kilnd_ratelimit_blocked(rl, remote_ip, kilnd_ratelimit_now()) : 0;
    if (wait > 0)
        return kiln_error_set(err, KILN_E_LIMIT, "too many failed attempts from %s: wait %lld s",
                              remote_ip, (long long)wait);
    enum refusal why = REFUSE_SCHEME;
    int r = authenticate(db, authorization, ret, &why, err);
    if (r == KILN_E_DENIED) {
        if (rl)
            kilnd_ratelimit_failure(rl, remote_ip, kilnd_ratelimit_now());
        fprintf(stderr, "level=warn msg=\"authentication failed\" remote=%s reason=%s\n", remote_ip,
                refusal_names[why]);
    }
    return r;
}
