/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c - kilnd's HTTP server over libmicrohttpd, a thread per connection
 * (docs/internals/server.md).
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/cleanup.h"

#include "base/banned.h"

#define CONNECTIONS_MAX 512
#define IDLE_TIMEOUT_S  600
#define FILE_MAX        (1u << 20) /* a TLS certificate or key file */
#define STREAM_BLOCK    (64u * 1024)
#define FORM_MAX        (64u * 1024)

struct kilnd_http {
    struct MHD_Daemon *d;
    struct kilnd_http_options o;
    char *cert, *key;
};

struct conn {
    struct kilnd_http *h;
    const struct kilnd_route *route;
    struct kilnd_http_request rq;
    struct kilnd_http_response rs;
    char *path;
    char remote[64];
    struct kiln_buf body;
    bool answered, too_large;
    int64_t start_ns;
    uint64_t sent;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Responses */

void kilnd_http_json(struct kilnd_http_response *rs, int status, json_t *j)
{
    rs->status = status;
    rs->content_type = "application/json";
    free(rs->body);
    rs->body = json_dumps(j, JSON_COMPACT);
    rs->len = rs->body ? strlen(rs->body) : 0;
    json_decref(j);
}

void kilnd_http_error(struct kilnd_http_response *rs, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    kilnd_http_json(rs, status, json_pack("{s:s}", "error", msg ? msg : "internal error"));
    free(msg);
}

void kilnd_http_text(struct kilnd_http_response *rs, int status, const char *content_type,
                     char *body)
{
    rs->status = status;
    rs->content_type = content_type;
    free(rs->body);
    rs->body = body;
    rs->len = body ? strlen(body) : 0;
}

int kilnd_http_status(int r)
{
    switch (r) {
    case KILN_E_INVALID: return 400;
    case KILN_E_AUTH: return 401;
    case KILN_E_DENIED: return 403;
    case KILN_E_NOTFOUND: return 404;
    case KILN_E_CONFLICT: return 409;
    case KILN_E_LIMIT: return 413;
    case KILN_E_UPSTREAM: return 502;
    case KILN_E_CANCELLED: return 409;
    case KILN_E_TIMEOUT: return 504;
    default: return 500;
    }
}

void kilnd_http_fail(struct kilnd_http_response *rs, int r, const struct kiln_error *e)
{
    kilnd_http_error(rs, kilnd_http_status(r), "%s", kiln_error_message(e, r));
}

const char *kilnd_http_header(const struct kilnd_http_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *kilnd_http_param(const struct kilnd_http_request *rq, const char *key)
{
    for (size_t i = 0; i < rq->n_params; i++)
        if (strcmp(rq->params[i].key, key) == 0)
            return rq->params[i].value;
    return NULL;
}

/* Routing */

/* Matches path against pattern; fills seg with what each `*` took (pointers into `copy`). */
static bool match(const char *pattern, char *copy, struct kilnd_http_request *rq)
{
    const char *p = pattern;
    char *s = copy;
    rq->n_seg = 0;
    while (*p && *s) {
        if (*p == '*') {
            if (*s == '/' || rq->n_seg == KILND_HTTP_SEGMENTS_MAX)
                return false;
            rq->seg[rq->n_seg++] = s;
            while (*s && *s != '/')
                s++;
            p++;
            if (*s && *p != '/')
                return false;
            if (*s) {
                *s++ = '\0';
                p++;
            }
            continue;
        }
        if (*p++ != *s++)
            return false;
    }
    return !*p && !*s;
}

static const struct kilnd_route *route_find(struct conn *c, const char *method, bool *ret_other)
{
    const struct kilnd_http_options *o = &c->h->o;
    *ret_other = false;
    for (size_t i = 0; i < o->n_routes; i++) {
        free(c->path);
        c->path = kiln_xstrdup(c->rq.path);
        if (!match(o->routes[i].pattern, c->path, &c->rq))
            continue;
        if (strcmp(o->routes[i].method, method) == 0)
            return &o->routes[i];
        *ret_other = true;
    }
    return NULL;
}

static enum MHD_Result add_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    struct kilnd_http_request *rq = cls;
    if (rq->n_params < KILND_HTTP_PARAMS_MAX)
        rq->params[rq->n_params++] = (struct kilnd_http_param){key, value ? value : ""};
    return MHD_YES;
}

static int unhex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes an application/x-www-form-urlencoded body in place into params. */
static void decode_form(struct kilnd_http_request *rq, char *s)
{
    rq->form = s;
    for (char *save = NULL, *pair = strtok_r(s, "&", &save); pair;
         pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        if (eq)
            *eq++ = '\0';
        for (char *f = pair; f; f = f == pair ? eq : NULL) {
            char *w = f;
            for (char *r = f; *r; r++) {
                if (*r == '+')
                    *w++ = ' ';
                else if (*r == '%' && unhex(r[1]) >= 0 && unhex(r[2]) >= 0) {
                    *w++ = (char)(unhex(r[1]) * 16 + unhex(r[2]));
                    r += 2;
                } else
                    *w++ = *r;
            }
            *w = '\0';
        }
        if (rq->n_params < KILND_HTTP_PARAMS_MAX)
            rq->params[rq->n_params++] = (struct kilnd_http_param){pair, eq ? eq : ""};
    }
}

/* Connection handling */

static void remote_ip(struct MHD_Connection *mc, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(buf, len, "unknown");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
                  (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
                  (socklen_t)len);
}

/* libmicrohttpd's own messages, in kilnd's log format. */
static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '.'))
        msg[--n] = '\0';
    for (char *p = msg; *p; p++)
        if (*p == '"')
            *p = '\'';
    fprintf(stderr, "level=warn msg=\"http: %s\"\n", msg);
}

