/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry-e2e.c - the registry client against real registries (Debian's
 * docker-registry), started by run-registry.sh: push an image built here,
 * pull it back by tag and by digest, chunked uploads, cross-repository
 * mounts, an index of two platforms, Basic auth with good and bad
 * credentials. TAP output.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "oci/mediatype.h"
#include "registry/registry.h"
#include "tap.h"

static const char *reg, *auth_reg, *token_reg, *user, *password, *tmpdir;

struct blob {
    char *data;
    size_t len;
    char digest[KILN_OCI_DIGEST_MAX];
};

struct image {
    struct blob layer, config, manifest;
};

struct mem_reader {
    const char *p;
    size_t len, off;
};

static ssize_t mem_read(void *data, void *buf, size_t n, struct kiln_error **err)
{
    struct mem_reader *m = data;
    size_t k = m->len - m->off < n ? m->len - m->off : n;
    memcpy(buf, m->p + m->off, k);
    m->off += k;
    return (ssize_t)k;
}

static int buf_write(void *data, const void *p, size_t n, struct kiln_error **err)
{
    return kiln_buf_add(data, p, n);
}

static void blob_set(struct blob *b, char *data, size_t len)
{
    b->data = data;
    b->len = len;
    if (kiln_oci_digest_bytes(KILN_OCI_SHA256, data, len, b->digest, NULL) < 0)
        abort();
}

static void blob_random(struct blob *b, size_t len, unsigned seed)
{
    char *p = kiln_xmalloc(len);
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (char)(seed >> 16);
    }
    blob_set(b, p, len);
}

static void image_make(struct image *im, const char *arch, unsigned seed)
{
    blob_random(&im->layer, 100000 + seed, seed);
    char *config = kiln_xasprintf("{\"architecture\":\"%s\",\"os\":\"linux\",\"rootfs\":{\"type\":"
                                  "\"layers\",\"diff_ids\":[\"%s\"]}}",
                                  arch, im->layer.digest);
    blob_set(&im->config, config, strlen(config));
    char *manifest = kiln_xasprintf(
            "{\"schemaVersion\":2,\"mediaType\":\"" KILN_OCI_MT_MANIFEST "\",\"config\":{"
            "\"mediaType\":\"" KILN_OCI_MT_CONFIG "\",\"digest\":\"%s\",\"size\":%zu},"
            "\"layers\":[{\"mediaType\":\"" KILN_OCI_MT_LAYER
            "\",\"digest\":\"%s\",\"size\":%zu}]}",
            im->config.digest, im->config.len, im->layer.digest, im->layer.len);
    blob_set(&im->manifest, manifest, strlen(manifest));
}

static void image_release(struct image *im)
{
    free(im->layer.data);
    free(im->config.data);
    free(im->manifest.data);
}

/* tap_ok(r == want) with the error message as a diagnostic line. */
static bool check(int r, int want, struct kiln_error **err, const char *what)
{
    bool ok = tap_ok(r == want, "%s", what);
    if (!ok)
        tap_diag("got %d (want %d): %s", r, want, kiln_error_message(*err, r));
    kiln_error_free(*err);
    *err = NULL;
    return ok;
}

/* tap_ok(r == code and the message holds `want`). */
static bool check_fail(int r, int code, struct kiln_error **err, const char *want, const char *what)
{
    const char *msg = kiln_error_message(*err, r);
    bool ok = tap_ok(r == code && strstr(msg, want), "%s", what);
    if (!ok)
        tap_diag("got %d (want %d) '%s', expected it to contain '%s'", r, code, msg, want);
    else
        tap_diag("%s", msg);
    kiln_error_free(*err);
    *err = NULL;
    return ok;
}

