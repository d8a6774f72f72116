/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci.c - maps and sets, and the field-table engine of json.h: one walk over
 * a struct's table decodes, encodes, compares or frees it.
 *
 * Decoding follows Go's json.Unmarshal into the image-spec structs: keys
 * match field names exactly, else ignoring ASCII case; unknown keys are
 * skipped; null leaves a scalar alone and empties a list, map or pointer; a
 * wrong JSON type is an error. Strict mode adds the rules the table flags and
 * checks carry: to every value a key matched, however the key was spelled, so
 * that what strict mode accepts is still valid when written back under the
 * canonical names; required fields count under their exact names only, as in
 * the JSON schema.
 */
#include "json.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "config.h"
#include "oci.h"

#include "base/banned.h"

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const struct kiln_oci_kv *)a)->key, ((const struct kiln_oci_kv *)b)->key);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void kiln_oci_map_set(struct kiln_oci_map *m, const char *key, const char *value)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->v[mid].key, key);
        if (c == 0) {
            free(m->v[mid].value);
            m->v[mid].value = kiln_xstrdup(value);
            return;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    KILN_GROW(m->v, m->alloc, m->n + 1);
    memmove(m->v + lo + 1, m->v + lo, (m->n - lo) * sizeof(*m->v));
    m->v[lo] = (struct kiln_oci_kv){kiln_xstrdup(key), kiln_xstrdup(value)};
    m->n++;
}

const char *kiln_oci_map_get(const struct kiln_oci_map *m, const char *key)
{
    struct kiln_oci_kv k = {.key = (char *)key};
    const struct kiln_oci_kv *e = m->n ? bsearch(&k, m->v, m->n, sizeof(k), kv_cmp) : NULL;
    return e ? e->value : NULL;
}

void kiln_oci_map_release(struct kiln_oci_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].key);
        free(m->v[i].value);
    }
    free(m->v);
    *m = (struct kiln_oci_map){0};
}

void kiln_oci_set_add(struct kiln_strv *set, const char *key)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(set->v[mid], key);
        if (c == 0)
            return;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    kiln_strv_push(set, key);
    char *added = set->v[set->n - 1];
    memmove(set->v + lo + 1, set->v + lo, (set->n - 1 - lo) * sizeof(char *));
    set->v[lo] = added;
}

/* ---- decoding ---- */

struct kiln_oci_dec {
    bool strict;
    struct kiln_buf path; /* "layers[2].digest" */
    struct kiln_error **err;
};

int kiln_oci_dec_fail(struct kiln_oci_dec *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = kiln_xvasprintf(fmt, ap);
    va_end(ap);
    if (d->path.len == 0)
        return kiln_error_set(d->err, KILN_E_INVALID, "%s", msg);
    return kiln_error_set(d->err, KILN_E_INVALID, "%s: %s", d->path.buf, msg);
}

static const char *const type_names[] = {
        [JSON_OBJECT] = "an object",   [JSON_ARRAY] = "an array", [JSON_STRING] = "a string",
        [JSON_INTEGER] = "an integer", [JSON_REAL] = "a number",  [JSON_TRUE] = "a boolean",
        [JSON_FALSE] = "a boolean",    [JSON_NULL] = "null"};

/* Fails unless v has JSON type t (JSON_TRUE stands for either boolean). */
static int want(struct kiln_oci_dec *d, const json_t *v, json_type t)
{
    if (json_typeof(v) == t || (t == JSON_TRUE && json_is_boolean(v)))
        return 0;
    return kiln_oci_dec_fail(d, "expected %s, got %s", type_names[t], type_names[json_typeof(v)]);
}

/* Appends ".name" (or "[i]") to the path; returns the length to truncate back to. */
static size_t path_push_key(struct kiln_oci_dec *d, const char *name)
{
    size_t old = d->path.len;
    (void)kiln_buf_addf(&d->path, "%s%.80s", old ? "." : "", name);
    return old;
}

static size_t path_push_index(struct kiln_oci_dec *d, size_t i)
{
    size_t old = d->path.len;
    (void)kiln_buf_addf(&d->path, "[%zu]", i);
    return old;
}

static int decode_object(struct kiln_oci_dec *d, const struct kiln_oci_type *t, const json_t *v,
                         void *out);

static void release_field(const struct kiln_oci_field *f, void *base);