static struct conn *conn_new(struct kilnd_http *h, struct MHD_Connection *mc, const char *url,
                             const char *method)
{
    struct conn *c = kiln_xcalloc(1, sizeof(*c));
    c->h = h;
    c->start_ns = now_ns();
    c->rq.method = method;
    c->rq.path = url;
    c->rq.conn = mc;
    c->rq.spool_fd = -1;
    c->rq.remote_ip = c->remote;
    c->body = (struct kiln_buf)KILN_BUF_INIT(KILND_HTTP_JSON_MAX);
    remote_ip(mc, c->remote, sizeof(c->remote));
    MHD_get_connection_values(mc, MHD_GET_ARGUMENT_KIND, add_param, &c->rq);
    bool other;
    c->route = route_find(c, method, &other);
    if (!c->route) {
        c->answered = true;
        if (other)
            kilnd_http_error(&c->rs, 405, "%s is not allowed on %s", method, url);
        else
            kilnd_http_error(&c->rs, 404, "no such endpoint: %s", url);
        return c;
    }
    if (c->route->accept) {
        c->route->accept(h->o.app, &c->rq, &c->rs);
        c->answered = c->rs.status != 0;
    }
    if (!c->answered && c->route->body == KILND_BODY_SPOOL) {
        c->rq.spool_fd = open(h->o.spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (c->rq.spool_fd < 0) {
            c->answered = true;
            kilnd_http_error(&c->rs, 500, "cannot spool the upload in %s: %s", h->o.spool_dir,
                             strerror(errno));
        }
    }
    return c;
}

static void take_body(struct conn *c, const char *data, size_t n)
{
    c->rq.bytes += n;
    if (c->answered)
        return;
    enum kilnd_body kind = c->route->body;
    if (kind == KILND_BODY_NONE || c->too_large)
        return;
    if (kind == KILND_BODY_SPOOL) {
        if (c->rq.bytes > KILND_HTTP_SPOOL_MAX) {
            c->too_large = true;
            return;
        }
        while (n > 0) {
            ssize_t w = write(c->rq.spool_fd, data, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                c->answered = true;
                kilnd_http_error(&c->rs, 507, "cannot store the upload: %s", strerror(errno));
                return;
            }
            data += w;
            n -= (size_t)w;
        }
        return;
    }
    if ((kind == KILND_BODY_FORM && c->body.len + n > FORM_MAX) ||
        kiln_buf_add(&c->body, data, n) < 0)
        c->too_large = true;
}

static void finish_body(struct conn *c)
{
    if (c->answered)
        return;
    if (c->too_large) {
        c->answered = true;
        kilnd_http_error(&c->rs, 413, "the request body is too large (at most %llu bytes)",
                         c->route->body == KILND_BODY_SPOOL ? KILND_HTTP_SPOOL_MAX
                         : c->route->body == KILND_BODY_FORM
                                 ? (unsigned long long)FORM_MAX
                                 : (unsigned long long)KILND_HTTP_JSON_MAX);
        return;
    }
    if (c->route->body == KILND_BODY_JSON && c->body.len) {
        json_error_t je;
        c->rq.json = json_loadb(c->body.buf, c->body.len, JSON_REJECT_DUPLICATES, &je);
        if (!c->rq.json || !json_is_object(c->rq.json)) {
            c->answered = true;
            kilnd_http_error(&c->rs, 400, "the request body is not a JSON object: %s",
                             c->rq.json ? "another JSON value" : je.text);
        }
    } else if (c->route->body == KILND_BODY_FORM) {
        c->rq.n_params = 0;
        decode_form(&c->rq, kiln_xstrndup(c->body.buf ? c->body.buf : "", c->body.len));
    } else if (c->route->body == KILND_BODY_SPOOL && lseek(c->rq.spool_fd, 0, SEEK_SET) < 0) {
        c->answered = true;
        kilnd_http_error(&c->rs, 500, "cannot read the spooled upload back");
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct conn *c = cls;
    ssize_t n = c->rs.stream(c->rs.stream_ud, pos, buf, max);
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    c->sent += (uint64_t)n;
    return n;
}

static enum MHD_Result respond(struct conn *c, struct MHD_Connection *mc)
{
    struct kilnd_http_response *rs = &c->rs;
    struct MHD_Response *r;
    if (rs->has_file) {
        r = MHD_create_response_from_fd64(rs->file_size, rs->file_fd);
        rs->has_file = false;
        c->sent = rs->file_size;
    } else if (rs->stream) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, c, NULL);
    } else {
        r = MHD_create_response_from_buffer(rs->len, rs->body ? rs->body : (char *)"",
                                            rs->body ? MHD_RESPMEM_MUST_FREE
                                                     : MHD_RESPMEM_PERSISTENT);
        c->sent = rs->len;
        rs->body = NULL;
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            rs->content_type ? rs->content_type : "application/json");
    if (rs->www_authenticate)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, rs->www_authenticate);
    enum MHD_Result ok = MHD_queue_response(mc, (unsigned)(rs->status ? rs->status : 500), r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct conn *c = *con_cls;
    if (!c) {
        *con_cls = conn_new(cls, mc, url, method);
        return MHD_YES;
    }
    if (*upload_data_size) {
        take_body(c, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    finish_body(c);
    if (!c->answered) {
        c->route->handle(c->h->o.app, &c->rq, &c->rs);
        if (!c->rs.status)
            kilnd_http_error(&c->rs, 500, "the request was not answered");
    }
    return respond(c, mc);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct kilnd_http *h = cls;
    struct conn *c = *con_cls;
    if (!c)
        return;
    if (h->o.observe && c->rq.path)
        h->o.observe(h->o.app, &c->rq, c->rs.status, c->sent, now_ns() - c->start_ns);
    if (c->rs.has_file)
        close(c->rs.file_fd);
    if (c->rs.stream_abort && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        c->rs.stream_abort(c->rs.stream_ud);
    if (c->rs.stream_free)
        c->rs.stream_free(c->rs.stream_ud);
    free(c->rs.body);
    json_decref(c->rq.json);
    if (c->rq.spool_fd >= 0)
        close(c->rq.spool_fd);
    free(c->rq.form);
    free(c->path);
    kiln_buf_release(&c->body);
    free(c);
    *con_cls = NULL;
}

/* Starting and stopping */

static int read_pem(const char *path, char **ret, struct kiln_error **err)
{
    struct kiln_buf b = KILN_BUF_INIT(FILE_MAX);
    int r = kiln_buf_read_file(&b, path);
    if (r < 0) {
        kiln_buf_release(&b);
        return kiln_error_set_errno(err, r, "cannot read '%s'", path);
    }
    *ret = kiln_xstrndup(b.buf, b.len);
    kiln_buf_release(&b);
    return 0;
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, struct kiln_error **err)
{
    _cleanup_free_ char *host = kiln_xstrdup(listen);
    char *colon = strrchr(host, ':');
    char *end = NULL;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (!colon || !end || *end || end == colon + 1 || port > 65535)
        return kiln_error_set(err, KILN_E_INVALID,
                              "--listen '%s': use ADDR:PORT, e.g. 127.0.0.1:8080 or [::]:8080",
                              listen);
    *colon = '\0';
    char *h = host;
    if (*h == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
    if (!*h || strcmp(h, "0.0.0.0") == 0 || inet_pton(AF_INET, h, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return kiln_error_set(err, KILN_E_INVALID,
                          "--listen '%s': '%s' is not an IP address (names are not resolved)",
                          listen, h);
}

int kilnd_http_start(const struct kilnd_http_options *o, struct kilnd_http **ret,
                     uint16_t *ret_port, struct kiln_error **err)
{
    struct sockaddr_storage ss;
    int r = parse_listen(o->listen, &ss, err);
    if (r < 0)
        return r;
    struct kilnd_http *h = kiln_xcalloc(1, sizeof(*h));
    h->o = *o;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (o->tls_cert) {
        if ((r = read_pem(o->tls_cert, &h->cert, err)) < 0 ||
            (r = read_pem(o->tls_key, &h->key, err)) < 0) {
            kilnd_http_stop(h);
            return r;
        }
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem tls[] = {
            {MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert},
            {MHD_OPTION_HTTPS_MEM_KEY, 0, h->key},
            {MHD_OPTION_END, 0, NULL},
    };
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                            MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL, MHD_OPTION_ARRAY,
                            o->tls_cert ? tls : tls + 2, MHD_OPTION_END);
    if (!h->d) {
        kilnd_http_stop(h);
        return kiln_error_set(
                err, -EADDRINUSE, "cannot listen on %s (in use, or not an address of this host%s)",
                o->listen, o->tls_cert ? ", or the TLS certificate or key is bad" : "");
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    if (ret_port)
        *ret_port = di ? di->port : 0;
    *ret = h;
    return 0;
}

void kilnd_http_quiesce(struct kilnd_http *h)
{
    if (h && h->d) {
        MHD_socket s = MHD_quiesce_daemon(h->d);
        if (s != MHD_INVALID_SOCKET)
            close(s);
    }
}

void kilnd_http_stop(struct kilnd_http *h)
{
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    free(h->cert);
    free(h->key);
    free(h);
}