static struct kiln_registry_client *client_cred(const char *domain,
                                                const struct kiln_registry_cred *cred, size_t chunk)
{
    struct kiln_registry_options opts = {
            .cred = cred,
            .chunk_size = chunk,
            .connect_timeout_s = 5,
            .low_speed_time_s = 10,
            .request_timeout_s = 30,
    };
    struct kiln_registry_client *c = NULL;
    struct kiln_error *err = NULL;
    if (kiln_registry_client_new(domain, &opts, &c, &err) < 0) {
        printf("Bail out! client for %s: %s\n", domain, err->message);
        exit(1);
    }
    return c;
}

static struct kiln_registry_client *client(const char *domain, const char *u, const char *pw,
                                           size_t chunk)
{
    struct kiln_registry_cred cred = {.username = (char *)u, .secret = (char *)pw};
    return client_cred(domain, u ? &cred : NULL, chunk);
}

static int push_blob(struct kiln_registry_client *c, const char *repo, const struct blob *b,
                     const char *from, uint64_t *sent, struct kiln_error **err)
{
    struct mem_reader m = {.p = b->data, .len = b->len};
    return kiln_registry_blob_push(c, repo, b->digest, (int64_t)b->len, from, mem_read, &m, sent,
                                   err);
}

static int push_image(struct kiln_registry_client *c, const char *repo, const char *tag,
                      const struct image *im, struct kiln_error **err)
{
    char dgst[KILN_OCI_DIGEST_MAX];
    int r = push_blob(c, repo, &im->layer, NULL, NULL, err);
    if (r >= 0)
        r = push_blob(c, repo, &im->config, NULL, NULL, err);
    if (r >= 0)
        r = kiln_registry_manifest_put(c, repo, tag, KILN_OCI_MT_MANIFEST, im->manifest.data,
                                       im->manifest.len, dgst, err);
    if (r >= 0 && strcmp(dgst, im->manifest.digest) != 0)
        r = kiln_error_set(err, KILN_E_INVALID, "put gave %s", dgst);
    return r;
}

static int pull(struct kiln_registry_client *c, const char *name,
                const struct kiln_oci_platform *platform, struct kiln_registry_manifest **ret,
                struct kiln_error **err)
{
    _cleanup_(kiln_oci_ref_freep) struct kiln_oci_ref *ref = NULL;
    int r = kiln_oci_ref_parse_normalized(name, &ref, err);
    return r < 0 ? r : kiln_registry_pull_manifest(c, ref, platform, ret, err);
}

static bool same_manifest(const struct kiln_registry_manifest *m, const struct blob *b)
{
    return m && m->len == b->len && memcmp(m->data, b->data, b->len) == 0 &&
           strcmp(m->digest, b->digest) == 0 && strcmp(m->media_type, KILN_OCI_MT_MANIFEST) == 0;
}

static bool file_is(const char *path, const struct blob *b)
{
    _cleanup_fclose_ FILE *f = fopen(path, "rbe");
    struct stat st;
    if (!f || fstat(fileno(f), &st) < 0 || (size_t)st.st_size != b->len)
        return false;
    char *p = kiln_xmalloc(b->len + 1);
    bool same = fread(p, 1, b->len + 1, f) == b->len && memcmp(p, b->data, b->len) == 0;
    free(p);
    return same;
}

/* How many entries `dir` has besides . and .. */
static unsigned entries(const char *dir)
{
    _cleanup_closedir_ DIR *d = opendir(dir);
    unsigned n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    return n;
}

