/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry-faults.c - the registry client against a tiny fake registry on
 * loopback that sends what a real one never would: manifests whose digest
 * is not the one asked for, documents that are two things at once, endless
 * and huge bodies, redirect loops, hostile token realms; and the Bearer
 * token flow (with a token cache) that docker-registry only offers with a
 * JWT token server. Every case must fail cleanly, in bounded time. TAP.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "oci/mediatype.h"
#include "registry/registry.h"
#include "tap.h"

/* What the fake server saw, in memory shared with the test. */
struct stats {
    int token_requests;
    int token_with_basic;
    int storage_requests;
    int storage_with_auth;
};

static struct stats *stats;
static int port;

static const char manifest[] =
        "{\"schemaVersion\":2,\"mediaType\":\"" KILN_OCI_MT_MANIFEST "\",\"config\":{"
        "\"mediaType\":\"" KILN_OCI_MT_CONFIG "\",\"digest\":\"sha256:"
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},"
        "\"layers\":[]}";
static const char hello_digest[] =
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

/* ---- the fake server (a child process) ---- */

struct req {
    char method[16];
    char path[1024];
    char auth[512];
};

static void send_all(int fd, const void *p, size_t n)
{
    const char *q = p;
    while (n > 0) {
        ssize_t w = write(fd, q, n);
        if (w <= 0)
            return;
        q += w;
        n -= (size_t)w;
    }
}

static void reply(int fd, const char *status, const char *headers, const char *body)
{
    char head[2048];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\nConnection: close\r\nContent-Length: %zu\r\n%s\r\n", status,
                     strlen(body), headers);
    send_all(fd, head, (size_t)n);
    send_all(fd, body, strlen(body));
}

/* A body of `n` bytes (or endless, n == 0, without Content-Length). */
static void flood(int fd, const char *status, size_t n)
{
    static char block[65536];
    char head[256];
    memset(block, ' ', sizeof(block));
    int k = n ? snprintf(head, sizeof(head),
                         "HTTP/1.1 %s\r\nConnection: close\r\nContent-Type: " KILN_OCI_MT_MANIFEST
                         "\r\nContent-Length: %zu\r\n\r\n",
                         status, n)
              : snprintf(head, sizeof(head),
                         "HTTP/1.1 %s\r\nConnection: close\r\nContent-Type: " KILN_OCI_MT_MANIFEST
                         "\r\n\r\n",
                         status);
    send_all(fd, head, (size_t)k);
    for (size_t sent = 0; n == 0 || sent < n; sent += sizeof(block))
        if (write(fd, block, sizeof(block)) <= 0)
            return;
}

static void challenge(int fd, const char *realm)
{
    char h[512];
    snprintf(h, sizeof(h), "WWW-Authenticate: Bearer realm=\"%s\",service=\"fake\"\r\n", realm);
    reply(fd, "401 Unauthorized", h,
          "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}");
}

static void redirect(int fd, const char *to)
{
    char h[512];
    snprintf(h, sizeof(h), "Location: %s\r\n", to);
    reply(fd, "302 Found", h, "");
}

static const char ct_manifest[] = "Content-Type: " KILN_OCI_MT_MANIFEST "\r\n";

static void route_manifests(int fd, const struct req *rq)
{
    char url[256];
    const char *p = rq->path;
    if (strncmp(p, "/v2/pinned/", 11) == 0) {
        reply(fd, "200 OK", ct_manifest, manifest);
    } else if (strcmp(p, "/v2/claimed/manifests/1") == 0) {
        reply(fd, "200 OK",
              "Content-Type: " KILN_OCI_MT_MANIFEST "\r\nDocker-Content-Digest: sha256:"
              "0000000000000000000000000000000000000000000000000000000000000000\r\n",
              manifest);
    } else if (strcmp(p, "/v2/mixed/manifests/1") == 0) {
        reply(fd, "200 OK", ct_manifest,
              "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:"
              "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},"
              "\"layers\":[],\"manifests\":[]}");
    } else if (strcmp(p, "/v2/typed/manifests/1") == 0) {
        reply(fd, "200 OK", "Content-Type: " KILN_DOCKER_MT_MANIFEST "\r\n", manifest);
    } else if (strcmp(p, "/v2/huge/manifests/1") == 0) {
        flood(fd, "200 OK", 5u << 20);
    } else if (strcmp(p, "/v2/endless/manifests/1") == 0) {
        flood(fd, "200 OK", 0);
    } else if (strcmp(p, "/v2/bigerror/manifests/1") == 0) {
        flood(fd, "404 Not Found", 0);
    } else if (strcmp(p, "/v2/loop/manifests/1") == 0) {
        redirect(fd, "/v2/loop/manifests/1");
    } else if (strcmp(p, "/v2/file/manifests/1") == 0) {
        redirect(fd, "file:///etc/passwd");
    } else if (strcmp(p, "/v2/denied/manifests/1") == 0) {
        reply(fd, "403 Forbidden", "",
              "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"requested access to the "
              "resource is denied\"}]}");
    } else if (strcmp(p, "/v2/broken/manifests/1") == 0) {
        reply(fd, "503 Service Unavailable", "", "upstream down");
    } else if (strcmp(p, "/v2/slow/manifests/1") == 0) {
        send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 40);
        for (int i = 0; i < 30 && write(fd, " ", 1) == 1; i++)
            sleep(1);
    } else if (strcmp(p, "/v2/tok/manifests/1") == 0) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/token", port);
        if (strcmp(rq->auth, "Bearer good-token") == 0)
            reply(fd, "200 OK", ct_manifest, manifest);
        else
            challenge(fd, url);
    } else if (strcmp(p, "/v2/evil1/manifests/1") == 0) {
        challenge(fd, "file:///etc/passwd");
    } else if (strcmp(p, "/v2/evil2/manifests/1") == 0) {
        challenge(fd, "http://169.254.169.254/latest/meta-data");
    } else if (strcmp(p, "/v2/bigtoken/manifests/1") == 0) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/bigtoken", port);
        challenge(fd, url);
    } else if (strcmp(p, "/v2/looptoken/manifests/1") == 0) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/looptoken", port);
        challenge(fd, url);
    } else {
        reply(fd, "404 Not Found", "", "{\"errors\":[{\"code\":\"NAME_UNKNOWN\"}]}");
    }
}

