/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloud-http.c - kiln's HTTP client for kilnd, over libcurl (cloud-http.h).
 *
 * Every request goes through perform(): one easy handle per client (so the
 * connection is reused), reset and set up for each request; the answer's
 * body goes to a sink (a buffer, the NDJSON line splitter or an fd) while
 * the status is 2xx, and to a small buffer for the error message otherwise.
 */
#include "cloud-http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "kiln-version.h"
#include "registry/credentials.h"
#include "registry/registry.h"

#include "base/banned.h"

struct kiln_cloud {
    CURL *curl;
    char *endpoint; /* without a final '/' */
    char *host;     /* host[:port], as messages name it */
    char *auth;     /* "Authorization: Bearer TOKEN" */
    long timeout;
    long last_status;      /* of the last request; 0: no answer */
    bool last_kilnd_error; /* its failed answer was {"error": MESSAGE} */
};

/* Where a 2xx answer's bytes go; returns 0 or a negative code (after setting *err). */
typedef int (*sink_fn)(void *ud, const char *p, size_t n, struct kiln_error **err);

struct xfer {
    struct kiln_cloud *c;
    const char *method, *path;
    long status;  /* 0 until the first byte of the answer */
    sink_fn sink; /* for a 2xx answer */
    void *sink_ud;
    struct kiln_buf fail; /* a non-2xx answer, for its message */
    ssize_t (*read)(void *ud, void *buf, size_t n, struct kiln_error **err);
    void *read_ud;
    const char *send; /* a fixed request body */
    size_t send_len;
    int cb_code; /* a sink's or read's failure */
    struct kiln_error *cb_err;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool is_2xx(long status)
{
    return status >= 200 && status < 300;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    if (!x->status)
        curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE, &x->status);
    if (!is_2xx(x->status)) {
        /* only the start of an error answer is kept: it is for a message */
        size_t room = x->fail.max - x->fail.len;
        kiln_buf_add(&x->fail, p, n < room ? n : room);
        return n;
    }
    int r = x->sink(x->sink_ud, p, n, &x->cb_err);
    if (r < 0) {
        x->cb_code = r;
        return 0; /* ends the transfer with CURLE_WRITE_ERROR */
    }
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nitems;
    if (x->send) {
        size_t k = x->send_len < n ? x->send_len : n;
        memcpy(buf, x->send, k);
        x->send += k;
        x->send_len -= k;
        return k;
    }
    ssize_t r = x->read(x->read_ud, buf, n, &x->cb_err);
    if (r < 0) {
        x->cb_code = (int)r;
        return CURL_READFUNC_ABORT;
    }
    return (size_t)r;
}

/* The server's message, made safe to print: control characters become '?'. */
static char *server_message(struct xfer *x)
{
    json_t *j = json_loadb(x->fail.buf, x->fail.len, 0, NULL);
    const char *m = json_string_value(json_object_get(j, "error"));
    x->c->last_kilnd_error = m != NULL;
    char *s = m && *m ? kiln_xstrndup(m, strnlen(m, KILN_CLOUD_MESSAGE_MAX))
                      : kiln_xasprintf("kilnd answered %s %s with HTTP %ld", x->method, x->path,
                                       x->status);
    json_decref(j);
    for (char *q = s; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = '?';
    return s;
}

static int status_error(struct xfer *x, struct kiln_error **err)
{
    _cleanup_free_ char *m = server_message(x);
    if (x->status == 401)
        return kiln_error_set(err, KILN_E_DENIED,
                              "the token for %s was refused (wrong, expired or revoked): kiln "
                              "login %s again",
                              x->c->host, x->c->host);
    int code = x->status == 403                                           ? KILN_E_DENIED
               : x->status == 404                                         ? KILN_E_NOTFOUND
               : x->status == 400 || x->status == 409 || x->status == 413 ? KILN_E_INVALID
                                                                          : KILN_E_UPSTREAM;
    return kiln_error_set(err, code, "%s", m);
}

static int curl_error(CURLcode rc, const char *url, const char *detail, struct kiln_error **err)
{
    const char *why = detail[0] ? detail : curl_easy_strerror(rc);
    const char *hint = "";
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
        hint = ": if kilnd's certificate is self-signed, set KILN_CA_CERT to the CA bundle "
               "that signed it";
    return kiln_error_set(err, KILN_E_UPSTREAM, "cannot reach kilnd at %s: %s%s", url, why, hint);
}

static void set_options(struct xfer *x, const char *url, struct curl_slist *headers, char *detail)
{
    CURL *h = x->c->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, KILN_CLOUD_CONNECT_TIMEOUT);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, x->c->timeout);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    const char *ca = getenv("KILN_CA_CERT");
    if (ca && *ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    if (strcmp(x->method, "GET") == 0)
        return;
    if (x->read || x->send) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        if (x->send)
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->send_len);
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method);
}