static void test_push_and_pull_back(void)
{
    struct kiln_registry_client *c = client(reg, NULL, NULL, 0);
    struct kiln_error *err = NULL;
    struct image im;
    uint64_t sent = 99;
    image_make(&im, "amd64", 1);
    check(push_blob(c, "app", &im.layer, NULL, &sent, &err), KILN_REGISTRY_PUSHED, &err,
          "push a layer");
    tap_ok(sent == im.layer.len, "bytes sent are the layer's (%llu)", (unsigned long long)sent);
    check(push_image(c, "app", "1", &im, &err), 0, &err, "push config and manifest as app:1");
    check(push_blob(c, "app", &im.layer, NULL, &sent, &err), KILN_REGISTRY_EXISTS, &err,
          "a second push of the layer finds it there");
    tap_ok(sent == 0, "and sends nothing");

    struct kiln_registry_manifest *m = NULL;
    _cleanup_free_ char *by_tag = kiln_xasprintf("%s/app:1", reg);
    _cleanup_free_ char *by_digest = kiln_xasprintf("%s/app@%s", reg, im.manifest.digest);
    if (check(pull(c, by_tag, NULL, &m, &err), 0, &err, "pull app:1"))
        tap_ok(same_manifest(m, &im.manifest), "by tag: the manifest pushed, its digest");
    kiln_registry_manifest_free(m);
    m = NULL;
    if (check(pull(c, by_digest, NULL, &m, &err), 0, &err, "pull app@digest"))
        tap_ok(same_manifest(m, &im.manifest), "by digest: the manifest pushed");
    kiln_registry_manifest_free(m);

    int64_t size = 0;
    check(kiln_registry_blob_stat(c, "app", im.layer.digest, &size, &err), 1, &err,
          "HEAD finds the layer");
    tap_ok(size == (int64_t)im.layer.len, "with its size");
    _cleanup_free_ char *dir = kiln_xasprintf("%s/blobs", tmpdir);
    _cleanup_free_ char *path = kiln_xasprintf("%s/layer", dir);
    mkdir(dir, 0700);
    check(kiln_registry_blob_get_file(c, "app", im.layer.digest, (int64_t)im.layer.len, path, &err),
          0, &err, "fetch the layer to a file");
    tap_ok(file_is(path, &im.layer), "the file holds the layer");
    unlink(path);
    check_fail(kiln_registry_blob_get_file(c, "app", im.layer.digest, (int64_t)im.layer.len - 1,
                                           path, &err),
               KILN_E_UPSTREAM, &err, "blob is longer than its", "a blob longer than declared");
    check_fail(kiln_registry_blob_get_file(c, "app", im.layer.digest, (int64_t)im.layer.len + 1,
                                           path, &err),
               KILN_E_UPSTREAM, &err, "blob ended after", "a blob shorter than declared");
    tap_ok(entries(dir) == 0, "failed fetches leave nothing behind (%u entries)", entries(dir));
    image_release(&im);
    kiln_registry_client_free(c);
}

static void test_not_found(void)
{
    struct kiln_registry_client *c = client(reg, NULL, NULL, 0);
    struct kiln_error *err = NULL;
    struct kiln_registry_manifest *m = NULL;
    _cleanup_free_ char *name = kiln_xasprintf("%s/app:missing", reg);
    _cleanup_free_ char *want = kiln_xasprintf(
            "pull '%s/app:missing': GET /v2/app/manifests/missing: 404 manifest unknown", reg);
    check_fail(pull(c, name, NULL, &m, &err), KILN_E_NOTFOUND, &err, want, "a missing tag");
    struct blob b;
    blob_random(&b, 10, 7);
    check(kiln_registry_blob_stat(c, "app", b.digest, NULL, &err), 0, &err,
          "HEAD of a missing blob says absent");
    check_fail(kiln_registry_blob_get(c, "app", b.digest, 10, buf_write, NULL, &err),
               KILN_E_NOTFOUND, &err, "404 blob unknown", "GET of a missing blob");
    check_fail(
            kiln_registry_blob_get(c, "app", "sha256:../../etc/passwd", 10, buf_write, NULL, &err),
            KILN_E_INVALID, &err, "invalid", "a malformed digest never reaches a URL");
    free(b.data);
    kiln_registry_client_free(c);
}

