/* SPDX-License-Identifier: Apache-2.0 */
/*
 * internal.h - shared by the files of src/registry only: the client, one
 * HTTP exchange (http.c), the authenticated request (auth.c), and the
 * checks of names that go into URLs (registry.c).
 */
#pragma once

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/buf.h"
#include "base/limits.h"
#include "base/strv.h"
#include "challenge.h"
#include "registry.h"

struct kiln_registry_token {
    char *scope;
    char *token;
    struct timespec expires; /* CLOCK_MONOTONIC */
};

enum kiln_registry_auth {
    KILN_REGISTRY_AUTH_UNKNOWN, /* no challenge seen yet */
    KILN_REGISTRY_AUTH_NONE,    /* a challenge of a scheme we cannot answer */
    KILN_REGISTRY_AUTH_BASIC,
    KILN_REGISTRY_AUTH_BEARER,
};

struct kiln_registry_client {
    CURL *curl;
    char *domain; /* as references name it: "docker.io", "127.0.0.1:5000" */
    char *host;   /* what is spoken to: "registry-1.docker.io" */
    char *origin; /* "https://registry-1.docker.io:443": where credentials may go */
    char *base;   /* "https://registry-1.docker.io" */
    bool plain_http;
    struct kiln_registry_cred *cred; /* NULL: anonymous */
    long connect_timeout_s;
    long low_speed_time_s;
    long request_timeout_s;
    size_t chunk_size;
    /* What the registry asked for, learnt from its last 401. */
    enum kiln_registry_auth auth;
    char *realm;
    char *service;
    struct kiln_registry_token *tokens;
    size_t n_tokens;
    size_t alloc_tokens;
    char errbuf[CURL_ERROR_SIZE];
};

/*
 * One HTTP request. POST, PUT and PATCH send body_len bytes from read(), or
 * from `body` (which auth.c can send again after a 401).
 */
struct kiln_registry_request {
    const char *method; /* GET HEAD POST PUT PATCH */
    const char *url;    /* absolute */
    const char *scope;  /* token scopes, space separated; NULL: none */
    const char *const *headers;
    kiln_registry_read_fn *read; /* NULL: the bytes at `body` */
    void *read_data;
    const void *body;
    uint64_t body_len;
    kiln_registry_write_fn *sink; /* a 2xx body; NULL: discarded */
    void *sink_data;
    bool follow;     /* follow redirects (GET, HEAD) */
    bool accept_404; /* 404 is an answer, not an error */
    long timeout_s;  /* the whole request; 0: no limit */
    /* Set by auth.c: what proves who we are, sent only to auth_origin. */
    const char *auth_origin;
    const struct kiln_registry_cred *basic;
    const char *bearer;
};

struct kiln_registry_response {
    long status;
    char *url;      /* the last URL requested (after redirects) */
    char *location; /* resolved against url; NULL when none */
    char *content_type;
    char *digest; /* Docker-Content-Digest */
    char *range;
    int64_t content_length;        /* -1 when not sent */
    struct kiln_strv authenticate; /* WWW-Authenticate values */
    struct kiln_buf error_body;    /* a non-2xx body, cut at KILN_REGISTRY_ERROR_BODY_MAX */
    uint64_t sent;
};

#define KILN_REGISTRY_RESPONSE_INIT                                                               \
    {                                                                                             \
        .authenticate = KILN_STRV_INIT, .error_body = KILN_BUF_INIT(KILN_REGISTRY_ERROR_BODY_MAX) \
    }

void kiln_registry_response_release(struct kiln_registry_response *rs);
static inline void kiln_registry_response_releasep(struct kiln_registry_response *rs)
{
    kiln_registry_response_release(rs);
}
#define _cleanup_response_ _cleanup_(kiln_registry_response_releasep)

/*
 * http.c: one exchange, following redirects when rq->follow. Returns 0 when
 * a response arrived (whatever its status; rs filled), else the transport,
 * sink or read failure with "METHOD PATH: " before the message.
 */
int kiln_registry_http_do(struct kiln_registry_client *c, const struct kiln_registry_request *rq,
                          struct kiln_registry_response *rs, struct kiln_error **err);

/*
 * http.c: the error for a response that is not a success: the status, the
 * registry's {"errors": [...]} codes and messages, and `hint` when not NULL,
 * after "METHOD PATH: ". KILN_E_AUTH, KILN_E_DENIED, KILN_E_NOTFOUND,
 * KILN_E_LIMIT (413, 429) or KILN_E_UPSTREAM.
 */
int kiln_registry_http_status_error(const struct kiln_registry_request *rq,
                                    const struct kiln_registry_response *rs, const char *hint,
                                    struct kiln_error **err);

/* http.c: prefixes *err with "METHOD PATH" of rq (no query, no credentials); returns r. */
int kiln_registry_http_wrap(const struct kiln_registry_request *rq, int r, struct kiln_error **err);

/* http.c: "scheme://host:port" of an absolute http(s) URL, or NULL. Caller frees. */
char *kiln_registry_url_origin(const char *url);

/* http.c: the host of an absolute URL (IPv6 in brackets), or NULL. Caller frees. */
char *kiln_registry_url_host(const char *url);

/*
 * http.c: is `host` (from a URL; IPv6 in brackets) "localhost" or a
 * loopback, private, link-local or unspecified address? Names are not
 * resolved.
 */
