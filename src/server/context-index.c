/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-index.c - a client's context index: checked as hostile input, and
 * compared with the builder's store.
 */
#include "context-sync.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "store/content.h"

#include "base/banned.h"

/* An entry's path, where it stands in the index, and whether it is a directory. */
struct item {
    const char *path;
    size_t len;
    size_t index;
    bool dir;
};

static int bad(struct kiln_error **err, size_t i, const char *path, const char *rule)
{
    return kiln_error_set(err, KILN_E_INVALID, "context entry %zu ('%s'): %s", i, path, rule);
}

static int check_path(const char *p, size_t len, size_t i, struct kiln_error **err)
{
    if (len == 0)
        return bad(err, i, p, "the path is empty");
    if (strlen(p) != len)
        return bad(err, i, p, "the path holds a NUL byte");
    if (len > KILND_CONTEXT_PATH_MAX)
        return kiln_error_set(err, KILN_E_LIMIT,
                              "context entry %zu: the path is longer than %u bytes", i,
                              KILND_CONTEXT_PATH_MAX);
    if (p[0] == '/')
        return bad(err, i, p, "the path is absolute: paths are relative to the context");
    for (const char *c = p; c <= p + len;) {
        const char *end = strchr(c, '/');
        size_t n = end ? (size_t)(end - c) : strlen(c);
        if (n == 0)
            return bad(err, i, p, "the path has an empty component ('//' or a trailing '/')");
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return bad(err, i, p, "the path has a '.' or '..' component");
        if (n > KILND_CONTEXT_COMPONENT_MAX)
            return bad(err, i, p, "a path component is longer than 255 bytes");
        c += n + 1;
    }
    return 0;
}

static bool is_sha256(const char *d)
{
    if (!d || strlen(d) != 71 || strncmp(d, "sha256:", 7) != 0)
        return false;
    return strspn(d + 7, "0123456789abcdef") == 64;
}

/* The rules of one entry that need no other entry. */
static int check_entry(json_t *e, size_t i, struct item *it, struct kiln_error **err)
{
    json_t *path = json_object_get(e, "path"), *mode = json_object_get(e, "mode");
    json_t *size = json_object_get(e, "size"), *digest = json_object_get(e, "digest");
    json_t *link = json_object_get(e, "link");
    if (!json_is_object(e) || !json_is_string(path))
        return kiln_error_set(err, KILN_E_INVALID,
                              "context entry %zu is not an object with a \"path\" string", i);
    const char *p = json_string_value(path);
    int r = check_path(p, json_string_length(path), i, err);
    if (r < 0)
        return r;
    if (!json_is_integer(mode) || json_integer_value(mode) < 0 ||
        json_integer_value(mode) > 0xffffffffLL)
        return bad(err, i, p, "\"mode\" must be an integer (st_mode)");
    if (!json_is_integer(json_object_get(e, "mtime")))
        return bad(err, i, p, "\"mtime\" must be an integer (nanoseconds since 1970)");
    if (!json_is_integer(size) || json_integer_value(size) < 0 ||
        (uint64_t)json_integer_value(size) > KILND_CONTEXT_FILE_MAX)
        return bad(err, i, p, "\"size\" must be an integer from 0 to 64 GiB");
    mode_t m = (mode_t)json_integer_value(mode);
    if (m & ~(mode_t)(S_IFMT | 07777))
        return bad(err, i, p, "\"mode\" has bits beyond the type and 07777");
    if (!S_ISDIR(m) && !S_ISREG(m) && !S_ISLNK(m))
        return bad(err, i, p,
                   "\"mode\" is not a directory, regular file or symbolic link: devices, "
                   "fifos and sockets are not part of a context");
    if (S_ISREG(m) ? !is_sha256(json_string_value(digest)) : digest != NULL)
        return bad(err, i, p,
                   S_ISREG(m) ? "a regular file needs a \"digest\" of the form sha256:<64 hex>"
                              : "only regular files carry a \"digest\"");
    if (S_ISLNK(m)) {
        size_t n = json_string_length(link);
        if (!json_is_string(link) || n == 0 || n > KILND_CONTEXT_LINK_MAX ||
            strlen(json_string_value(link)) != n)
            return bad(err, i, p,
                       "a symbolic link needs a \"link\" target of 1 to 4095 bytes without NUL");
    } else if (link) {
        return bad(err, i, p, "only symbolic links carry a \"link\"");
    }
    *it = (struct item){p, json_string_length(path), i, S_ISDIR(m)};
    return 0;
}

