/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token-service.h - kilnd as a distribution registry's token service
 * (docs/internals/token-service.md), free of HTTP: the API layer hands
 * GET /token and POST /token here and sends back the status and body.
 *
 *   GET  /token?service=S&scope=repository:NAME:pull,push[&offline_token=true]
 *        Basic NAME:TOKEN, or nothing (anonymous: public repositories only)
 *        → {"token","access_token","expires_in","issued_at"[,"refresh_token"]}
 *   POST /token  grant_type=password&username=NAME&password=TOKEN
 *                or grant_type=refresh_token&refresh_token=R, service=S,
 *                scope=... (space-separated), access_type=offline
 *        → {"access_token","expires_in","issued_at","scope"[,"refresh_token"]}
 *
 * The token's access list is what was asked for, intersected with what the
 * principal's scopes allow: an empty list is a valid answer (the registry
 * then refuses the operation).
 */
#pragma once

#include <stddef.h>

#include "base/error.h"

struct kilnd_db;
struct kilnd_ratelimit;
struct kilnd_token_service;

#define KILND_TOKEN_SCOPES_MAX   16       /* resource scopes one request asks for */
#define KILND_TOKEN_PARAM_MAX    4096     /* bytes of one parameter's value */
#define KILND_REFRESH_LIFETIME_S 31536000 /* a refresh token's lifetime when its token has none */

/* One query or form parameter. */
struct kilnd_kv {
    const char *key, *value;
};

/*
 * Opens the token service of data_dir: DATA/signing/config.json and the
 * signing keys. KILN_E_NOTFOUND (saying to run registry-config) when kilnd
 * is not configured as a token service. The caller frees *ret.
 */
int kilnd_token_service_open(const char *data_dir, struct kilnd_token_service **ret,
                             struct kiln_error **err);
void kilnd_token_service_free(struct kilnd_token_service *ts);

/*
 * Answers one request to /token. method is "GET" (params: the query) or
 * "POST" (params: the decoded form); `scope` may repeat. authorization is
 * the Authorization header or NULL. *ret_status gets the HTTP status: 200,
 * 400 (bad request, wrong service, a malformed scope), 401 (wrong, expired
 * or revoked credentials), 405 (another method) or 429 (too many failed
 * attempts from remote_ip); *ret_body_json the JSON body (the caller frees
 * it), {"error": MSG, "details": MSG} when not 200. Returns negative only
 * when kilnd itself failed (the database, the signing keys).
 */
int kilnd_token_service_handle(struct kilnd_token_service *ts, struct kilnd_db *db,
                               struct kilnd_ratelimit *rl, const char *method,
                               const char *authorization, const char *remote_ip,
                               const struct kilnd_kv *params, size_t n_params, int *ret_status,
                               char **ret_body_json, struct kiln_error **err);

/* The HOST[:PORT] of the registry that trusts this kilnd (registry-config --registry), or NULL. */
const char *kilnd_token_service_registry(struct kilnd_token_service *ts);

/*
 * A registry token for `subject` granting `actions` (KILND_ACTION_PULL |
 * KILND_ACTION_PUSH of scopes.h) on repository `repo`, signed now with
 * the current key and valid for KILND_TOKEN_LIFETIME_S. The caller frees
 * *ret_jwt. The caller has checked that subject may do so.
 */
int kilnd_token_service_mint(struct kilnd_token_service *ts, const char *subject, const char *repo,
                             unsigned actions, char **ret_jwt, struct kiln_error **err);
