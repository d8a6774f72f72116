/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokens.h - access tokens: `kiln_pat_<id>_<secret>` (a user's, personal)
 * and `kiln_oat_<id>_<secret>` (an organisation's). <id> is 12 lower-case
 * hex digits naming the row, <secret> 43 base64url characters (32 random
 * bytes). kilnd.db keeps sha256 of the whole token, never the token
 * (docs/internals/server-identity.md).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strv.h"

struct kilnd_db;
struct kilnd_ratelimit;

#define KILND_TOKEN_ID_LEN          12
#define KILND_TOKEN_SECRET_LEN      43
#define KILND_TOKEN_LEN             (9 + KILND_TOKEN_ID_LEN + 1 + KILND_TOKEN_SECRET_LEN)
#define KILND_TOKEN_DESCRIPTION_MAX 256
#define KILND_TOKENS_LIST_MAX       10000 /* rows one list returns at most */
#define KILND_AUTH_HEADER_MAX       1024  /* longer Authorization values are refused */
#define KILND_TOKEN_TOUCH_S         60    /* last_used is written at most this often */

/* Who a verified token speaks for. */
struct kilnd_principal {
    char *name;  /* the account or user that owns the token */
    bool is_org; /* an organisation's token (oat) */
    char token_id[KILND_TOKEN_ID_LEN + 1];
    struct kiln_strv scopes;
};
void kilnd_principal_free(struct kilnd_principal *p);
KILN_DEFINE_CLEANUP(struct kilnd_principal, kilnd_principal_free)

/* A token's row, without its hash. */
struct kilnd_token_info {
    char id[KILND_TOKEN_ID_LEN + 1];
    bool is_org; /* kind oat */
    char *owner;
    struct kiln_strv scopes;
    char *description;
    int64_t created, expires, last_used; /* seconds since the epoch; 0: never */
    bool revoked;
};
void kilnd_token_info_release(struct kilnd_token_info *t);
void kilnd_token_list_free(struct kilnd_token_info *list, size_t n);

/*
 * Makes a token for account `owner` (a user: personal; an organisation:
 * organisation token) with the comma list `scopes`, expiring at `expires`
 * (seconds since the epoch, 0 for never). ret_info gets its row (the
 * caller releases it), ret_token the token itself, which exists nowhere
 * else (the caller frees it). KILN_E_INVALID for a bad scope or
 * description, KILN_E_NOTFOUND for an unknown owner.
 */
int kilnd_token_create(struct kilnd_db *db, const char *owner, const char *scopes,
                       const char *description, int64_t expires, struct kilnd_token_info *ret_info,
                       char **ret_token, struct kiln_error **err);

/* The tokens of `owner`, oldest first (kilnd_token_list_free). */
int kilnd_token_list(struct kilnd_db *db, const char *owner, struct kilnd_token_info **ret,
                     size_t *ret_n, struct kiln_error **err);

/* Revokes token id. KILN_E_NOTFOUND naming it. */
int kilnd_token_revoke(struct kilnd_db *db, const char *id, struct kiln_error **err);

/*
 * Checks `token` and gives its principal (the caller frees it). Every
 * refusal is KILN_E_DENIED: "invalid access token" for an unknown id or a
 * wrong secret alike, "token ID expired on DATE: create a new one", "token
 * ID was revoked". Records the use (last_used, at most once a minute).
 */
int kilnd_token_verify(struct kilnd_db *db, const char *token, struct kilnd_principal **ret,
                       struct kiln_error **err);

/*
 * The parts of an Authorization header value: 1 for "Bearer TOKEN" (*ret_name
 * NULL) or "Basic base64(NAME:TOKEN)"; 0 for another scheme; -1 for Basic
 * credentials that do not decode to NAME:TOKEN. The caller frees both strings.
 */
int kilnd_auth_split(const char *authorization, char **ret_name, char **ret_token);

/*
 * Authenticates an Authorization header value: "Bearer TOKEN" or
 * "Basic base64(NAME:TOKEN)", NAME the token's owner. KILN_E_DENIED for
 * every refusal, KILN_E_LIMIT ("too many failed attempts from IP: wait N s")
 * while remote_ip is blocked by rl (NULL: no limit). Each failure counts
 * against remote_ip and is logged to stderr as one line
 * `level=warn msg="authentication failed" remote=IP reason=...` (never the token).
 */
int kilnd_auth_header(struct kilnd_db *db, struct kilnd_ratelimit *rl, const char *authorization,
                      const char *remote_ip, struct kilnd_principal **ret, struct kiln_error **err);