/* An empty list that is not nil: Go writes [] for it, and null for nil. */
static void strv_make_empty(struct kiln_strv *sv, size_t hint)
{
    kiln_strv_release(sv);
    sv->v = NULL;
    KILN_GROW(sv->v, sv->alloc, hint + 1);
    sv->v[0] = NULL;
}

static int decode_strv(struct kiln_oci_dec *d, const struct kiln_oci_field *f, const json_t *v,
                       struct kiln_strv *sv)
{
    size_t i;
    const json_t *item;
    int r = want(d, v, JSON_ARRAY);
    if (r < 0)
        return r;
    strv_make_empty(sv, json_array_size(v));
    json_array_foreach (v, i, item) {
        size_t old = path_push_index(d, i);
        if (!json_is_null(item) || d->strict)
            r = want(d, item, JSON_STRING);
        if (r >= 0 && d->strict && f->check)
            r = f->check(d, item);
        kiln_buf_truncate(&d->path, old);
        if (r < 0)
            return r;
        kiln_strv_push(sv, json_is_string(item) ? json_string_value(item) : "");
    }
    return 0;
}

/* map[string]string into m, or map[string]struct{} into set when set != NULL. */
static int decode_map(struct kiln_oci_dec *d, const json_t *v, struct kiln_oci_map *m,
                      struct kiln_strv *set)
{
    const char *key;
    const json_t *item;
    int r = want(d, v, JSON_OBJECT);
    if (r < 0)
        return r;
    json_object_foreach ((json_t *)v, key, item) {
        if (!json_is_null(item) || d->strict) {
            size_t old = path_push_key(d, key);
            r = want(d, item, set ? JSON_OBJECT : JSON_STRING);
            kiln_buf_truncate(&d->path, old);
            if (r < 0)
                return r;
        }
        if (set) {
            kiln_strv_push(set, key);
            continue;
        }
        KILN_GROW(m->v, m->alloc, m->n + 1);
        m->v[m->n++] = (struct kiln_oci_kv){
                kiln_xstrdup(key),
                kiln_xstrdup(json_is_string(item) ? json_string_value(item) : "")};
    }
    /* jansson keeps the last of duplicate keys, as Go does: keys are unique. */
    if (set)
        qsort(set->v, set->n, sizeof(char *), str_cmp);
    else if (m->n)
        qsort(m->v, m->n, sizeof(*m->v), kv_cmp);
    return 0;
}

static int decode_array(struct kiln_oci_dec *d, const struct kiln_oci_field *f, const json_t *v,
                        void *base)
{
    size_t i, n = json_array_size(v), esz = f->type->size;
    size_t *count = (size_t *)((char *)base + f->count_offset);
    const json_t *item;
    int r = want(d, v, JSON_ARRAY);
    if (r < 0)
        return r;
    char *items = kiln_xcalloc(n ? n : 1, esz); /* [] is not nil */
    *(void **)((char *)base + f->offset) = items;
    json_array_foreach (v, i, item) {
        size_t old = path_push_index(d, i);
        if (!json_is_null(item) || d->strict)
            r = want(d, item, JSON_OBJECT);
        /* Counted before decoding, so that a failure releases the partial item. */
        *count = i + 1;
        if (r >= 0 && json_is_object(item))
            r = decode_object(d, f->type, item, items + i * esz);
        kiln_buf_truncate(&d->path, old);
        if (r < 0)
            return r;
    }
    if (d->strict && (f->flags & KILN_OCI_F_NONEMPTY) && n == 0)
        return kiln_oci_dec_fail(d, "must have at least one entry");
    return 0;
}