/* Runs the request x describes; `extra` are headers besides the token's. */
static int perform(struct xfer *x, const char *const *extra, struct kiln_error **err)
{
    if (x->path[0] != '/')
        return kiln_error_set(err, KILN_E_INVALID, "kilnd path '%s' does not start with '/'",
                              x->path);
    _cleanup_free_ char *url = kiln_xasprintf("%s%s", x->c->endpoint, x->path);
    struct curl_slist *headers = curl_slist_append(NULL, x->c->auth);
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    for (size_t i = 0; extra && extra[i]; i++)
        headers = curl_slist_append(headers, extra[i]);
    char detail[CURL_ERROR_SIZE] = "";
    kiln_buf_init(&x->fail, KILN_CLOUD_MESSAGE_MAX * 4);
    set_options(x, url, headers, detail);
    x->c->last_status = 0;
    x->c->last_kilnd_error = false;
    CURLcode rc = curl_easy_perform(x->c->curl);
    curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE, &x->status);
    x->c->last_status = x->status;
    curl_easy_setopt(x->c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(x->c->curl, CURLOPT_ERRORBUFFER, NULL);
    for (struct curl_slist *l = headers; l; l = l->next) /* the first one holds the token */
        explicit_bzero(l->data, strlen(l->data));
    curl_slist_free_all(headers);
    int r = 0;
    if (x->cb_code < 0) {
        r = x->cb_code;
        if (err) {
            kiln_error_free(*err);
            *err = TAKE_PTR(x->cb_err);
        }
    } else if (x->status && !is_2xx(x->status)) {
        r = status_error(x, err); /* even when it cut an upload short */
    } else if (rc != CURLE_OK) {
        r = curl_error(rc, url, detail, err);
    }
    kiln_error_free(x->cb_err);
    kiln_buf_release(&x->fail);
    return r;
}

static int sink_buf(void *ud, const char *p, size_t n, struct kiln_error **err)
{
    int r = kiln_buf_add(ud, p, n);
    if (r < 0)
        return kiln_error_set(err, KILN_E_LIMIT, "kilnd's answer is larger than %u bytes",
                              KILN_CLOUD_RESPONSE_MAX);
    return 0;
}

/* Performs x with its answer parsed as JSON into *ret. */
static int perform_json(struct xfer *x, const char *const *extra, json_t **ret,
                        struct kiln_error **err)
{
    _cleanup_buf_ struct kiln_buf body = KILN_BUF_INIT(KILN_CLOUD_RESPONSE_MAX);
    x->sink = sink_buf;
    x->sink_ud = &body;
    int r = perform(x, extra, err);
    if (r < 0)
        return r;
    if (body.len == 0) {
        *ret = json_object();
        return 0;
    }
    json_t *j = json_loadb(body.buf, body.len, 0, NULL);
    if (!j)
        return kiln_error_set(err, KILN_E_UPSTREAM, "kilnd answered %s %s with something not JSON",
                              x->method, x->path);
    *ret = j;
    return 0;
}

