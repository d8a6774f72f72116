/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloud-http.h - kiln's HTTP client for kilnd (docs/internals/cloud-api.md,
 * docs/internals/client-cloud.md), over libcurl.
 *
 * A `struct kiln_cloud` is one connection's worth of state for one kilnd
 * endpoint: the base URL and the access token `kiln login` stored for it,
 * sent on every request as `Authorization: Bearer TOKEN`. It is used by one
 * thread at a time (open another one per thread).
 *
 * Every call maps a failed answer to a code and a message, the same way:
 *
 *   401                     KILN_E_DENIED "the token for HOST was refused (wrong,
 *                           expired or revoked): kiln login HOST again"
 *   403                     KILN_E_DENIED, the server's message (it names the scope)
 *   404                     KILN_E_NOTFOUND, the server's message
 *   400, 409, 413           KILN_E_INVALID, the server's message
 *   429, 503, other         KILN_E_UPSTREAM, the server's message
 *   no connection, TLS      KILN_E_UPSTREAM "cannot reach kilnd at URL: REASON"
 *   body past a cap         KILN_E_LIMIT
 *
 * "The server's message" is the "error" string of its JSON answer, with
 * control characters replaced, at most KILN_CLOUD_MESSAGE_MAX bytes; when
 * there is none, "kilnd answered METHOD PATH with HTTP STATUS". The token
 * never appears in a message, and requests are never logged.
 *
 * TLS is verified against the system's CAs, or the bundle $KILN_CA_CERT
 * names (for a kilnd with a self-signed certificate). Redirects are not
 * followed (the token would go along).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/cleanup.h"
#include "base/error.h"

/* The largest answer kiln_cloud_json() and kiln_cloud_upload() read. */
#define KILN_CLOUD_RESPONSE_MAX (64u * 1024 * 1024)
/* The longest line kiln_cloud_stream_lines() hands over. */
#define KILN_CLOUD_LINE_MAX (1024u * 1024)
/* The longest server message kept in an error. */
#define KILN_CLOUD_MESSAGE_MAX 1024u
/* How long connecting may take, in seconds. */
#define KILN_CLOUD_CONNECT_TIMEOUT 30L

struct kiln_cloud;

/*
 * Opens a client for `endpoint` ("http://127.0.0.1:8080", "https://kiln.example.com")
 * with the token stored for the endpoint's host[:port] in kiln's credentials
 * file (kiln_registry_credentials_get with kiln_registry_cred_key(endpoint)).
 * *ret is the caller's (kiln_cloud_free). KILN_E_DENIED "not logged in to
 * HOST: kiln login HOST" when none is stored; KILN_E_INVALID for an endpoint
 * that is not an http(s) URL; errors of the credentials file.
 */
int kiln_cloud_open(const char *endpoint, struct kiln_cloud **ret, struct kiln_error **err);

/* As kiln_cloud_open() with the token given (kiln login tries a token before storing it). */
int kiln_cloud_open_token(const char *endpoint, const char *token, struct kiln_cloud **ret,
                          struct kiln_error **err);

/* Zeroes the token and frees c; NULL is fine. */
void kiln_cloud_free(struct kiln_cloud *c);
KILN_DEFINE_CLEANUP(struct kiln_cloud, kiln_cloud_free)

/*
 * Limits every later request of c to `seconds` in all (0: no limit, the
 * default; connecting is always limited to KILN_CLOUD_CONNECT_TIMEOUT). A
 * request cut off by it fails with KILN_E_UPSTREAM.
 */
void kiln_cloud_set_timeout(struct kiln_cloud *c, long seconds);

/*
 * The HTTP status of c's last request (0 when no answer came), and in
 * *ret_kilnd_error (may be NULL) whether a failed answer was kilnd's
 * {"error": MESSAGE} (`kiln login` tells a kilnd that refuses a token from
 * a registry's proxy that refuses everything).
 */
long kiln_cloud_last_status(const struct kiln_cloud *c, bool *ret_kilnd_error);

/* The host[:port] c talks to, as messages name it (c's). */
const char *kiln_cloud_host(const struct kiln_cloud *c);

/*
 * `method` `path` ("/v1/whoami"; starts with '/') with `body` as JSON when
 * not NULL (borrowed: the caller keeps its reference). A 2xx answer is parsed
 * into *ret (the caller's; an empty answer is an empty object). Errors as
 * above; KILN_E_UPSTREAM when a 2xx answer is not JSON.
 */
int kiln_cloud_json(struct kiln_cloud *c, const char *method, const char *path, json_t *body,
                    json_t **ret, struct kiln_error **err);
/* The same with a body already written as JSON text (len bytes; NULL: no body). */
int kiln_cloud_json_text(struct kiln_cloud *c, const char *method, const char *path,
                         const char *text, size_t len, json_t **ret, struct kiln_error **err);

/*
 * PUT `path` with a body streamed from `read` (chunked transfer encoding,
 * Content-Type application/x-tar, Content-Encoding `content_encoding` when
 * not NULL). `read` fills up to n bytes of buf and returns how many, 0 at the
 * end, or a negative code after setting *err, which ends the upload with
 * that code and message. The answer is parsed as kiln_cloud_json() does.
 */
int kiln_cloud_upload(struct kiln_cloud *c, const char *path, const char *content_encoding,
                      ssize_t (*read)(void *ud, void *buf, size_t n, struct kiln_error **err),
                      void *ud, json_t **ret, struct kiln_error **err);

/*
 * GET `path`, whose answer is NDJSON, calling `line` once per line as it
 * arrives (without its "\n" or "\r\n"; an empty line is a heartbeat and is
 * passed on too; a last line without "\n" is passed at the end). Returns 0
 * when the server ends the answer; a negative return of `line` (which sets
 * *err) stops the stream and is returned. KILN_E_LIMIT for a line longer
 * than KILN_CLOUD_LINE_MAX; errors as above. No overall time limit unless
 * kiln_cloud_set_timeout() set one.
 */
int kiln_cloud_stream_lines(struct kiln_cloud *c, const char *path,
                            int (*line)(void *ud, const char *line, size_t len,
                                        struct kiln_error **err),
                            void *ud, struct kiln_error **err);

/*
 * GET `path` written to `fd` from its current offset; *ret_bytes (may be
 * NULL) is how many bytes were written. On failure fd may hold part of the
 * answer. -errno when writing fd fails; errors as above.
 */
int kiln_cloud_download(struct kiln_cloud *c, const char *path, int fd, uint64_t *ret_bytes,
                        struct kiln_error **err);

/*
 * The endpoint of a kilnd server as a user names it: a URL ("http://...",
 * "https://...") as it is, without a final '/'; a bare host[:port] is https,
 * except localhost, 127.0.0.0/8, [::1] and the hosts listed in
 * $KILN_INSECURE_REGISTRIES (comma-separated host or host:port), which are
 * http. Caller frees.
 */
char *kiln_cloud_endpoint_for(const char *server);
