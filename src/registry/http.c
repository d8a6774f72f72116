/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c - one HTTP exchange over the client's CURL handle: options reset
 * for each request, response headers and bodies through callbacks with caps,
 * redirects followed here (not by libcurl) so that credentials only go to
 * the origin they belong to, and the registry's error bodies turned into
 * messages.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "internal.h"
#include "kiln-version.h"

#include "base/banned.h"

struct xfer {
    const struct kiln_registry_request *rq;
    struct kiln_registry_response *rs;
    uint64_t read_left;
    int r; /* the first failure of a callback, with its message in *err */
    struct kiln_error **err;
};

static void reset_headers(struct kiln_registry_response *rs)
{
    free(rs->location);
    free(rs->content_type);
    free(rs->digest);
    free(rs->range);
    rs->location = rs->content_type = rs->digest = rs->range = NULL;
    rs->content_length = -1;
    kiln_strv_release(&rs->authenticate);
}

void kiln_registry_response_release(struct kiln_registry_response *rs)
{
    reset_headers(rs);
    free(rs->url);
    rs->url = NULL;
    kiln_buf_release(&rs->error_body);
    rs->status = 0;
    rs->sent = 0;
}

static void set_field(char **field, const char *v, size_t n)
{
    free(*field);
    *field = kiln_xstrndup(v, n);
}

static void header_line(struct kiln_registry_response *rs, const char *p, size_t len)
{
    const char *colon = memchr(p, ':', len), *end = p + len;
    if (!colon)
        return;
    size_t klen = (size_t)(colon - p);
    const char *v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
#define IS(name) (klen == sizeof(name) - 1 && strncasecmp(p, name, klen) == 0)
    if (IS("location"))
        set_field(&rs->location, v, vlen);
    else if (IS("content-type"))
        set_field(&rs->content_type, v, vlen);
    else if (IS("docker-content-digest"))
        set_field(&rs->digest, v, vlen);
    else if (IS("content-length"))
        rs->content_length = vlen ? strtoll(v, NULL, 10) : -1;
    else if (IS("range"))
        set_field(&rs->range, v, vlen);
    else if (IS("www-authenticate") && rs->authenticate.n < KILN_REGISTRY_CHALLENGES_MAX)
        kiln_strv_pushn(&rs->authenticate, v, vlen);
#undef IS
}

static size_t header_cb(char *p, size_t size, size_t n, void *data)
{
    struct xfer *x = data;
    size_t len = size * n;
    if (len > KILN_REGISTRY_HEADER_MAX) {
        x->r = kiln_error_set(x->err, KILN_E_LIMIT, "response header longer than %u bytes",
                              KILN_REGISTRY_HEADER_MAX);
        return 0;
    }
    if (len > 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A status line starts a response (a 100 Continue comes before the real one). */
        const char *sp = memchr(p, ' ', len);
        reset_headers(x->rs);
        x->rs->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return len;
    }
    header_line(x->rs, p, len);
    return len;
}

static size_t write_cb(char *p, size_t size, size_t n, void *data)
{
    struct xfer *x = data;
    size_t len = size * n;
    if (x->rs->status >= 200 && x->rs->status < 300) {
        if (!x->rq->sink)
            return len;
        int r = x->rq->sink(x->rq->sink_data, p, len, x->err);
        if (r < 0) {
            x->r = r;
            return 0;
        }
        return len;
    }
    /* An error body: keep what fits under the cap, then stop reading. */
    struct kiln_buf *b = &x->rs->error_body;
    size_t room = b->max - b->len;
    (void)kiln_buf_add(b, p, len < room ? len : room);
    return len <= room ? len : 0;
}