static int decode_scalar(struct kiln_oci_dec *d, const struct kiln_oci_field *f, const json_t *v,
                         void *p)
{
    static const json_type types[] = {[KILN_OCI_K_STRING] = JSON_STRING,
                                      [KILN_OCI_K_INT] = JSON_INTEGER,
                                      [KILN_OCI_K_BOOL] = JSON_TRUE,
                                      [KILN_OCI_K_BYTES] = JSON_STRING,
                                      [KILN_OCI_K_TIME] = JSON_STRING};
    int r = want(d, v, types[f->kind]);
    if (r >= 0 && d->strict && f->check)
        r = f->check(d, v);
    if (r < 0)
        return r;
    const char *s = json_string_value(v);
    struct kiln_oci_time t;
    switch (f->kind) {
    case KILN_OCI_K_STRING:
        free(*(char **)p);
        *(char **)p = s[0] ? kiln_xstrdup(s) : NULL;
        return 0;
    case KILN_OCI_K_INT: *(int64_t *)p = json_integer_value(v); return 0;
    case KILN_OCI_K_BOOL: *(bool *)p = json_is_true(v); return 0;
    case KILN_OCI_K_BYTES:
        free(((struct kiln_oci_bytes *)p)->data);
        *(struct kiln_oci_bytes *)p = (struct kiln_oci_bytes){0};
        if (!kiln_oci_base64_decode(s, &((struct kiln_oci_bytes *)p)->data,
                                    &((struct kiln_oci_bytes *)p)->len))
            return kiln_oci_dec_fail(d, "'%.*s%s' is not standard base64 with padding",
                                     KILN_OCI_QUOTE(s));
        return 0;
    default:
        if (kiln_oci_time_parse(s, &t) < 0)
            return kiln_oci_dec_fail(d, "'%.*s%s' is not an RFC 3339 date-time", KILN_OCI_QUOTE(s));
        free(*(struct kiln_oci_time **)p);
        *(struct kiln_oci_time **)p = kiln_xmalloc(sizeof(t));
        **(struct kiln_oci_time **)p = t;
        return 0;
    }
}

/* Go sets a nil-able field (slice, map, pointer) to nil for null, and leaves others alone. */
static bool nil_on_null(enum kiln_oci_kind k)
{
    return k != KILN_OCI_K_STRING && k != KILN_OCI_K_INT && k != KILN_OCI_K_BOOL &&
           k != KILN_OCI_K_OBJECT;
}

static int decode_field(struct kiln_oci_dec *d, const struct kiln_oci_field *f, const json_t *v,
                        void *base)
{
    void *p = (char *)base + f->offset;
    int r;
    if (json_is_null(v)) {
        if (d->strict && !(f->flags & KILN_OCI_F_NULLABLE))
            return kiln_oci_dec_fail(d, "must not be null");
        if (nil_on_null(f->kind))
            release_field(f, base);
        return 0;
    }
    switch (f->kind) {
    case KILN_OCI_K_STRV: r = decode_strv(d, f, v, p); break;
    case KILN_OCI_K_SET:
        kiln_strv_release(p);
        r = decode_map(d, v, NULL, p);
        break;
    case KILN_OCI_K_MAP:
        kiln_oci_map_release(p);
        r = decode_map(d, v, p, NULL);
        break;
    case KILN_OCI_K_OBJECT:
    case KILN_OCI_K_OBJECT_PTR:
        r = want(d, v, JSON_OBJECT);
        if (r >= 0 && f->kind == KILN_OCI_K_OBJECT_PTR) {
            if (!*(void **)p)
                *(void **)p = kiln_xcalloc(1, f->type->size);
            p = *(void **)p;
        }
        if (r >= 0)
            r = decode_object(d, f->type, v, p);
        break;
    case KILN_OCI_K_OBJECT_ARRAY:
        release_field(f, base);
        r = decode_array(d, f, v, base);
        break;
    default: r = decode_scalar(d, f, v, p); break;
    }
    return r;
}

static const struct kiln_oci_field *find_field(const struct kiln_oci_type *t, const char *key,
                                               bool *exact)
{
    for (size_t i = 0; i < t->n_fields; i++)
        if (strcmp(t->fields[i].name, key) == 0)
            return *exact = true, &t->fields[i];
    for (size_t i = 0; i < t->n_fields; i++)
        if (strcasecmp(t->fields[i].name, key) == 0)
            return *exact = false, &t->fields[i];
    return NULL;
}

static int decode_object(struct kiln_oci_dec *d, const struct kiln_oci_type *t, const json_t *v,
                         void *out)
{
    const char *key;
    const json_t *item;
    uint64_t seen = 0;
    json_object_foreach ((json_t *)v, key, item) {
        bool exact = false;
        const struct kiln_oci_field *f = find_field(t, key, &exact);
        if (!f)
            continue;
        if (exact)
            seen |= UINT64_C(1) << (f - t->fields);
        size_t old = path_push_key(d, f->name);
        int r = decode_field(d, f, item, out);
        kiln_buf_truncate(&d->path, old);
        if (r < 0)
            return r;
    }
    for (size_t i = 0; d->strict && i < t->n_fields; i++)
        if ((t->fields[i].flags & KILN_OCI_F_REQUIRED) && !(seen & (UINT64_C(1) << i)))
            return kiln_oci_dec_fail(d, "required field '%s' is missing", t->fields[i].name);
    return 0;
}

