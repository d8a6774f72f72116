/* SPDX-License-Identifier: Apache-2.0 */
/*
 * credentials.c - kiln's credentials file (read, and written atomically
 * 0600), the parts of Docker's format it shares, and the lookup that tries
 * kiln's file, then Docker's.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "internal.h"
#include "oci/json.h"

#include "base/banned.h"

static void free_secret(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    free(s);
}

void kiln_registry_cred_free(struct kiln_registry_cred *c)
{
    if (!c)
        return;
    free_secret(c->username);
    free_secret(c->secret);
    free_secret(c->identity_token);
    free(c);
}

static char *dup_or_null(const char *s)
{
    return s && s[0] ? kiln_xstrdup(s) : NULL;
}

struct kiln_registry_cred *kiln_registry_cred_dup(const struct kiln_registry_cred *c)
{
    if (!c)
        return NULL;
    struct kiln_registry_cred *d = kiln_xcalloc(1, sizeof(*d));
    d->username = dup_or_null(c->username);
    d->secret = dup_or_null(c->secret);
    d->identity_token = dup_or_null(c->identity_token);
    return d;
}

char *kiln_registry_cred_key(const char *server)
{
    static const char *const hub[] = {"docker.io", "index.docker.io", "registry-1.docker.io"};
    const char *s = server;
    if (strncmp(s, "https://", 8) == 0)
        s += 8;
    else if (strncmp(s, "http://", 7) == 0)
        s += 7;
    char *key = kiln_xstrndup(s, strcspn(s, "/"));
    for (char *p = key; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    for (size_t i = 0; i < ELEMENTSOF(hub); i++)
        if (strcmp(key, hub[i]) == 0) {
            free(key);
            return kiln_xstrdup("docker.io");
        }
    return key;
}

int kiln_registry_credentials_path(char **ret, struct kiln_error **err)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        *ret = kiln_xasprintf("%s/kiln/credentials.json", xdg);
    else if (home && home[0])
        *ret = kiln_xasprintf("%s/.config/kiln/credentials.json", home);
    else
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "neither XDG_CONFIG_HOME nor HOME is set: no credentials file");
    return 0;
}

int kiln_registry_read_file(const char *path, struct kiln_buf *out, struct kiln_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT ? -ENOENT : kiln_error_set_errno(err, -errno, "open '%s'", path);
    for (;;) {
        if (kiln_buf_grow(out, 4096) < 0)
            return kiln_error_set(err, KILN_E_LIMIT, "'%s' is larger than %zu bytes", path,
                                  out->max);
        ssize_t n = read(fd, out->buf + out->len, out->alloc - out->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_error_set_errno(err, -errno, "read '%s'", path);
        if (n == 0)
            return 0;
        out->len += (size_t)n;
        out->buf[out->len] = '\0';
    }
}

int kiln_registry_json_parse(const char *file, const char *text, size_t len, json_t **ret,
                             struct kiln_error **err)
{
    json_error_t je;
    /* (jansson's message may quote the text, which may hold a secret: not used.) */
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return kiln_error_set(err, KILN_E_INVALID, "'%s' is not valid JSON (line %d, column %d)",
                              file, je.line, je.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return kiln_error_set(err, KILN_E_INVALID, "'%s' is not a JSON object", file);
    }
    *ret = root;
    return 0;
}

static int string_field(const json_t *entry, const char *key, const char *file, char **ret,
                        struct kiln_error **err)
{
    json_t *v = json_object_get(entry, key);
    if (v && !json_is_string(v))
        return kiln_error_set(err, KILN_E_INVALID, "'%s': '%s' is not a string", file, key);
    *ret = dup_or_null(json_string_value(v));
    return 0;
}

/* "auth": base64 of "user:password". */
static int decode_auth(const char *b64, const char *file, struct kiln_registry_cred *c,
                       struct kiln_error **err)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    if (!kiln_oci_base64_decode(b64, &raw, &len))
        return kiln_error_set(err, KILN_E_INVALID, "'%s': 'auth' is not valid base64", file);
    char *colon = raw ? memchr(raw, ':', len) : NULL;
    int r = 0;
    if (!colon || memchr(raw, '\0', len))
        r = kiln_error_set(err, KILN_E_INVALID, "'%s': 'auth' is not 'user:password'", file);
    if (r >= 0) {
        free_secret(c->username);
        free_secret(c->secret);
        c->username = kiln_xstrndup((char *)raw, (size_t)(colon - (char *)raw));
        c->secret = kiln_xstrndup(colon + 1, len - (size_t)(colon + 1 - (char *)raw));
    }
    if (raw)
        explicit_bzero(raw, len);
    free(raw);
    return r;
}