static size_t read_cb(char *buf, size_t size, size_t n, void *data)
{
    struct xfer *x = data;
    const struct kiln_registry_request *rq = x->rq;
    size_t want = size * n;
    if (want > x->read_left)
        want = (size_t)x->read_left;
    if (want == 0)
        return 0;
    ssize_t got;
    if (rq->read) {
        got = rq->read(rq->read_data, buf, want, x->err);
    } else {
        memcpy(buf, (const char *)rq->body + (rq->body_len - x->read_left), want);
        got = (ssize_t)want;
    }
    if (got < 0 || (size_t)got > want) {
        x->r = got < 0 ? (int)got : kiln_error_set(x->err, -EINVAL, "reader overran its buffer");
        return CURL_READFUNC_ABORT;
    }
    if (got == 0) {
        x->r = kiln_error_set(x->err, KILN_E_INVALID, "the data ended after %llu of %llu bytes",
                              (unsigned long long)(rq->body_len - x->read_left),
                              (unsigned long long)rq->body_len);
        return CURL_READFUNC_ABORT;
    }
    x->read_left -= (uint64_t)got;
    x->rs->sent += (uint64_t)got;
    return (size_t)got;
}

/* The URL's parts; NULL when it is not an absolute URL libcurl understands. */
static CURLU *url_parse(const char *url)
{
    CURLU *u = curl_url();
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        return NULL;
    }
    return u;
}

static char *url_part(CURLU *u, CURLUPart what, unsigned flags)
{
    char *s = NULL, *r = NULL;
    if (curl_url_get(u, what, &s, flags) == CURLUE_OK)
        r = kiln_xstrdup(s);
    curl_free(s);
    /* Host names are compared, and they are case-insensitive. */
    for (char *p = what == CURLUPART_HOST ? r : NULL; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return r;
}

char *kiln_registry_url_origin(const char *url)
{
    CURLU *u = url_parse(url);
    if (!u)
        return NULL;
    _cleanup_free_ char *scheme = url_part(u, CURLUPART_SCHEME, 0);
    _cleanup_free_ char *host = url_part(u, CURLUPART_HOST, 0);
    _cleanup_free_ char *port = url_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
    curl_url_cleanup(u);
    if (!scheme || !host || !port || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        return NULL;
    return kiln_xasprintf("%s://%s:%s", scheme, host, port);
}

char *kiln_registry_url_host(const char *url)
{
    CURLU *u = url_parse(url);
    char *host = u ? url_part(u, CURLUPART_HOST, 0) : NULL;
    curl_url_cleanup(u);
    return host;
}

int kiln_registry_buf_sink(void *data, const void *p, size_t n, struct kiln_error **err)
{
    struct kiln_buf *b = data;
    if (kiln_buf_add(b, p, n) < 0)
        return kiln_error_set(err, KILN_E_LIMIT, "response larger than %zu bytes", b->max);
    return 0;
}

bool kiln_registry_host_private(const char *host)
{
    unsigned char a[16];
    _cleanup_free_ char *h = kiln_xstrdup(host);
    size_t n = strlen(h);
    if (h[0] == '[' && n > 2 && h[n - 1] == ']') {
        h[n - 1] = '\0';
        if (inet_pton(AF_INET6, h + 1, a) != 1)
            return true;
        static const unsigned char loop6[16] = {[15] = 1};
        return memcmp(a, loop6, 16) == 0 || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
               (a[0] & 0xfe) == 0xfc || memcmp(a, (unsigned char[16]){0}, 16) == 0;
    }
    if (inet_pton(AF_INET, h, a) == 1)
        return a[0] == 127 || a[0] == 10 || a[0] == 0 || (a[0] == 169 && a[1] == 254) ||
               (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168);
    return strcmp(h, "localhost") == 0;
}

/* `ref` (a Location) resolved against `base`; NULL when that fails. */
static char *url_resolve(const char *base, const char *ref)
{
    CURLU *u = url_parse(base);
    char *r = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK)
        r = url_part(u, CURLUPART_URL, 0);
    curl_url_cleanup(u);
    return r;
}

int kiln_registry_http_wrap(const struct kiln_registry_request *rq, int r, struct kiln_error **err)
{
    CURLU *u = url_parse(rq->url);
    _cleanup_free_ char *path = u ? url_part(u, CURLUPART_PATH, 0) : NULL;
    curl_url_cleanup(u);
    return kiln_error_wrap(err, r, "%s %s", rq->method, path ? path : "(bad url)");
}

static struct curl_slist *build_headers(const struct kiln_registry_request *rq, bool send_auth)
{
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");
    for (const char *const *h = rq->headers; h && *h; h++)
        l = curl_slist_append(l, *h);
    if (send_auth && rq->bearer) {
        _cleanup_free_ char *a = kiln_xasprintf("Authorization: Bearer %s", rq->bearer);
        l = curl_slist_append(l, a);
        explicit_bzero(a, strlen(a));
    }
    return l;
}

static void set_method(CURL *h, const struct kiln_registry_request *rq, struct xfer *x)
{
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    }
}

