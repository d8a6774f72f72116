/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builders.c - the builders file (builders.h, docs/internals/client-cloud.md).
 */
#include "builders.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "registry/credentials.h"

#include "base/banned.h"

struct kiln_builders {
    char *path;
    json_t *root; /* always has "builders" and "servers" objects */
};

void kiln_builder_entry_free(struct kiln_builder_entry *b)
{
    if (!b)
        return;
    free(b->name);
    free(b->driver);
    free(b->endpoint);
    free(b->builder);
    free(b);
}

int kiln_builder_name_check(const char *name, struct kiln_error **err)
{
    size_t n = strlen(name);
    bool ok = n > 0 && n <= KILN_BUILDER_NAME_MAX && isalpha((unsigned char)name[0]);
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)name[i]) || strchr("._-", name[i]);
    if (!ok)
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid builder name '%.*s': it starts with a letter and holds "
                              "letters, digits, '.', '_' and '-' (at most %u)",
                              (int)KILN_BUILDER_NAME_MAX, name, KILN_BUILDER_NAME_MAX);
    return 0;
}

/* One part of ACCOUNT/NAME: n bytes at p. */
static bool ref_part_ok(const char *p, size_t n)
{
    if (n == 0 || n > KILN_BUILDER_NAME_MAX || (n == 1 && p[0] == '.') ||
        (n == 2 && p[0] == '.' && p[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && !strchr("._-", p[i]))
            return false;
    return true;
}

int kiln_builder_ref_check(const char *ref, struct kiln_error **err)
{
    const char *slash = strchr(ref, '/');
    if (!slash || !ref_part_ok(ref, (size_t)(slash - ref)) ||
        !ref_part_ok(slash + 1, strlen(slash + 1)))
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid cloud builder '%.*s': write ACCOUNT/NAME, each of letters, "
                              "digits, '.', '_' and '-'",
                              (int)(2 * KILN_BUILDER_NAME_MAX + 1), ref);
    return 0;
}

char *kiln_builder_default_name(const char *ref)
{
    char *s = kiln_xasprintf("cloud-%s", ref);
    for (char *p = s; *p; p++)
        *p = *p == '/' ? '-' : (char)tolower((unsigned char)*p);
    return s;
}

int kiln_builders_path(char **ret, struct kiln_error **err)
{
    _cleanup_free_ char *creds = NULL;
    int r = kiln_registry_credentials_path(&creds, err);
    if (r < 0)
        return r;
    *ret = kiln_xasprintf("%s/builders.json", dirname(creds));
    return 0;
}

static int invalid(const char *path, const char *what, const char *name, struct kiln_error **err)
{
    return kiln_error_set(err, KILN_E_INVALID,
                          "'%s': %s%s%s: fix or remove the file (kiln create writes it)", path,
                          what, name ? " " : "", name ? name : "");
}

static bool is_url(const char *s)
{
    return s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0);
}

static int check_builders(const char *path, json_t *builders, struct kiln_error **err)
{
    if (!json_is_object(builders))
        return invalid(path, "\"builders\" is not an object", NULL, err);
    if (json_object_size(builders) > KILN_BUILDERS_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "'%s' holds more than %u builders", path,
                              KILN_BUILDERS_MAX);
    const char *name;
    json_t *b;
    json_object_foreach (builders, name, b) {
        const char *driver = json_string_value(json_object_get(b, "driver"));
        const char *ref = json_string_value(json_object_get(b, "builder"));
        if (kiln_builder_name_check(name, NULL) < 0 || strcmp(name, KILN_BUILDER_DEFAULT) == 0)
            return invalid(path, "invalid builder name", name, err);
        if (!driver || strcmp(driver, "cloud") != 0 ||
            !is_url(json_string_value(json_object_get(b, "endpoint"))) || !ref ||
            kiln_builder_ref_check(ref, NULL) < 0)
            return invalid(path,
                           "needs driver \"cloud\", an http(s) endpoint and ACCOUNT/NAME "
                           "in builder",
                           name, err);
    }
    return 0;
}

static int check_servers(const char *path, json_t *servers, struct kiln_error **err)
{
    if (!json_is_object(servers))
        return invalid(path, "\"servers\" is not an object", NULL, err);
    if (json_object_size(servers) > KILN_BUILDERS_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "'%s' holds more than %u servers", path,
                              KILN_BUILDERS_MAX);
    const char *key;
    json_t *s;
    json_object_foreach (servers, key, s) {
        if (!is_url(json_string_value(json_object_get(s, "endpoint"))))
            return invalid(path, "needs an http(s) endpoint in server", key, err);
    }
    return 0;
}