int kiln_registry_cred_from_json(const json_t *entry, const char *file,
                                 struct kiln_registry_cred **ret, struct kiln_error **err)
{
    if (!json_is_object(entry))
        return kiln_error_set(err, KILN_E_INVALID, "'%s': an 'auths' entry is not an object", file);
    _cleanup_(kiln_registry_cred_freep) struct kiln_registry_cred *c = kiln_xcalloc(1, sizeof(*c));
    _cleanup_free_ char *auth = NULL;
    int r = string_field(entry, "username", file, &c->username, err);
    if (r >= 0)
        r = string_field(entry, "password", file, &c->secret, err);
    if (r >= 0)
        r = string_field(entry, "identitytoken", file, &c->identity_token, err);
    if (r >= 0)
        r = string_field(entry, "auth", file, &auth, err);
    if (r >= 0 && auth)
        r = decode_auth(auth, file, c, err);
    if (auth)
        explicit_bzero(auth, strlen(auth));
    if (r < 0)
        return r;
    if (!c->secret && !c->identity_token)
        return 0;
    *ret = TAKE_PTR(c);
    return 1;
}

/* The parsed file at `path`, or a new {"auths": {}} when it does not exist. */
static int load(const char *path, bool create, json_t **ret, struct kiln_error **err)
{
    _cleanup_buf_ struct kiln_buf text = KILN_BUF_INIT(KILN_REGISTRY_CREDENTIALS_MAX);
    int r = kiln_registry_read_file(path, &text, err);
    json_t *root = NULL;
    if (r == -ENOENT && create)
        root = json_pack("{s:{}}", "auths");
    else if (r >= 0)
        r = kiln_registry_json_parse(path, text.buf, text.len, &root, err);
    explicit_bzero(text.buf, text.len);
    if (r < 0 && !root)
        return r == -ENOENT ? 0 : r;
    json_t *auths = json_object_get(root, "auths");
    if (!json_is_object(auths)) {
        json_decref(root);
        return kiln_error_set(err, KILN_E_INVALID, "'%s': 'auths' is not an object", path);
    }
    *ret = root;
    return 1;
}

/* The entry of `auths` whose key names the same registry as `server`. */
static json_t *find_entry(json_t *auths, const char *server, const char **ret_key)
{
    _cleanup_free_ char *want = kiln_registry_cred_key(server);
    const char *key;
    json_t *v;
    json_object_foreach (auths, key, v) {
        _cleanup_free_ char *k = kiln_registry_cred_key(key);
        if (strcmp(k, want) == 0) {
            if (ret_key)
                *ret_key = key;
            return v;
        }
    }
    return NULL;
}

int kiln_registry_credentials_get(const char *path, const char *server,
                                  struct kiln_registry_cred **ret, struct kiln_error **err)
{
    _cleanup_free_ char *def = NULL;
    if (!path) {
        int r = kiln_registry_credentials_path(&def, err);
        if (r < 0)
            return r == KILN_E_NOTFOUND ? 0 : r;
        path = def;
    }
    json_t *root = NULL;
    int r = load(path, false, &root, err);
    if (r <= 0)
        return r;
    json_t *entry = find_entry(json_object_get(root, "auths"), server, NULL);
    r = entry ? kiln_registry_cred_from_json(entry, path, ret, err) : 0;
    json_decref(root);
    return r;
}

/* mkdir -p of the directory that holds `path`, new directories 0700. */
static int make_parents(const char *path, struct kiln_error **err)
{
    _cleanup_free_ char *dir = kiln_xstrdup(path);
    for (char *p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return kiln_error_set_errno(err, -errno, "mkdir '%s'", dir);
        *p = '/';
    }
    return 0;
}