static void route(int fd, const struct req *rq)
{
    char url[256];
    const char *p = rq->path;
    if (strncmp(p, "/token?", 7) == 0) {
        stats->token_requests++;
        stats->token_with_basic += strncmp(rq->auth, "Basic ", 6) == 0;
        if (strstr(p, "service=fake") && strstr(p, "scope=repository%3Atok%3Apull"))
            reply(fd, "200 OK", "", "{\"access_token\":\"good-token\",\"expires_in\":300}");
        else
            reply(fd, "400 Bad Request", "", "{}");
    } else if (strncmp(p, "/bigtoken", 9) == 0) {
        flood(fd, "200 OK", 2u << 20);
    } else if (strncmp(p, "/looptoken", 10) == 0) {
        redirect(fd, "/looptoken");
    } else if (strncmp(p, "/v2/moved/blobs/", 16) == 0) {
        /* Basic auth first, then blob storage on another origin (localhost, not 127.0.0.1). */
        snprintf(url, sizeof(url), "http://localhost:%d/storage/hello", port);
        if (!rq->auth[0])
            reply(fd, "401 Unauthorized", "WWW-Authenticate: Basic realm=\"fake\"\r\n", "");
        else
            redirect(fd, url);
    } else if (strcmp(p, "/storage/hello") == 0) {
        stats->storage_requests++;
        stats->storage_with_auth += rq->auth[0] != '\0';
        reply(fd, "200 OK", "", "hello");
    } else if (strncmp(p, "/v2/badblob/blobs/", 18) == 0) {
        reply(fd, "200 OK", "", "jello");
    } else {
        route_manifests(fd, rq);
    }
}

static bool read_request(int fd, struct req *rq)
{
    char buf[16384];
    size_t len = 0;
    while (len < sizeof(buf) - 1) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    *rq = (struct req){0};
    if (sscanf(buf, "%15s %1023s", rq->method, rq->path) != 2)
        return false;
    for (char *line = strstr(buf, "\r\n"); line; line = strstr(line + 2, "\r\n"))
        if (strncasecmp(line + 2, "Authorization: ", 15) == 0)
            sscanf(line + 17, "%511[^\r]", rq->auth);
    return true;
}

static void serve(int lfd)
{
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        struct timeval tv = {.tv_sec = 5};
        struct req rq;
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (read_request(fd, &rq))
            route(fd, &rq);
        shutdown(fd, SHUT_WR);
        close(fd);
    }
}

static pid_t start_server(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
        printf("Bail out! cannot listen on loopback\n");
        exit(1);
    }
    port = ntohs(a.sin_port);
    stats = mmap(NULL, sizeof(*stats), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        serve(lfd);
        _exit(0);
    }
    close(lfd);
    return pid;
}

/* ---- the tests ---- */

static char domain[64];

static struct kiln_registry_client *client(const char *u, const char *pw)
{
    struct kiln_registry_cred cred = {.username = (char *)u, .secret = (char *)pw};
    struct kiln_registry_options opts = {
            .cred = u ? &cred : NULL,
            .connect_timeout_s = 5,
            .low_speed_time_s = 5,
            .request_timeout_s = 3,
    };
    struct kiln_registry_client *c = NULL;
    if (kiln_registry_client_new(domain, &opts, &c, NULL) < 0)
        abort();
    return c;
}

static void expect(struct kiln_registry_client *c, const char *repo, const char *reference,
                   int code, const char *want, const char *what)
{
    struct kiln_registry_manifest *m = NULL;
    struct kiln_error *err = NULL;
    int r = kiln_registry_manifest_get(c, repo, reference, &m, &err);
    const char *msg = kiln_error_message(err, r);
    if (tap_ok(r == code && strstr(msg, want), "%s", what)) {
        if (r < 0)
            tap_diag("%s", msg);
    } else
        tap_diag("got %d (want %d) '%s', expected it to contain '%s'", r, code, msg, want);
    tap_ok(r < 0 ? m == NULL : m != NULL, "%s: nothing returned on failure", what);
    kiln_registry_manifest_free(m);
    kiln_error_free(err);
}