static int cmp_path(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int cmp_item(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    int c = cmp_path(x->path, x->len, y->path, y->len);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static const struct item *find(const struct item *v, size_t n, const char *path, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_path(v[mid].path, v[mid].len, path, len);
        if (c == 0)
            return &v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Each path once, and each parent a directory listed before its children. */
static int check_tree(struct item *v, size_t n, struct kiln_error **err)
{
    qsort(v, n, sizeof(*v), cmp_item);
    for (size_t k = 1; k < n; k++)
        if (cmp_path(v[k - 1].path, v[k - 1].len, v[k].path, v[k].len) == 0)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "context entries %zu and %zu have the same path '%s'",
                                  v[k - 1].index, v[k].index, v[k].path);
    for (size_t k = 0; k < n; k++) {
        const char *slash = memrchr(v[k].path, '/', v[k].len);
        if (!slash)
            continue;
        const struct item *parent = find(v, n, v[k].path, (size_t)(slash - v[k].path));
        if (!parent || !parent->dir || parent->index > v[k].index)
            return bad(err, v[k].index, v[k].path,
                       !parent        ? "its parent directory is not in the index"
                       : !parent->dir ? "its parent is not a directory"
                                      : "it comes before its parent directory");
    }
    return 0;
}

int kilnd_context_check(json_t *entries, struct kiln_error **err)
{
    if (!json_is_array(entries))
        return kiln_error_set(err, KILN_E_INVALID,
                              "\"context\" must be an array of entries (the context index)");
    size_t n = json_array_size(entries);
    if (n > KILND_CONTEXT_ENTRIES_MAX)
        return kiln_error_set(err, KILN_E_LIMIT,
                              "the context has %zu entries, more than %u: exclude some in "
                              ".dockerignore",
                              n, KILND_CONTEXT_ENTRIES_MAX);
    _cleanup_free_ struct item *v = kiln_xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        int r = check_entry(json_array_get(entries, i), i, &v[i], err);
        if (r < 0)
            return r;
    }
    return check_tree(v, n, err);
}

int kilnd_context_lacking(struct kiln_store *s, const char *const *digests, size_t n,
                          json_t **ret_missing, struct kiln_error **err)
{
    bool *have = kiln_xcalloc(n + 1, sizeof(*have));
    int r = n ? kiln_content_exist_many(s, digests, n, have, err) : 0;
    json_t *missing = r < 0 ? NULL : json_array();
    for (size_t i = 0; r >= 0 && i < n; i++)
        if (!have[i])
            json_array_append_new(missing, json_string(digests[i]));
    free(have);
    if (r < 0)
        return r;
    *ret_missing = missing;
    return 0;
}

int kilnd_context_missing(struct kiln_store *s, json_t *entries, json_t **ret_missing,
                          struct kiln_error **err)
{
    json_t *seen = json_object(), *e;
    const char **digests = kiln_xcalloc(json_array_size(entries) + 1, sizeof(*digests));
    size_t i, n = 0;
    json_array_foreach (entries, i, e) {
        const char *d = json_string_value(json_object_get(e, "digest"));
        if (!d || json_object_get(seen, d))
            continue;
        json_object_set_new(seen, d, json_true());
        digests[n++] = d;
    }
    int r = kilnd_context_lacking(s, digests, n, ret_missing, err);
    free(digests);
    json_decref(seen);
    return r;
}