int kiln_oci_decode(const struct kiln_oci_type *t, const json_t *v, bool strict, void *out,
                    struct kiln_error **err)
{
    struct kiln_oci_dec d = {.strict = strict, .path = KILN_BUF_INIT(SIZE_MAX / 2), .err = err};
    int r = want(&d, v, JSON_OBJECT);
    if (r >= 0)
        r = decode_object(&d, t, v, out);
    if (r < 0)
        kiln_oci_release(t, out);
    kiln_buf_release(&d.path);
    return r;
}

bool kiln_oci_json_has_key(const json_t *v, const char *key)
{
    const char *k;
    const json_t *item;
    json_object_foreach ((json_t *)v, k, item) {
        if (strcasecmp(k, key) == 0)
            return true;
    }
    return false;
}

int kiln_oci_parse_document(const char *what, const struct kiln_oci_type *t,
                            kiln_oci_doc_check check, const char *text, size_t len, size_t max,
                            unsigned flags, void **ret, struct kiln_error **err)
{
    bool strict = flags & KILN_OCI_PARSE_STRICT;
    json_t *root = NULL;
    int r = kiln_oci_json_load(what, text, len, max, &root, err);
    if (r < 0)
        return r;
    void *obj = kiln_xcalloc(1, t->size);
    r = kiln_oci_decode(t, root, strict, obj, err);
    if (r >= 0 && check)
        r = check(root, obj, strict, err);
    json_decref(root);
    if (r < 0) {
        kiln_oci_release(t, obj);
        free(obj);
        return kiln_error_wrap(err, r, "%s", what);
    }
    *ret = obj;
    return 0;
}

/* ---- encoding ---- */

/* A nil []string: zeroed (v NULL) or released (v is kiln_strv_empty). */
static bool strv_is_nil(const struct kiln_strv *sv)
{
    return !sv->v || sv->v == kiln_strv_empty;
}

static bool is_empty(const struct kiln_oci_field *f, const void *p)
{
    switch (f->kind) {
    case KILN_OCI_K_STRING: return !*(char *const *)p || !**(char *const *)p;
    case KILN_OCI_K_INT: return *(const int64_t *)p == 0;
    case KILN_OCI_K_BOOL: return !*(const bool *)p;
    case KILN_OCI_K_STRV:
    case KILN_OCI_K_SET: return ((const struct kiln_strv *)p)->n == 0;
    case KILN_OCI_K_MAP: return ((const struct kiln_oci_map *)p)->n == 0;
    case KILN_OCI_K_BYTES: return ((const struct kiln_oci_bytes *)p)->len == 0;
    case KILN_OCI_K_OBJECT: return false; /* Go never omits a struct */
    case KILN_OCI_K_TIME:
    case KILN_OCI_K_OBJECT_PTR: return !*(void *const *)p;
    case KILN_OCI_K_OBJECT_ARRAY:
        return *(const size_t *)((const char *)p - f->offset + f->count_offset) == 0;
    }
    return false;
}

static void encode_object(struct kiln_oci_jw *w, const struct kiln_oci_type *t, const void *obj,
                          unsigned flags);

static void encode_list(struct kiln_oci_jw *w, const struct kiln_oci_field *f, const void *p,
                        unsigned flags)
{
    if (f->kind == KILN_OCI_K_STRV) {
        const struct kiln_strv *sv = p;
        if (strv_is_nil(sv)) {
            kiln_oci_jw_null(w);
            return;
        }
        kiln_oci_jw_open(w, '[');
        for (size_t i = 0; i < sv->n; i++)
            kiln_oci_jw_string(w, sv->v[i]);
        kiln_oci_jw_close(w, ']');
        return;
    }
    const char *items = *(const char *const *)p;
    size_t n = *(const size_t *)((const char *)p - f->offset + f->count_offset);
    if (!items) {
        kiln_oci_jw_null(w);
        return;
    }
    kiln_oci_jw_open(w, '[');
    for (size_t i = 0; i < n; i++)
        encode_object(w, f->type, items + i * f->type->size, flags);
    kiln_oci_jw_close(w, ']');
}

