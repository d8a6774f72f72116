/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-delta.c - two kept indexes compared entry by entry as text
 * (docs/internals/context-sync.md).
 */
#include "context-delta.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"

#include "base/banned.h"

static const char path_key[] = "{\"path\":\"";

/* An entry's text, and its path as written (escaped, between the quotes). */
struct raw {
    const char *p;
    size_t len;
    const char *path;
    size_t path_len;
};

struct split {
    struct raw *v;
    size_t n;
    /* open addressing over the entries' texts and over their paths */
    size_t *by_text, *by_path, mask;
};

/* The end of the JSON string starting after its opening quote at s; NULL if none. */
static const char *string_end(const char *s, const char *end)
{
    for (; s < end; s++) {
        if (*s == '\\')
            s++;
        else if (*s == '"')
            return s;
    }
    return NULL;
}

/* Splits `[{...},{...}]` into its objects; false for anything else (or a nested value). */
static bool split_entries(const char *text, size_t len, struct split *sp)
{
    const char *s = text, *end = text + len;
    size_t alloc = 0;
    if (s >= end || *s++ != '[')
        return false;
    while (s < end && *s != ']') {
        if (sp->n && *s++ != ',')
            return false;
        const char *start = s;
        if ((size_t)(end - s) < sizeof(path_key) - 1 ||
            memcmp(s, path_key, sizeof(path_key) - 1) != 0)
            return false;
        const char *path = s + sizeof(path_key) - 1, *path_end = string_end(path, end);
        if (!path_end)
            return false;
        for (s = path_end + 1; s < end && *s != '}'; s++) {
            if (*s == '{' || *s == '[')
                return false;
            if (*s == '"' && !(s = string_end(s + 1, end)))
                return false;
        }
        if (s >= end)
            return false;
        s++; /* the '}' */
        KILN_GROW(sp->v, alloc, sp->n + 1);
        sp->v[sp->n++] = (struct raw){start, (size_t)(s - start), path, (size_t)(path_end - path)};
    }
    return s < end && *s == ']' && s + 1 == end;
}

static uint64_t hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

/* Tables of entry numbers + 1 (0: empty), by text and by path. */
static void index_split(struct split *sp)
{
    size_t size = 16;
    while (size < 2 * sp->n + 2)
        size *= 2;
    sp->mask = size - 1;
    sp->by_text = kiln_xcalloc(size, sizeof(size_t));
    sp->by_path = kiln_xcalloc(size, sizeof(size_t));
    for (size_t i = 0; i < sp->n; i++) {
        size_t k = hash(sp->v[i].p, sp->v[i].len) & sp->mask;
        while (sp->by_text[k])
            k = (k + 1) & sp->mask;
        sp->by_text[k] = i + 1;
        k = hash(sp->v[i].path, sp->v[i].path_len) & sp->mask;
        while (sp->by_path[k])
            k = (k + 1) & sp->mask;
        sp->by_path[k] = i + 1;
    }
}

static bool has_text(const struct split *sp, const char *p, size_t n)
{
    for (size_t k = hash(p, n) & sp->mask; sp->by_text[k]; k = (k + 1) & sp->mask) {
        const struct raw *r = &sp->v[sp->by_text[k] - 1];
        if (r->len == n && memcmp(r->p, p, n) == 0)
            return true;
    }
    return false;
}

/* The entry of sp at `path` (escaped as written), or -1. */
static long find_path(const struct split *sp, const char *path, size_t n)
{
    for (size_t k = hash(path, n) & sp->mask; sp->by_path[k]; k = (k + 1) & sp->mask) {
        const struct raw *r = &sp->v[sp->by_path[k] - 1];
        if (r->path_len == n && memcmp(r->path, path, n) == 0)
            return (long)sp->by_path[k] - 1;
    }
    return -1;
}

static void split_release(struct split *sp)
{
    free(sp->v);
    free(sp->by_text);
    free(sp->by_path);
}

/* Marks the parent directory (in `now`) of an entry's path for its time to be set again. */
static void mark_parent(const struct split *now, const struct raw *r, bool *timed)
{
    const char *slash = memrchr(r->path, '/', r->path_len);
    long i = slash ? find_path(now, r->path, (size_t)(slash - r->path)) : -1;
    if (i >= 0)
        timed[i] = true;
}

static json_t *parse(const struct raw *r)
{
    return json_loadb(r->p, r->len, 0, NULL);
}

int kilnd_context_delta(const char *before, size_t before_len, const char *now, size_t now_len,
                        struct kilnd_context_delta *ret)
{
    struct split b = {0}, n = {0};
    bool ok = split_entries(before, before_len, &b) && split_entries(now, now_len, &n);
    if (ok) {
        index_split(&b);
        index_split(&n);
    }
    bool *timed = ok ? kiln_xcalloc(n.n + 1, sizeof(bool)) : NULL;
    *ret = (struct kilnd_context_delta){json_array(), json_array(), json_array()};
    for (size_t i = 0; ok && i < b.n; i++)
        if (!has_text(&n, b.v[i].p, b.v[i].len)) {
            json_t *e = parse(&b.v[i]);
            ok = json_is_object(e);
            json_array_append_new(ret->removed, e);
            mark_parent(&n, &b.v[i], timed);
        }
    for (size_t i = 0; ok && i < n.n; i++)
        if (!has_text(&b, n.v[i].p, n.v[i].len)) {
            json_t *e = parse(&n.v[i]);
            ok = json_is_object(e);
            json_array_append_new(ret->added, e);
            mark_parent(&n, &n.v[i], timed);
        }
    for (size_t i = 0; ok && i < n.n; i++)
        if (timed[i] && has_text(&b, n.v[i].p, n.v[i].len)) { /* an unchanged directory */
            json_t *e = parse(&n.v[i]);
            ok = json_is_object(e);
            json_array_append_new(ret->dirs, e);
        }
    free(timed);
    split_release(&b);
    split_release(&n);
    if (!ok) {
        kilnd_context_delta_release(ret);
        return -1;
    }
    return 0;
}

void kilnd_context_delta_release(struct kilnd_context_delta *d)
{
    json_decref(d->added);
    json_decref(d->removed);
    json_decref(d->dirs);
    *d = (struct kilnd_context_delta){0};
}