static void test_manifests(void)
{
    struct kiln_registry_client *c = client(NULL, NULL);
    expect(c, "pinned", hello_digest, KILN_E_UPSTREAM,
           "expected "
           "sha256:2cf24dba",
           "a manifest whose digest is not the one asked for");
    expect(c, "claimed", "1", KILN_E_UPSTREAM, "the registry says sha256:0000",
           "a manifest whose Docker-Content-Digest lies");
    expect(c, "mixed", "1", KILN_E_UPSTREAM, "invalid document",
           "a document that is a manifest and an index (CVE-2021-41190)");
    expect(c, "typed", "1", KILN_E_UPSTREAM, "is not its Content-Type",
           "a document whose mediaType is not its Content-Type");
    expect(c, "huge", "1", KILN_E_LIMIT, "larger than 4194304 bytes", "a 5 MiB manifest");
    expect(c, "endless", "1", KILN_E_LIMIT, "larger than", "an endless manifest");
    expect(c, "bigerror", "1", KILN_E_NOTFOUND, "404 not found", "an endless error body");
    expect(c, "loop", "1", KILN_E_UPSTREAM, "more than 5 redirects", "a redirect loop");
    expect(c, "file", "1", KILN_E_UPSTREAM, "not http(s)", "a redirect to file://");
    expect(c, "denied", "1", KILN_E_DENIED,
           "GET /v2/denied/manifests/1: 403 denied: requested access to the resource is denied",
           "403 with the registry's error body");
    expect(c, "broken", "1", KILN_E_UPSTREAM, "503 service unavailable", "a 503");
    expect(c, "slow", "1", KILN_E_TIMEOUT, "GET /v2/slow/manifests/1", "a slow drip times out");
    kiln_registry_client_free(c);
}

static void test_bearer(void)
{
    struct kiln_registry_client *c = client("me", "token-pw-5678");
    expect(c, "tok", "1", 0, "", "Bearer: a token from the realm, then the manifest");
    expect(c, "tok", "1", 0, "", "Bearer: again");
    tap_ok(stats->token_requests == 1, "one token request for both (%d)", stats->token_requests);
    tap_ok(stats->token_with_basic == 1, "with Basic credentials");
    kiln_registry_client_free(c);

    /* A new client for each: one that knows a realm asks it for every scope first. */
    c = client("me", "token-pw-5678");
    expect(c, "evil1", "1", KILN_E_UPSTREAM, "token realm 'file:///etc/passwd' is not an http(s)",
           "a file:// realm is refused");
    expect(c, "evil2", "1", KILN_E_UPSTREAM, "a local address the registry is not on",
           "a link-local realm is refused");
    expect(c, "bigtoken", "1", KILN_E_LIMIT, "larger than", "a 2 MiB token answer");
    kiln_registry_client_free(c);
    c = client("me", "token-pw-5678");
    expect(c, "looptoken", "1", KILN_E_UPSTREAM, "more than 5 redirects",
           "a token realm that redirects forever");
    kiln_registry_client_free(c);
}

static int collect(void *data, const void *p, size_t n, struct kiln_error **err)
{
    return kiln_buf_add(data, p, n);
}

static void test_blobs(const char *dir)
{
    struct kiln_registry_client *c = client("me", "blob-pw-9012");
    struct kiln_error *err = NULL;
    _cleanup_buf_ struct kiln_buf got = KILN_BUF_INIT(1024);
    int r = kiln_registry_blob_get(c, "moved", hello_digest, 5, collect, &got, &err);
    tap_ok(r == 0 && strcmp(got.buf, "hello") == 0, "a blob redirected to storage: %s",
           kiln_error_message(err, r));
    tap_ok(stats->storage_requests == 1 && stats->storage_with_auth == 0,
           "storage on another origin got no credentials (%d of %d requests had some)",
           stats->storage_with_auth, stats->storage_requests);

    _cleanup_free_ char *path = kiln_xasprintf("%s/blob", dir);
    r = kiln_registry_blob_get_file(c, "badblob", hello_digest, 5, path, &err);
    if (!tap_ok(r == KILN_E_UPSTREAM && strstr(err->message, "blob digest is sha256:"),
                "a blob with the wrong digest"))
        tap_diag("%d %s", r, kiln_error_message(err, r));
    struct stat st;
    tap_ok(stat(path, &st) < 0 && rmdir(dir) == 0, "nothing kept under its name or beside it");
    kiln_error_free(err);
    kiln_registry_client_free(c);
}

int main(void)
{
    char dir[] = "/tmp/kiln-faults-XXXXXX";
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    pid_t pid = start_server();
    snprintf(domain, sizeof(domain), "127.0.0.1:%d", port);
    test_manifests();
    test_bearer();
    test_blobs(dir);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return tap_done("registry faults");
}