static void test_chunked(void)
{
    struct kiln_registry_client *c = client(reg, NULL, NULL, 16384);
    struct kiln_error *err = NULL;
    struct blob b, other;
    uint64_t sent = 0;
    blob_random(&b, 50000, 3);
    check(push_blob(c, "chunks", &b, NULL, &sent, &err), KILN_REGISTRY_PUSHED, &err,
          "a chunked upload of 50000 bytes in 16 KiB chunks");
    tap_ok(sent == b.len, "bytes sent: %llu", (unsigned long long)sent);
    _cleanup_buf_ struct kiln_buf got = KILN_BUF_INIT(1 << 20);
    check(kiln_registry_blob_get(c, "chunks", b.digest, (int64_t)b.len, buf_write, &got, &err), 0,
          &err, "fetch it back");
    tap_ok(got.len == b.len && memcmp(got.buf, b.data, b.len) == 0, "the same bytes");

    /* A source whose bytes are not the digest's: refused before the commit. */
    blob_random(&other, 50000, 4);
    struct mem_reader m = {.p = other.data, .len = other.len};
    free(b.data);
    blob_random(&b, 50000, 5);
    check_fail(
            kiln_registry_blob_push(c, "chunks", b.digest, 50000, NULL, mem_read, &m, NULL, &err),
            KILN_E_INVALID, &err, "the data's digest is", "chunks of other data");
    check(kiln_registry_blob_stat(c, "chunks", b.digest, NULL, &err), 0, &err,
          "and the registry has no blob under that digest");
    free(b.data);
    free(other.data);
    kiln_registry_client_free(c);
}

static void test_mount(void)
{
    struct kiln_registry_client *c = client(reg, NULL, NULL, 0);
    struct kiln_error *err = NULL;
    struct blob b;
    uint64_t sent = 1;
    blob_random(&b, 20000, 11);
    check(push_blob(c, "src/one", &b, NULL, NULL, &err), KILN_REGISTRY_PUSHED, &err,
          "push a blob to src/one");
    check(push_blob(c, "dst/two", &b, "src/one", &sent, &err), KILN_REGISTRY_MOUNTED, &err,
          "mount it into dst/two");
    tap_ok(sent == 0, "a mount sends no bytes");
    check(kiln_registry_blob_stat(c, "dst/two", b.digest, NULL, &err), 1, &err,
          "dst/two has it now");
    free(b.data);
    kiln_registry_client_free(c);
}

static void pull_platform(struct kiln_registry_client *c, const char *name, const char *spec,
                          const struct blob *want)
{
    struct kiln_oci_platform p;
    struct kiln_registry_manifest *m = NULL;
    struct kiln_error *err = NULL;
    if (kiln_oci_platform_parse(spec, &p, NULL) < 0)
        abort();
    if (check(pull(c, name, &p, &m, &err), 0, &err, spec))
        tap_ok(same_manifest(m, want), "%s: the %s manifest", spec, spec);
    kiln_registry_manifest_free(m);
    kiln_oci_platform_release(&p);
}

static void test_index(void)
{
    struct kiln_registry_client *c = client(reg, NULL, NULL, 0);
    struct kiln_error *err = NULL;
    struct image amd, arm;
    char dgst[KILN_OCI_DIGEST_MAX];
    image_make(&amd, "amd64", 21);
    image_make(&arm, "arm64", 22);
    check(push_image(c, "multi", amd.manifest.digest, &amd, &err), 0, &err, "push amd64 image");
    check(push_image(c, "multi", arm.manifest.digest, &arm, &err), 0, &err, "push arm64 image");
    _cleanup_free_ char *index = kiln_xasprintf(
            "{\"schemaVersion\":2,\"mediaType\":\"" KILN_OCI_MT_INDEX "\",\"manifests\":["
            "{\"mediaType\":\"" KILN_OCI_MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
            "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
            "{\"mediaType\":\"" KILN_OCI_MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
            "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}}]}",
            amd.manifest.digest, amd.manifest.len, arm.manifest.digest, arm.manifest.len);
    check(kiln_registry_manifest_put(c, "multi", "latest", KILN_OCI_MT_INDEX, index, strlen(index),
                                     dgst, &err),
          0, &err, "push the index as multi:latest");
    _cleanup_free_ char *name = kiln_xasprintf("%s/multi", reg);
    pull_platform(c, name, "linux/amd64", &amd.manifest);
    pull_platform(c, name, "linux/arm64", &arm.manifest);

    struct kiln_registry_manifest *m = NULL;
    if (check(pull(c, name, NULL, &m, &err), 0, &err, "pull the index itself"))
        tap_ok(strcmp(m->media_type, KILN_OCI_MT_INDEX) == 0 && strcmp(m->digest, dgst) == 0,
               "an index, with the digest it was pushed with");
    kiln_registry_manifest_free(m);
    struct kiln_oci_platform s390x;
    kiln_oci_platform_parse("linux/s390x", &s390x, NULL);
    check_fail(pull(c, name, &s390x, &m, &err), KILN_E_NOTFOUND, &err,
               "no manifest for platform 'linux/s390x'", "a platform the index lacks");
    kiln_oci_platform_release(&s390x);
    image_release(&amd);
    image_release(&arm);
    kiln_registry_client_free(c);
}