static int parse(const char *path, const struct kiln_buf *text, json_t **ret,
                 struct kiln_error **err)
{
    json_error_t je;
    json_t *root = text->len ? json_loadb(text->buf, text->len, JSON_REJECT_DUPLICATES, &je)
                             : json_object();
    if (!root)
        return kiln_error_set(err, KILN_E_INVALID,
                              "'%s' is not valid JSON (line %d, column %d): fix or remove it", path,
                              je.line, je.column);
    int r = json_is_object(root) ? 0 : invalid(path, "not a JSON object", NULL, err);
    json_t *cur = json_object_get(root, "current");
    if (r >= 0 && cur && !json_is_string(cur))
        r = invalid(path, "\"current\" is not a string", NULL, err);
    for (int i = 0; r >= 0 && i < 2; i++) {
        const char *key = i ? "servers" : "builders";
        if (!json_object_get(root, key))
            json_object_set_new(root, key, json_object());
        json_t *v = json_object_get(root, key);
        r = i ? check_servers(path, v, err) : check_builders(path, v, err);
    }
    if (r < 0) {
        json_decref(root);
        return r;
    }
    *ret = root;
    return 0;
}

int kiln_builders_load(const char *path, struct kiln_builders **ret, struct kiln_error **err)
{
    _cleanup_free_ char *p = NULL;
    if (path)
        p = kiln_xstrdup(path);
    else {
        int r = kiln_builders_path(&p, err);
        if (r < 0)
            return r;
    }
    _cleanup_buf_ struct kiln_buf text = KILN_BUF_INIT(KILN_BUILDERS_FILE_MAX);
    int r = kiln_buf_read_file(&text, p);
    if (r == KILN_E_LIMIT)
        return kiln_error_set(err, r, "'%s' is larger than %u bytes", p, KILN_BUILDERS_FILE_MAX);
    if (r < 0 && r != -ENOENT)
        return kiln_error_set_errno(err, r, "cannot read '%s'", p);
    json_t *root = NULL;
    if ((r = parse(p, &text, &root, err)) < 0)
        return r;
    struct kiln_builders *bs = kiln_xcalloc(1, sizeof(*bs));
    bs->path = TAKE_PTR(p);
    bs->root = root;
    *ret = bs;
    return 0;
}