static void set_options(struct kiln_registry_client *c, const struct kiln_registry_request *rq,
                        const char *url, struct xfer *x, struct curl_slist *headers)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->low_speed_time_s);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, rq->timeout_s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    set_method(h, rq, x);
}

static int transport_error(struct kiln_registry_client *c, CURLcode res, struct kiln_error **err)
{
    int code = res == CURLE_OPERATION_TIMEDOUT ? KILN_E_TIMEOUT : KILN_E_UPSTREAM;
    const char *what = c->errbuf[0] ? c->errbuf : curl_easy_strerror(res);
    return kiln_error_set(err, code, "%s", what);
}

/* One request to `url`, no redirects followed. */
static int one_hop(struct kiln_registry_client *c, const struct kiln_registry_request *rq,
                   const char *url, struct kiln_registry_response *rs, struct kiln_error **err)
{
    _cleanup_free_ char *origin = kiln_registry_url_origin(url);
    if (!origin)
        return kiln_error_set(err, KILN_E_UPSTREAM, "not an http(s) URL");
    bool send_auth = rq->auth_origin && strcmp(origin, rq->auth_origin) == 0;
    struct xfer x = {.rq = rq, .rs = rs, .read_left = rq->body_len, .err = err};
    struct curl_slist *headers = build_headers(rq, send_auth);

    kiln_registry_response_release(rs);
    rs->url = kiln_xstrdup(url);
    c->errbuf[0] = '\0';
    set_options(c, rq, url, &x, headers);
    if (send_auth && rq->basic) {
        curl_easy_setopt(c->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c->curl, CURLOPT_USERNAME, rq->basic->username);
        curl_easy_setopt(c->curl, CURLOPT_PASSWORD, rq->basic->secret);
    }
    CURLcode res = curl_easy_perform(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_PASSWORD, "");
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    long status = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (x.r < 0)
        return x.r;
    /* A write error after the status is known is the capped error body. */
    if (res != CURLE_OK && !(res == CURLE_WRITE_ERROR && status >= 300))
        return transport_error(c, res, err);
    rs->status = status;
    if (rs->location) {
        char *abs = url_resolve(url, rs->location);
        free(rs->location);
        rs->location = abs;
    }
    return 0;
}

static bool is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/*
 * A redirect from `from` (of the request that started at `first`) to `to`:
 * http(s), not from https to http, and to a loopback, private or link-local
 * address only when the request started at one (SSRF from a public registry).
 */
static int check_redirect(const char *first, const char *from, const char *to,
                          struct kiln_error **err)
{
    if (!to)
        return kiln_error_set(err, KILN_E_UPSTREAM, "redirect to an invalid URL");
    _cleanup_free_ char *origin = kiln_registry_url_origin(to);
    if (!origin)
        return kiln_error_set(err, KILN_E_UPSTREAM, "redirect to a URL that is not http(s)");
    if (strncmp(from, "https:", 6) == 0 && strncmp(to, "https:", 6) != 0)
        return kiln_error_set(err, KILN_E_UPSTREAM, "redirect from https to http refused");
    _cleanup_free_ char *host = kiln_registry_url_host(to);
    _cleanup_free_ char *start = kiln_registry_url_host(first);
    if (kiln_registry_host_private(host) && !(start && kiln_registry_host_private(start)))
        return kiln_error_set(err, KILN_E_UPSTREAM,
                              "redirect from a public host to the local address '%s' refused",
                              origin);
    return 0;
}