int kiln_cloud_json_text(struct kiln_cloud *c, const char *method, const char *path,
                         const char *text, size_t len, json_t **ret, struct kiln_error **err)
{
    struct xfer x = {.c = c, .method = method, .path = path, .send = text, .send_len = len};
    static const char *const json_type[] = {"Content-Type: application/json", NULL};
    return perform_json(&x, text ? json_type : NULL, ret, err);
}

int kiln_cloud_json(struct kiln_cloud *c, const char *method, const char *path, json_t *body,
                    json_t **ret, struct kiln_error **err)
{
    _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text)
        return kiln_error_set(err, KILN_E_INVALID, "the body of %s %s cannot be written as JSON",
                              method, path);
    return kiln_cloud_json_text(c, method, path, text, text ? strlen(text) : 0, ret, err);
}

int kiln_cloud_upload(struct kiln_cloud *c, const char *path, const char *content_encoding,
                      ssize_t (*read)(void *ud, void *buf, size_t n, struct kiln_error **err),
                      void *ud, json_t **ret, struct kiln_error **err)
{
    struct xfer x = {.c = c, .method = "PUT", .path = path, .read = read, .read_ud = ud};
    _cleanup_free_ char *encoding =
            content_encoding ? kiln_xasprintf("Content-Encoding: %s", content_encoding) : NULL;
    const char *extra[] = {"Content-Type: application/x-tar", "Transfer-Encoding: chunked",
                           encoding, NULL};
    return perform_json(&x, extra, ret, err);
}

struct lines {
    struct kiln_buf partial;
    int (*line)(void *ud, const char *line, size_t len, struct kiln_error **err);
    void *ud;
};

static int emit(struct lines *l, const char *p, size_t n, struct kiln_error **err)
{
    if (n && p[n - 1] == '\r')
        n--;
    return l->line(l->ud, p, n, err);
}

static int sink_lines(void *ud, const char *p, size_t n, struct kiln_error **err)
{
    struct lines *l = ud;
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t k = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (kiln_buf_add(&l->partial, p, k) < 0)
            return kiln_error_set(err, KILN_E_LIMIT, "kilnd sent a line longer than %u bytes",
                                  KILN_CLOUD_LINE_MAX);
        if (!nl)
            break;
        int r = emit(l, l->partial.buf, l->partial.len, err);
        kiln_buf_reset(&l->partial);
        if (r < 0)
            return r;
        p = nl + 1;
    }
    return 0;
}

int kiln_cloud_stream_lines(struct kiln_cloud *c, const char *path,
                            int (*line)(void *ud, const char *line, size_t len,
                                        struct kiln_error **err),
                            void *ud, struct kiln_error **err)
{
    struct lines l = {.partial = KILN_BUF_INIT(KILN_CLOUD_LINE_MAX), .line = line, .ud = ud};
    struct xfer x = {.c = c, .method = "GET", .path = path, .sink = sink_lines, .sink_ud = &l};
    static const char *const accept[] = {"Accept: application/x-ndjson", NULL};
    int r = perform(&x, accept, err);
    if (r >= 0 && l.partial.len)
        r = emit(&l, l.partial.buf, l.partial.len, err);
    kiln_buf_release(&l.partial);
    return r < 0 ? r : 0;
}

struct fd_sink {
    int fd;
    uint64_t bytes;
};