static void test_basic_auth(void)
{
    struct kiln_error *err = NULL;
    struct kiln_registry_manifest *m = NULL;
    struct image im;
    image_make(&im, "amd64", 31);
    _cleanup_free_ char *name = kiln_xasprintf("%s/secure:1", auth_reg);

    struct kiln_registry_client *c = client(auth_reg, NULL, NULL, 0);
    _cleanup_free_ char *want =
            kiln_xasprintf("pull '%s': GET /v2/secure/manifests/1: 401 unauthorized: "
                           "authentication required; no credentials for '%s'",
                           name, auth_reg);
    check_fail(pull(c, name, NULL, &m, &err), KILN_E_AUTH, &err, want, "anonymous: refused");
    kiln_registry_client_free(c);

    c = client(auth_reg, user, "wrong-password-1234", 0);
    int r = pull(c, name, NULL, &m, &err);
    tap_ok(!strstr(kiln_error_message(err, r), "wrong-password-1234"),
           "the message does not show the password");
    check_fail(r, KILN_E_AUTH, &err, "the registry refused the credentials", "wrong password");
    check_fail(push_blob(c, "secure", &im.layer, NULL, NULL, &err), KILN_E_AUTH, &err,
               "401 unauthorized", "wrong password: no push either");
    kiln_registry_client_free(c);

    c = client(auth_reg, user, password, 0);
    check(push_image(c, "secure", "1", &im, &err), 0, &err, "good credentials: push");
    if (check(pull(c, name, NULL, &m, &err), 0, &err, "good credentials: pull"))
        tap_ok(same_manifest(m, &im.manifest), "the manifest pushed");
    kiln_registry_manifest_free(m);
    kiln_registry_client_free(c);
    image_release(&im);
}