int kiln_registry_write_all(int fd, const void *p, size_t n)
{
    const char *q = p;
    while (n > 0) {
        ssize_t w = write(fd, q, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

int kiln_registry_tmpfile_open(struct kiln_registry_tmpfile *t, const char *path,
                               struct kiln_error **err)
{
    _cleanup_free_ char *tmp = kiln_xasprintf("%s.tmp-XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "create a temporary file beside '%s'", path);
    *t = (struct kiln_registry_tmpfile){.path = kiln_xstrdup(path), .tmp = TAKE_PTR(tmp), .fd = fd};
    return 0;
}

int kiln_registry_tmpfile_commit(struct kiln_registry_tmpfile *t, struct kiln_error **err)
{
    if (fsync(t->fd) < 0 || rename(t->tmp, t->path) < 0)
        return kiln_error_set_errno(err, -errno, "write '%s'", t->path);
    free(t->tmp);
    t->tmp = NULL;
    const char *slash = strrchr(t->path, '/');
    _cleanup_free_ char *dir = slash ? kiln_xstrndup(t->path, (size_t)(slash - t->path)) : NULL;
    _cleanup_close_ int dfd = open(!dir     ? "."
                                   : dir[0] ? dir
                                            : "/",
                                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        (void)fsync(dfd);
    return 0;
}

void kiln_registry_tmpfile_release(struct kiln_registry_tmpfile *t)
{
    if (t->tmp)
        (void)unlink(t->tmp);
    if (t->fd >= 0)
        close(t->fd);
    free(t->tmp);
    free(t->path);
    *t = (struct kiln_registry_tmpfile){.fd = -1};
}

/* Writes `text` to path through a temporary file, fsync and rename. */
static int replace_file(const char *path, const char *text, struct kiln_error **err)
{
    struct kiln_registry_tmpfile t;
    int r = kiln_registry_tmpfile_open(&t, path, err);
    if (r < 0)
        return r;
    r = kiln_registry_write_all(t.fd, text, strlen(text));
    if (r < 0)
        r = kiln_error_set_errno(err, r, "write '%s'", path);
    else
        r = kiln_registry_tmpfile_commit(&t, err);
    kiln_registry_tmpfile_release(&t);
    return r;
}

static json_t *cred_to_json(const struct kiln_registry_cred *cred)
{
    json_t *e = json_object();
    if (cred->username)
        json_object_set_new(e, "username", json_string(cred->username));
    if (cred->secret)
        json_object_set_new(e, "password", json_string(cred->secret));
    if (cred->identity_token)
        json_object_set_new(e, "identitytoken", json_string(cred->identity_token));
    return e;
}

int kiln_registry_credentials_set(const char *path, const char *server,
                                  const struct kiln_registry_cred *cred, struct kiln_error **err)
{
    _cleanup_free_ char *def = NULL, *key = kiln_registry_cred_key(server);
    int r = path ? 0 : kiln_registry_credentials_path(&def, err);
    if (r < 0)
        return r;
    path = path ? path : def;
    if (!strchr(path, '/'))
        return kiln_error_set(err, KILN_E_INVALID, "credentials file '%s' is not a path", path);
    r = make_parents(path, err);
    json_t *root = NULL;
    if (r >= 0)
        r = load(path, true, &root, err);
    if (r < 0)
        return r;
    json_t *auths = json_object_get(root, "auths");
    const char *old = NULL;
    if (find_entry(auths, server, &old))
        json_object_del(auths, old);
    if (cred)
        json_object_set_new(auths, key, cred_to_json(cred));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    if (!text)
        return kiln_error_set(err, -ENOMEM, "cannot write credentials");
    r = replace_file(path, text, err);
    explicit_bzero(text, strlen(text));
    free(text);
    return r;
}

/* Credentials handed over in memory (kiln_registry_credentials_preset), by key. */
static pthread_mutex_t preset_lock = PTHREAD_MUTEX_INITIALIZER;
static struct preset {
    char *key;
    struct kiln_registry_cred *cred;
} * presets;
static size_t n_presets;

void kiln_registry_credentials_preset(const char *server, const struct kiln_registry_cred *cred)
{
    char *key = kiln_registry_cred_key(server);
    pthread_mutex_lock(&preset_lock);
    presets = kiln_xrealloc(presets, (n_presets + 1) * sizeof(*presets));
    presets[n_presets++] = (struct preset){key, kiln_registry_cred_dup(cred)};
    pthread_mutex_unlock(&preset_lock);
}

static int preset_get(const char *server, struct kiln_registry_cred **ret)
{
    _cleanup_free_ char *key = kiln_registry_cred_key(server);
    int found = 0;
    pthread_mutex_lock(&preset_lock);
    for (size_t i = n_presets; i > 0 && !found; i--)
        if (strcmp(presets[i - 1].key, key) == 0) {
            *ret = kiln_registry_cred_dup(presets[i - 1].cred);
            found = 1;
        }
    pthread_mutex_unlock(&preset_lock);
    return found;
}

int kiln_registry_credentials_lookup(const char *server, struct kiln_registry_cred **ret,
                                     struct kiln_error **err)
{
    if (preset_get(server, ret))
        return 1;
    int r = kiln_registry_credentials_get(NULL, server, ret, err);
    if (r != 0)
        return r;
    return kiln_registry_docker_config_get(NULL, server, ret, err);
}