static int sink_fd(void *ud, const char *p, size_t n, struct kiln_error **err)
{
    struct fd_sink *s = ud;
    while (n) {
        ssize_t k = write(s->fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return kiln_error_set_errno(err, -errno, "cannot write kilnd's answer");
        p += k;
        n -= (size_t)k;
        s->bytes += (uint64_t)k;
    }
    return 0;
}

int kiln_cloud_download(struct kiln_cloud *c, const char *path, int fd, uint64_t *ret_bytes,
                        struct kiln_error **err)
{
    struct fd_sink s = {.fd = fd};
    struct xfer x = {.c = c, .method = "GET", .path = path, .sink = sink_fd, .sink_ud = &s};
    int r = perform(&x, NULL, err);
    if (r >= 0 && ret_bytes)
        *ret_bytes = s.bytes;
    return r < 0 ? r : 0;
}

static char *strip_slash(const char *s)
{
    size_t n = strlen(s);
    while (n && s[n - 1] == '/')
        n--;
    return kiln_xstrndup(s, n);
}

int kiln_cloud_open_token(const char *endpoint, const char *token, struct kiln_cloud **ret,
                          struct kiln_error **err)
{
    if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "kilnd endpoint '%s' is not an http:// or https:// URL", endpoint);
    if (strchr(token, '\r') || strchr(token, '\n'))
        return kiln_error_set(err, KILN_E_INVALID, "the token holds a line break");
    pthread_once(&curl_once, curl_init);
    CURL *h = curl_easy_init();
    if (!h)
        return kiln_error_set(err, KILN_E_UPSTREAM, "cannot start an HTTP client (libcurl)");
    struct kiln_cloud *c = kiln_xcalloc(1, sizeof(*c));
    c->curl = h;
    c->endpoint = strip_slash(endpoint);
    c->host = kiln_registry_cred_key(endpoint);
    c->auth = kiln_xasprintf("Authorization: Bearer %s", token);
    *ret = c;
    return 0;
}

int kiln_cloud_open(const char *endpoint, struct kiln_cloud **ret, struct kiln_error **err)
{
    _cleanup_free_ char *host = kiln_registry_cred_key(endpoint);
    _cleanup_(kiln_registry_cred_freep) struct kiln_registry_cred *cred = NULL;
    int r = kiln_registry_credentials_get(NULL, host, &cred, err);
    if (r < 0)
        return r;
    if (r == 0 || !cred->secret || !*cred->secret)
        return kiln_error_set(err, KILN_E_DENIED, "not logged in to %s: kiln login %s", host, host);
    return kiln_cloud_open_token(endpoint, cred->secret, ret, err);
}

void kiln_cloud_free(struct kiln_cloud *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    explicit_bzero(c->auth, strlen(c->auth));
    free(c->auth);
    free(c->endpoint);
    free(c->host);
    free(c);
}

void kiln_cloud_set_timeout(struct kiln_cloud *c, long seconds)
{
    c->timeout = seconds;
}

long kiln_cloud_last_status(const struct kiln_cloud *c, bool *ret_kilnd_error)
{
    if (ret_kilnd_error)
        *ret_kilnd_error = c->last_kilnd_error;
    return c->last_status;
}

const char *kiln_cloud_host(const struct kiln_cloud *c)
{
    return c->host;
}

/* Whether `host` (no port, no brackets) is spoken to over plain HTTP. */
static bool insecure_host(const char *host, const char *hostport)
{
    struct in_addr a;
    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
        (inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127))
        return true;
    _cleanup_strv_ struct kiln_strv list = KILN_STRV_INIT;
    kiln_registry_insecure_from_env(&list);
    return kiln_strv_find(&list, host) >= 0 || kiln_strv_find(&list, hostport) >= 0;
}

char *kiln_cloud_endpoint_for(const char *server)
{
    if (strstr(server, "://"))
        return strip_slash(server);
    _cleanup_free_ char *hostport = kiln_xstrndup(server, strcspn(server, "/"));
    _cleanup_free_ char *host = NULL;
    if (hostport[0] == '[')
        host = kiln_xstrndup(hostport + 1, strcspn(hostport + 1, "]"));
    else
        host = kiln_xstrndup(hostport, strcspn(hostport, ":"));
    return kiln_xasprintf("%s://%s", insecure_host(host, hostport) ? "http" : "https", hostport);
}