static void test_bearer(void)
{
    struct kiln_error *err = NULL;
    struct kiln_registry_manifest *m = NULL;
    struct image im;
    struct blob b;
    image_make(&im, "amd64", 41);
    blob_random(&b, 3000, 42);
    _cleanup_free_ char *name = kiln_xasprintf("%s/tok/app:1", token_reg);

    struct kiln_registry_client *c = client(token_reg, user, password, 4096);
    check(push_image(c, "tok/app", "1", &im, &err), 0, &err, "Bearer: push with a token");
    if (check(pull(c, name, NULL, &m, &err), 0, &err, "Bearer: pull it back"))
        tap_ok(same_manifest(m, &im.manifest), "Bearer: the manifest pushed");
    kiln_registry_manifest_free(m);
    check(push_blob(c, "tok/src", &b, NULL, NULL, &err), KILN_REGISTRY_PUSHED, &err,
          "Bearer: push a blob to tok/src");
    check(push_blob(c, "tok/dst", &b, "tok/src", NULL, &err), KILN_REGISTRY_MOUNTED, &err,
          "Bearer: mount it into tok/dst (a token for two repositories)");
    kiln_registry_client_free(c);

    c = client(token_reg, NULL, NULL, 0);
    m = NULL;
    check(pull(c, name, NULL, &m, &err), 0, &err, "Bearer: anonymous pull");
    kiln_registry_manifest_free(m);
    check_fail(push_blob(c, "tok/app", &b, NULL, NULL, &err), KILN_E_AUTH, &err, "401 unauthorized",
               "Bearer: anonymous push refused");
    kiln_registry_client_free(c);

    c = client(token_reg, user, "wrong-token-pw", 0);
    m = NULL;
    int r = pull(c, name, NULL, &m, &err);
    tap_ok(!strstr(kiln_error_message(err, r), "wrong-token-pw"), "no password in the message");
    check_fail(r, KILN_E_AUTH, &err, "401 unauthorized: wrong user name or password",
               "Bearer: the token server refuses a wrong password");
    kiln_registry_client_free(c);

    _cleanup_free_ char *refresh = kiln_xasprintf("refresh-%s", password);
    struct kiln_registry_cred id = {.identity_token = refresh};
    c = client_cred(token_reg, &id, 0);
    check(push_blob(c, "tok/id", &b, NULL, NULL, &err), KILN_REGISTRY_PUSHED, &err,
          "Bearer: push with an identity token (OAuth2 refresh)");
    kiln_registry_client_free(c);
    free(b.data);
    image_release(&im);
}

static void test_credentials_file(void)
{
    struct kiln_error *err = NULL;
    struct kiln_registry_cred cred = {.username = (char *)user, .secret = (char *)password};
    struct kiln_registry_cred *got = NULL;
    _cleanup_free_ char *xdg = kiln_xasprintf("%s/xdg", tmpdir);
    _cleanup_free_ char *file = kiln_xasprintf("%s/kiln/credentials.json", xdg);
    struct stat st;
    setenv("XDG_CONFIG_HOME", xdg, 1);
    setenv("DOCKER_CONFIG", xdg, 1); /* no config.json there */
    check(kiln_registry_credentials_lookup(auth_reg, &got, &err), 0, &err,
          "no credentials before login");
    check(kiln_registry_credentials_set(NULL, auth_reg, &cred, &err), 0, &err,
          "store credentials as `kiln login` does");
    tap_ok(stat(file, &st) == 0 && (st.st_mode & 07777) == 0600, "the file is 0600");
    if (check(kiln_registry_credentials_lookup(auth_reg, &got, &err), 1, &err,
              "lookup finds them")) {
        struct kiln_registry_options opts = {.cred = got};
        struct kiln_registry_client *c = NULL;
        struct kiln_registry_manifest *m = NULL;
        _cleanup_free_ char *name = kiln_xasprintf("%s/secure:1", auth_reg);
        kiln_registry_client_new(auth_reg, &opts, &c, NULL);
        check(pull(c, name, NULL, &m, &err), 0, &err, "and they open the registry");
        kiln_registry_manifest_free(m);
        kiln_registry_client_free(c);
        kiln_registry_cred_free(got);
    }
}

int main(void)
{
    reg = getenv("KILN_TEST_REGISTRY");
    auth_reg = getenv("KILN_TEST_AUTH_REGISTRY");
    token_reg = getenv("KILN_TEST_TOKEN_REGISTRY");
    user = getenv("KILN_TEST_USER");
    password = getenv("KILN_TEST_PASSWORD");
    tmpdir = getenv("TMPDIR");
    if (!reg || !auth_reg || !token_reg || !user || !password || !tmpdir) {
        printf("1..0 # SKIP run me through run-registry.sh\n");
        return 0;
    }
    test_push_and_pull_back();
    test_not_found();
    test_chunked();
    test_mount();
    test_index();
    test_basic_auth();
    test_bearer();
    test_credentials_file();
    return tap_done("registry e2e");
}