bool kiln_registry_host_private(const char *host);

/* http.c: a kiln_registry_write_fn appending to the struct kiln_buf `data`; KILN_E_LIMIT at its
 * cap. */
int kiln_registry_buf_sink(void *data, const void *p, size_t n, struct kiln_error **err);

/*
 * auth.c: rq with the client's credentials: Basic, or a Bearer token for
 * rq->scope from the cache or the token server; after a 401 it learns the
 * challenge and tries once more. Returns 0 for a 2xx (and a 404 with
 * accept_404), else kiln_registry_http_status_error()'s code; a 3xx without
 * rq->follow is a success too (the caller reads rs->location).
 */
int kiln_registry_request(struct kiln_registry_client *c, const struct kiln_registry_request *rq,
                          struct kiln_registry_response *rs, struct kiln_error **err);

/* auth.c: forgets the cached tokens (zeroed). */
void kiln_registry_tokens_clear(struct kiln_registry_client *c);

/* client.c: c->base + the formatted path. Caller frees. */
char *kiln_registry_url(const struct kiln_registry_client *c, const char *fmt, ...) _printf_(2, 3);

/*
 * credentials.c: reads the whole file at `path` into out (capped at out->max:
 * KILN_E_LIMIT). -ENOENT without a message when it does not exist.
 */
int kiln_registry_read_file(const char *path, struct kiln_buf *out, struct kiln_error **err);

/*
 * credentials.c: the credentials in one "auths" entry of `file`: base64
 * "auth" (user:password), "username" and "password", "identitytoken".
 * Returns 1 and *ret, or 0 when the entry holds none. KILN_E_INVALID naming
 * the file and the key, never a value.
 */
int kiln_registry_cred_from_json(const json_t *entry, const char *file,
                                 struct kiln_registry_cred **ret, struct kiln_error **err);

/* credentials.c: a JSON document from `len` bytes; messages name `file`, never its text. */
int kiln_registry_json_parse(const char *file, const char *text, size_t len, json_t **ret,
                             struct kiln_error **err);

/*
 * credentials.c: a file written beside `path` (0600) that replaces it only
 * when committed: kiln_registry_tmpfile_commit() fsyncs and renames;
 * kiln_registry_tmpfile_release() removes an uncommitted one.
 */
struct kiln_registry_tmpfile {
    char *path;
    char *tmp; /* NULL once committed */
    int fd;
};
int kiln_registry_tmpfile_open(struct kiln_registry_tmpfile *t, const char *path,
                               struct kiln_error **err);
int kiln_registry_tmpfile_commit(struct kiln_registry_tmpfile *t, struct kiln_error **err);
void kiln_registry_tmpfile_release(struct kiln_registry_tmpfile *t);

/* credentials.c: writes all n bytes, retrying short writes. 0 or -errno. */
int kiln_registry_write_all(int fd, const void *p, size_t n);

/* registry.c: KILN_E_INVALID unless repo is a repository path of reference.h's grammar. */
int kiln_registry_check_repo(const char *repo, struct kiln_error **err);

/*
 * registry.c: KILN_E_INVALID unless s is a tag or a valid digest of a
 * registered algorithm; returns 1 for a digest, 0 for a tag.
 */
int kiln_registry_check_reference(const char *s, struct kiln_error **err);

/* registry.c: KILN_E_INVALID unless s is a valid digest of a registered algorithm (not a tag). */
int kiln_registry_check_digest(const char *s, struct kiln_error **err);

/* registry.c: the algorithm of a valid digest ("sha384:..."). */
enum kiln_oci_digest_algo kiln_registry_digest_algo(const char *digest);

/*
 * blob.c: HEAD /v2/<repo>/blobs/<digest> under token scope `scope`: 1 and
 * the size (-1 when not sent) when present, 0 when not.
 */
int kiln_registry_blob_head(struct kiln_registry_client *c, const char *repo, const char *digest,
                            const char *scope, int64_t *ret_size, struct kiln_error **err);

/*
 * upload.c: POST /v2/<repo>/blobs/uploads/, with ?mount=<digest>&from=<from>
 * when `from` is set. Returns 1 when the blob was mounted, else 0 and the
 * upload's location in *ret_location (caller frees).
 */
int kiln_registry_upload_start(struct kiln_registry_client *c, const char *repo, const char *scope,
                               const char *digest, const char *from, char **ret_location,
                               struct kiln_error **err);

/* upload.c: PUT <location>&digest=<digest> with the whole body from read(); adds to *sent. */
int kiln_registry_upload_monolithic(struct kiln_registry_client *c, const char *location,
                                    const char *scope, const char *digest, int64_t size,
                                    kiln_registry_read_fn *read, void *data, uint64_t *sent,
                                    struct kiln_error **err);

/*
 * upload.c: PATCHes of c->chunk_size bytes from read(), then an empty PUT
 * with the digest, which the data read must have (else KILN_E_INVALID and no
 * PUT). Adds to *sent.
 */
int kiln_registry_upload_chunked(struct kiln_registry_client *c, const char *location,
                                 const char *scope, const char *digest, int64_t size,
                                 kiln_registry_read_fn *read, void *data, uint64_t *sent,
                                 struct kiln_error **err);

/* registry.c: "repository:<repo>:<actions>". Caller frees. */
char *kiln_registry_scope(const char *repo, const char *actions);