static void encode_value(struct kiln_oci_jw *w, const struct kiln_oci_field *f, const void *p,
                         unsigned flags)
{
    const struct kiln_strv *set = p;
    const struct kiln_oci_map *map = p;
    char tm[KILN_OCI_TIME_MAX];
    switch (f->kind) {
    case KILN_OCI_K_STRING: kiln_oci_jw_string(w, *(char *const *)p); return;
    case KILN_OCI_K_INT: kiln_oci_jw_int(w, *(const int64_t *)p); return;
    case KILN_OCI_K_BOOL: kiln_oci_jw_bool(w, *(const bool *)p); return;
    case KILN_OCI_K_SET:
    case KILN_OCI_K_MAP:
        kiln_oci_jw_open(w, '{');
        for (size_t i = 0; i < (f->kind == KILN_OCI_K_SET ? set->n : map->n); i++) {
            kiln_oci_jw_key(w, f->kind == KILN_OCI_K_SET ? set->v[i] : map->v[i].key);
            if (f->kind == KILN_OCI_K_SET) {
                kiln_oci_jw_open(w, '{');
                kiln_oci_jw_close(w, '}');
            } else {
                kiln_oci_jw_string(w, map->v[i].value);
            }
        }
        kiln_oci_jw_close(w, '}');
        return;
    case KILN_OCI_K_BYTES:
        kiln_oci_jw_base64(w, ((const struct kiln_oci_bytes *)p)->data,
                           ((const struct kiln_oci_bytes *)p)->len);
        return;
    case KILN_OCI_K_TIME:
        if (*(void *const *)p) {
            kiln_oci_time_format(*(struct kiln_oci_time *const *)p, tm);
            kiln_oci_jw_string(w, tm);
        } else {
            kiln_oci_jw_null(w);
        }
        return;
    case KILN_OCI_K_OBJECT: encode_object(w, f->type, p, flags); return;
    case KILN_OCI_K_OBJECT_PTR:
        if (*(void *const *)p)
            encode_object(w, f->type, *(void *const *)p, flags);
        else
            kiln_oci_jw_null(w);
        return;
    case KILN_OCI_K_STRV:
    case KILN_OCI_K_OBJECT_ARRAY: encode_list(w, f, p, flags); return;
    }
}

static void encode_object(struct kiln_oci_jw *w, const struct kiln_oci_type *t, const void *obj,
                          unsigned flags)
{
    bool leading_first = !(flags & KILN_OCI_JSON_SPEC_ORDER);
    kiln_oci_jw_open(w, '{');
    /* Pass 0 writes the leading fields (BuildKit's wrapper struct), pass 1 the rest. */
    for (int pass = leading_first ? 0 : 1; pass < 2; pass++) {
        for (size_t i = 0; i < t->n_fields; i++) {
            const struct kiln_oci_field *f = &t->fields[i];
            const void *p = (const char *)obj + f->offset;
            bool leading = leading_first && (f->flags & KILN_OCI_F_LEADING);
            if (leading != (pass == 0))
                continue;
            if ((f->flags & KILN_OCI_F_OMITEMPTY) && is_empty(f, p))
                continue;
            kiln_oci_jw_key(w, f->name);
            encode_value(w, f, p, flags);
        }
    }
    kiln_oci_jw_close(w, '}');
}

int kiln_oci_encode(const struct kiln_oci_type *t, const void *obj, unsigned flags,
                    struct kiln_buf *out)
{
    struct kiln_oci_jw w;
    size_t len = out->len;
    kiln_oci_jw_init(&w, out, flags & KILN_OCI_JSON_INDENT);
    encode_object(&w, t, obj, flags);
    if (w.r < 0)
        kiln_buf_truncate(out, len);
    return w.r;
}

/* ---- comparing and freeing ---- */

static bool str_equal(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool strv_equal(const struct kiln_strv *a, const struct kiln_strv *b, bool nil_matters)
{
    if (a->n != b->n || (nil_matters && strv_is_nil(a) != strv_is_nil(b)))
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

static bool map_equal(const struct kiln_oci_map *a, const struct kiln_oci_map *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].key, b->v[i].key) != 0 || strcmp(a->v[i].value, b->v[i].value) != 0)
            return false;
    return true;
}