static int make_dir(const char *path, struct kiln_error **err)
{
    _cleanup_free_ char *copy = kiln_xstrdup(path);
    char *dir = dirname(copy);
    for (char *s = dir + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return kiln_error_set_errno(err, -errno, "cannot create '%s'", dir);
        *s = '/';
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", dir);
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int kiln_builders_save(const struct kiln_builders *bs, struct kiln_error **err)
{
    int r = make_dir(bs->path, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *text = json_dumps(bs->root, JSON_INDENT(2));
    _cleanup_free_ char *tmp = kiln_xasprintf("%s.XXXXXX", bs->path);
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot create a file beside '%s'", bs->path);
    if (fchmod(fd, 0600) < 0 || (r = write_all(fd, text, strlen(text))) < 0 ||
        write_all(fd, "\n", 1) < 0 || fsync(fd) < 0 || rename(tmp, bs->path) < 0) {
        r = r < 0 ? r : -errno;
        unlink(tmp);
        return kiln_error_set_errno(err, r, "cannot write '%s'", bs->path);
    }
    _cleanup_free_ char *copy = kiln_xstrdup(bs->path);
    _cleanup_close_ int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        (void)fsync(dfd);
    return 0;
}

void kiln_builders_free(struct kiln_builders *bs)
{
    if (!bs)
        return;
    json_decref(bs->root);
    free(bs->path);
    free(bs);
}

static json_t *builders_of(const struct kiln_builders *bs)
{
    return json_object_get(bs->root, "builders");
}

int kiln_builders_get(const struct kiln_builders *bs, const char *name,
                      struct kiln_builder_entry **ret, struct kiln_error **err)
{
    struct kiln_builder_entry *e = kiln_xcalloc(1, sizeof(*e));
    e->name = kiln_xstrdup(name);
    json_t *b = json_object_get(builders_of(bs), name);
    if (strcmp(name, KILN_BUILDER_DEFAULT) == 0) {
        e->driver = kiln_xstrdup("local");
    } else if (b) {
        e->driver = kiln_xstrdup(json_string_value(json_object_get(b, "driver")));
        e->endpoint = kiln_xstrdup(json_string_value(json_object_get(b, "endpoint")));
        e->builder = kiln_xstrdup(json_string_value(json_object_get(b, "builder")));
    } else {
        kiln_builder_entry_free(e);
        return kiln_error_set(err, KILN_E_NOTFOUND, "no builder named %s: kiln ls lists them",
                              name);
    }
    *ret = e;
    return 0;
}

void kiln_builders_names(const struct kiln_builders *bs, struct kiln_strv *ret)
{
    kiln_strv_push(ret, KILN_BUILDER_DEFAULT);
    const char *name;
    json_t *b;
    json_object_foreach (builders_of(bs), name, b)
        kiln_strv_push(ret, name);
}

const char *kiln_builders_current(const struct kiln_builders *bs)
{
    const char *cur = json_string_value(json_object_get(bs->root, "current"));
    return cur && json_object_get(builders_of(bs), cur) ? cur : KILN_BUILDER_DEFAULT;
}

int kiln_builders_add(struct kiln_builders *bs, const struct kiln_builder_entry *e,
                      struct kiln_error **err)
{
    int r = kiln_builder_name_check(e->name, err);
    if (r < 0)
        return r;
    if (strcmp(e->name, KILN_BUILDER_DEFAULT) == 0 || json_object_get(builders_of(bs), e->name))
        return kiln_error_set(err, KILN_E_CONFLICT,
                              "a builder named %s exists: kiln rm %s first, or choose another "
                              "--name",
                              e->name, e->name);
    if (!e->driver || strcmp(e->driver, "cloud") != 0 || !is_url(e->endpoint))
        return kiln_error_set(err, KILN_E_INVALID,
                              "builder %s: kiln stores cloud builders with an http(s) endpoint",
                              e->name);
    if ((r = kiln_builder_ref_check(e->builder ? e->builder : "", err)) < 0)
        return r;
    if (json_object_size(builders_of(bs)) >= KILN_BUILDERS_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "kiln keeps at most %u builders: kiln rm one",
                              KILN_BUILDERS_MAX);
    json_object_set_new(builders_of(bs), e->name,
                        json_pack("{s:s, s:s, s:s}", "driver", e->driver, "endpoint", e->endpoint,
                                  "builder", e->builder));
    return 0;
}

int kiln_builders_remove(struct kiln_builders *bs, const char *name, struct kiln_error **err)
{
    if (strcmp(name, KILN_BUILDER_DEFAULT) == 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "the builder default is kiln's own engine and cannot be removed");
    if (json_object_del(builders_of(bs), name) < 0)
        return kiln_error_set(err, KILN_E_NOTFOUND, "no builder named %s: kiln ls lists them",
                              name);
    const char *cur = json_string_value(json_object_get(bs->root, "current"));
    if (cur && strcmp(cur, name) == 0)
        json_object_del(bs->root, "current");
    return 0;
}

int kiln_builders_use(struct kiln_builders *bs, const char *name, struct kiln_error **err)
{
    if (strcmp(name, KILN_BUILDER_DEFAULT) == 0) {
        json_object_del(bs->root, "current");
        return 0;
    }
    if (!json_object_get(builders_of(bs), name))
        return kiln_error_set(err, KILN_E_NOTFOUND, "no builder named %s: kiln ls lists them",
                              name);
    json_object_set_new(bs->root, "current", json_string(name));
    return 0;
}

int kiln_builders_add_server(struct kiln_builders *bs, const char *endpoint, long long now,
                             struct kiln_error **err)
{
    json_t *servers = json_object_get(bs->root, "servers");
    _cleanup_free_ char *key = kiln_registry_cred_key(endpoint);
    if (!json_object_get(servers, key) && json_object_size(servers) >= KILN_BUILDERS_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "kiln keeps at most %u servers",
                              KILN_BUILDERS_MAX);
    if (!is_url(endpoint))
        return kiln_error_set(err, KILN_E_INVALID, "kilnd endpoint '%s' is not an http(s) URL",
                              endpoint);
    json_object_set_new(
            servers, key,
            json_pack("{s:s, s:I}", "endpoint", endpoint, "logged_in", (json_int_t)now));
    return 0;
}

int kiln_builders_server(const struct kiln_builders *bs, char **ret, struct kiln_error **err)
{
    const char *key, *best = NULL;
    json_int_t best_at = 0;
    json_t *s;
    json_object_foreach (json_object_get(bs->root, "servers"), key, s) {
        json_int_t at = json_integer_value(json_object_get(s, "logged_in"));
        if (!best || at >= best_at) {
            best = json_string_value(json_object_get(s, "endpoint"));
            best_at = at;
        }
    }
    if (!best)
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "no kilnd server to create the builder on: kiln login SERVER "
                              "first, or give --endpoint SERVER");
    *ret = kiln_xstrdup(best);
    return 0;
}

int kiln_builder_select(const char *flag, struct kiln_builder_entry **ret, struct kiln_error **err)
{
    _cleanup_(kiln_builders_freep) struct kiln_builders *bs = NULL;
    int r = kiln_builders_load(NULL, &bs, err);
    if (r < 0)
        return r;
    const char *name = flag;
    const char *env[] = {"KILN_BUILDER", "BUILDX_BUILDER"};
    for (size_t i = 0; !name && i < ELEMENTSOF(env); i++) {
        const char *v = getenv(env[i]);
        if (v && *v)
            name = v;
    }
    return kiln_builders_get(bs, name ? name : kiln_builders_current(bs), ret, err);
}