int kiln_registry_http_do(struct kiln_registry_client *c, const struct kiln_registry_request *rq,
                          struct kiln_registry_response *rs, struct kiln_error **err)
{
    _cleanup_free_ char *url = kiln_xstrdup(rq->url);
    for (unsigned hops = 0;; hops++) {
        int r = one_hop(c, rq, url, rs, err);
        if (r < 0)
            return kiln_registry_http_wrap(rq, r, err);
        if (!rq->follow || !is_redirect(rs->status))
            return 0;
        if (hops == KILN_REGISTRY_REDIRECTS_MAX) {
            r = kiln_error_set(err, KILN_E_UPSTREAM, "more than %u redirects",
                               KILN_REGISTRY_REDIRECTS_MAX);
            return kiln_registry_http_wrap(rq, r, err);
        }
        r = check_redirect(rq->url, url, rs->location, err);
        if (r < 0)
            return kiln_registry_http_wrap(rq, r, err);
        free(url);
        url = kiln_xstrdup(rs->location);
    }
}

/* Appends s without control characters, at most `max` bytes of it. */
static void add_clean(struct kiln_buf *b, const char *s, size_t max, bool code)
{
    for (size_t i = 0; s[i] && i < max; i++) {
        char ch = s[i];
        if ((unsigned char)ch < 0x20 || ch == 0x7f)
            ch = ' ';
        else if (code && ch == '_')
            ch = ' ';
        else if (code && ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        (void)kiln_buf_addch(b, ch);
    }
}

/* "code: message; code: message" from a {"errors": [...]} body; false when it has none. */
static bool describe_errors(const struct kiln_buf *body, struct kiln_buf *out)
{
    json_t *root = json_loadb(body->buf, body->len, JSON_DISABLE_EOF_CHECK, NULL);
    json_t *errors = json_object_get(root, "errors");
    size_t i, n = 0;
    json_t *e;
    json_array_foreach (errors, i, e) {
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *message = json_string_value(json_object_get(e, "message"));
        if (!code && !message)
            continue;
        if (n++ > 0)
            (void)kiln_buf_adds(out, "; ");
        add_clean(out, code ? code : "error", 64, true);
        if (message) {
            (void)kiln_buf_adds(out, ": ");
            add_clean(out, message, 256, false);
        }
        if (n == 4)
            break;
    }
    json_decref(root);
    return n > 0;
}

static int status_code(long status)
{
    switch (status) {
    case 400: return KILN_E_INVALID;
    case 401: return KILN_E_AUTH;
    case 403: return KILN_E_DENIED;
    case 404: return KILN_E_NOTFOUND;
    case 409: return KILN_E_CONFLICT;
    case 413:
    case 429: return KILN_E_LIMIT;
    default: return KILN_E_UPSTREAM;
    }
}

static const char *status_text(long status)
{
    switch (status) {
    case 400: return "bad request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 409: return "conflict";
    case 413: return "payload too large";
    case 416: return "range not satisfiable";
    case 429: return "too many requests";
    case 500: return "internal server error";
    case 502: return "bad gateway";
    case 503: return "service unavailable";
    case 504: return "gateway timeout";
    default: return "unexpected status";
    }
}

int kiln_registry_http_status_error(const struct kiln_registry_request *rq,
                                    const struct kiln_registry_response *rs, const char *hint,
                                    struct kiln_error **err)
{
    _cleanup_buf_ struct kiln_buf msg = KILN_BUF_INIT(2048);
    (void)kiln_buf_addf(&msg, "%ld ", rs->status);
    if (!describe_errors(&rs->error_body, &msg))
        (void)kiln_buf_adds(&msg, status_text(rs->status));
    if (hint)
        (void)kiln_buf_addf(&msg, "; %s", hint);
    int r = kiln_error_set(err, status_code(rs->status), "%s", msg.buf);
    return kiln_registry_http_wrap(rq, r, err);
}