static bool array_equal(const struct kiln_oci_field *f, const void *a, const void *b)
{
    const char *ia = *(const char *const *)((const char *)a + f->offset);
    const char *ib = *(const char *const *)((const char *)b + f->offset);
    size_t na = *(const size_t *)((const char *)a + f->count_offset);
    size_t nb = *(const size_t *)((const char *)b + f->count_offset);
    if (na != nb || (!(f->flags & KILN_OCI_F_OMITEMPTY) && !ia != !ib))
        return false;
    for (size_t i = 0; i < na; i++)
        if (!kiln_oci_equal(f->type, ia + i * f->type->size, ib + i * f->type->size))
            return false;
    return true;
}

static bool field_equal(const struct kiln_oci_field *f, const void *a, const void *b)
{
    const void *pa = (const char *)a + f->offset, *pb = (const char *)b + f->offset;
    const struct kiln_oci_bytes *ba = pa, *bb = pb;
    switch (f->kind) {
    case KILN_OCI_K_STRING: return str_equal(*(char *const *)pa, *(char *const *)pb);
    case KILN_OCI_K_INT: return *(const int64_t *)pa == *(const int64_t *)pb;
    case KILN_OCI_K_BOOL: return *(const bool *)pa == *(const bool *)pb;
    case KILN_OCI_K_STRV:
    case KILN_OCI_K_SET: return strv_equal(pa, pb, !(f->flags & KILN_OCI_F_OMITEMPTY));
    case KILN_OCI_K_MAP: return map_equal(pa, pb);
    case KILN_OCI_K_BYTES:
        return ba->len == bb->len && (!ba->len || !memcmp(ba->data, bb->data, ba->len));
    case KILN_OCI_K_TIME:
        if (!*(void *const *)pa || !*(void *const *)pb)
            return !*(void *const *)pa == !*(void *const *)pb;
        return kiln_oci_time_equal(*(struct kiln_oci_time *const *)pa,
                                   *(struct kiln_oci_time *const *)pb);
    case KILN_OCI_K_OBJECT: return kiln_oci_equal(f->type, pa, pb);
    case KILN_OCI_K_OBJECT_PTR:
        if (!*(void *const *)pa || !*(void *const *)pb)
            return !*(void *const *)pa == !*(void *const *)pb;
        return kiln_oci_equal(f->type, *(void *const *)pa, *(void *const *)pb);
    case KILN_OCI_K_OBJECT_ARRAY: return array_equal(f, a, b);
    }
    return false;
}

bool kiln_oci_equal(const struct kiln_oci_type *t, const void *a, const void *b)
{
    for (size_t i = 0; i < t->n_fields; i++)
        if (!field_equal(&t->fields[i], a, b))
            return false;
    return true;
}

static void release_field(const struct kiln_oci_field *f, void *base)
{
    void *p = (char *)base + f->offset;
    switch (f->kind) {
    case KILN_OCI_K_STRING:
    case KILN_OCI_K_TIME: break;
    case KILN_OCI_K_INT:
    case KILN_OCI_K_BOOL: return;
    case KILN_OCI_K_STRV:
    case KILN_OCI_K_SET: kiln_strv_release(p); return;
    case KILN_OCI_K_MAP: kiln_oci_map_release(p); return;
    case KILN_OCI_K_BYTES:
        free(((struct kiln_oci_bytes *)p)->data);
        *(struct kiln_oci_bytes *)p = (struct kiln_oci_bytes){0};
        return;
    case KILN_OCI_K_OBJECT: kiln_oci_release(f->type, p); return;
    case KILN_OCI_K_OBJECT_PTR:
        if (*(void **)p)
            kiln_oci_release(f->type, *(void **)p);
        break;
    case KILN_OCI_K_OBJECT_ARRAY: {
        size_t *count = (size_t *)((char *)base + f->count_offset);
        for (size_t i = 0; i < *count; i++)
            kiln_oci_release(f->type, *(char **)p + i * f->type->size);
        *count = 0;
        break;
    }
    }
    free(*(void **)p);
    *(void **)p = NULL;
}

void kiln_oci_release(const struct kiln_oci_type *t, void *obj)
{
    for (size_t i = 0; i < t->n_fields; i++)
        release_field(&t->fields[i], obj);
}
