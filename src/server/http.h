/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.h - kilnd's HTTP server: libmicrohttpd behind a small interface of
 * routes, requests and responses (docs/internals/server.md).
 *
 * A route names a method, a path pattern (a star stands for one segment:
 * "/v1/builds/STAR/events") and what the body is: none, JSON held in memory (up to
 * a cap), or spooled to an unlinked temporary file (uploads). The route's
 * `accept` runs once the headers are in, before any body is read (so a
 * refused request costs no disk), and `handle` once the body is complete.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

#define KILND_HTTP_SEGMENTS_MAX 8
#define KILND_HTTP_JSON_MAX     (64u * 1024 * 1024) /* a JSON body */
#define KILND_HTTP_SPOOL_MAX    (64ull << 30)       /* an upload */
#define KILND_HTTP_PARAMS_MAX   64                  /* query or form parameters kept */

enum kilnd_body { KILND_BODY_NONE, KILND_BODY_JSON, KILND_BODY_FORM, KILND_BODY_SPOOL };

struct kilnd_http_param {
    const char *key, *value;
};

struct kilnd_http_request {
    const char *method;
    const char *path;
    const char *remote_ip;
    const char *seg[KILND_HTTP_SEGMENTS_MAX]; /* what each `*` of the pattern took, in order */
    size_t n_seg;
    json_t *json;   /* KILND_BODY_JSON: the parsed body (NULL when empty) */
    int spool_fd;   /* KILND_BODY_SPOOL: the body, read from offset 0; -1 otherwise */
    uint64_t bytes; /* body bytes received */
    struct kilnd_http_param params[KILND_HTTP_PARAMS_MAX]; /* query (GET) or form (POST form) */
    size_t n_params;
    void *conn; /* the connection, for kilnd_http_header() */
    char *form; /* KILND_BODY_FORM: the raw body, decoded into params */
};

/* A streamed body: called for the next bytes; returns how many it wrote into
 * buf (blocking until there are some), 0 at the end, -1 on an error. */
typedef ssize_t (*kilnd_http_stream_fn)(void *ud, uint64_t pos, char *buf, size_t max);

struct kilnd_http_response {
    int status;
    const char *content_type; /* static; NULL: application/json */
    char *body;               /* malloc'd, or NULL */
    size_t len;
    bool has_file; /* instead of body: file_fd (closed when sent) */
    int file_fd;
    uint64_t file_size;
    kilnd_http_stream_fn stream; /* instead of body: chunked */
    void *stream_ud;
    void (*stream_free)(void *ud);
    void (*stream_abort)(void *ud); /* optional: the client went away before the end */
    const char *www_authenticate;   /* static; a 401's challenge */
};

/* The value of request header `name`, or NULL. */
const char *kilnd_http_header(const struct kilnd_http_request *rq, const char *name);
/* The first parameter named `key`, or NULL. */
const char *kilnd_http_param(const struct kilnd_http_request *rq, const char *key);

/* Responses: JSON (takes the reference), an error {"error": msg}, plain text. */
void kilnd_http_json(struct kilnd_http_response *rs, int status, json_t *j);
void kilnd_http_error(struct kilnd_http_response *rs, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void kilnd_http_text(struct kilnd_http_response *rs, int status, const char *content_type,
                     char *body);
/* The HTTP status a kiln error code maps to (400, 401, 403, 404, 409, 413, 429, 502, 500...). */
int kilnd_http_status(int r);
/* An error response for r with e's message. */
void kilnd_http_fail(struct kilnd_http_response *rs, int r, const struct kiln_error *e);

struct kilnd_route {
    const char *method;
    const char *pattern;
    enum kilnd_body body;
    /* Optional: may answer now (rs->status set) to refuse before the body is read. */
    void (*accept)(void *app, struct kilnd_http_request *rq, struct kilnd_http_response *rs);
    void (*handle)(void *app, struct kilnd_http_request *rq, struct kilnd_http_response *rs);
};

struct kilnd_http_options {
    const char *listen;             /* "ADDR:PORT" ("127.0.0.1:0" picks a port) */
    const char *tls_cert, *tls_key; /* PEM files; NULL: plain HTTP */
    const char *spool_dir;          /* where uploads are spooled (O_TMPFILE) */
    const struct kilnd_route *routes;
    size_t n_routes;
    void *app;
    /* Called once per request with its outcome, for logs and metrics. */
    void (*observe)(void *app, const struct kilnd_http_request *rq, int status, uint64_t sent,
                    int64_t ns);
};

struct kilnd_http;

/* Starts serving (a thread per connection). *ret_port: the port bound. */
int kilnd_http_start(const struct kilnd_http_options *o, struct kilnd_http **ret,
                     uint16_t *ret_port, struct kiln_error **err);
/* Stops accepting new connections (open ones finish). */
void kilnd_http_quiesce(struct kilnd_http *h);
/* Stops and frees; NULL is fine. */
void kilnd_http_stop(struct kilnd_http *h);
