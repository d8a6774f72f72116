/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.c - JSON bytes in and out.
 *
 * Out: the exact bytes of Go's encoding/json (json.Marshal, and
 * json.MarshalIndent with an empty prefix and a two-space indent), which is
 * what BuildKit writes and therefore what image digests are computed over:
 * compact separators, "<", ">" and "&" escaped as \u003c \u003e \u0026,
 * U+2028 and U+2029 escaped, each invalid UTF-8 byte replaced by \ufffd,
 * control characters as \b \f \n \r \t or \u00XX, empty objects and arrays
 * as {} and [] even when indenting.
 *
 * In: jansson, behind a size cap.
 */
#include "json.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

#include "base/banned.h"

static const char hex[] = "0123456789abcdef";

void kiln_oci_jw_init(struct kiln_oci_jw *w, struct kiln_buf *out, bool indent)
{
    *w = (struct kiln_oci_jw){.out = out, .indent = indent};
}

static void put(struct kiln_oci_jw *w, const char *s, size_t n)
{
    if (w->r >= 0)
        w->r = kiln_buf_add(w->out, s, n);
}

static void putc_(struct kiln_oci_jw *w, char c)
{
    if (w->r >= 0)
        w->r = kiln_buf_addch(w->out, c);
}

static void newline(struct kiln_oci_jw *w, unsigned depth)
{
    putc_(w, '\n');
    for (unsigned i = 0; i < depth; i++)
        put(w, "  ", 2);
}

/* Separates a value (or key) from what came before it in its container. */
static void begin_value(struct kiln_oci_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0)
        return;
    if (w->has_items[w->depth])
        putc_(w, ',');
    w->has_items[w->depth] = true;
    if (w->indent)
        newline(w, w->depth);
}

void kiln_oci_jw_open(struct kiln_oci_jw *w, char open)
{
    begin_value(w);
    putc_(w, open);
    if (w->depth >= KILN_OCI_JSON_DEPTH) {
        w->r = KILN_E_LIMIT;
        return;
    }
    w->has_items[++w->depth] = false;
}

void kiln_oci_jw_close(struct kiln_oci_jw *w, char close)
{
    if (w->depth == 0)
        return;
    if (w->indent && w->has_items[w->depth])
        newline(w, w->depth - 1);
    putc_(w, close);
    w->depth--;
}

/*
 * Length of the UTF-8 sequence at s (at most `n` bytes), or 0 when it is not
 * valid: overlong forms, surrogates and code points past U+10FFFF are not.
 * *cp receives the code point.
 */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, *cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, *cp = c & 0x0f;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, *cp = c & 0x07;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if (i > 1 && (s[i] < 0x80 || s[i] > 0xbf))
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    return len;
}

static void escape_byte(struct kiln_oci_jw *w, unsigned char c)
{
    static const char short_esc[] = {['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r',
                                     ['\t'] = 't', ['"'] = '"',  ['\\'] = '\\'};
    if (c < sizeof(short_esc) && short_esc[c]) {
        char e[2] = {'\\', short_esc[c]};
        put(w, e, 2);
        return;
    }
    char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
    put(w, u, 6);
}

void kiln_oci_jw_string(struct kiln_oci_jw *w, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)s), start = 0, i = 0;
    begin_value(w);
    putc_(w, '"');
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c >= 0x20 && !strchr("\"\\<>&", c)) {
                i++;
                continue;
            }
            put(w, (const char *)s + start, i - start);
            escape_byte(w, c);
            start = ++i;
            continue;
        }
        uint32_t cp;
        size_t len = utf8_len(s + i, n - i, &cp);
        if (len && cp != 0x2028 && cp != 0x2029) {
            i += len;
            continue;
        }
        put(w, (const char *)s + start, i - start);
        put(w, len ? (cp == 0x2028 ? "\\u2028" : "\\u2029") : "\\ufffd", 6);
        i += len ? len : 1;
        start = i;
    }
    put(w, (const char *)s + start, n - start);
    putc_(w, '"');
}

void kiln_oci_jw_key(struct kiln_oci_jw *w, const char *key)
{
    kiln_oci_jw_string(w, key);
    put(w, w->indent ? ": " : ":", w->indent ? 2 : 1);
    w->after_key = true;
}

void kiln_oci_jw_int(struct kiln_oci_jw *w, int64_t v)
{
    char s[24];
    int n = snprintf(s, sizeof(s), "%" PRId64, v);
    begin_value(w);
    put(w, s, (size_t)n);
}

void kiln_oci_jw_bool(struct kiln_oci_jw *w, bool v)
{
    begin_value(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void kiln_oci_jw_null(struct kiln_oci_jw *w)
{
    begin_value(w);
    put(w, "null", 4);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *kiln_oci_base64_encode(const uint8_t *p, size_t n)
{
    char *out = kiln_xmalloc((n + 2) / 3 * 4 + 1), *o = out;
    for (size_t i = 0; i < n; i += 3, o += 4) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        o[0] = b64[v >> 18];
        o[1] = b64[(v >> 12) & 63];
        o[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        o[3] = i + 2 < n ? b64[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

void kiln_oci_jw_base64(struct kiln_oci_jw *w, const uint8_t *p, size_t n)
{
    char *s = kiln_oci_base64_encode(p, n);
    begin_value(w);
    putc_(w, '"');
    put(w, s, strlen(s));
    putc_(w, '"');
    free(s);
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

bool kiln_oci_base64_decode(const char *s, uint8_t **ret, size_t *ret_len)
{
    size_t n = 0;
    _cleanup_free_ char *clean = kiln_xmalloc(strlen(s) + 1);
    for (const char *p = s; *p; p++)
        if (*p != '\r' && *p != '\n')
            clean[n++] = *p;
    if (n % 4)
        return false;
    _cleanup_free_ uint8_t *out = kiln_xmalloc(n / 4 * 3 + 1);
    size_t len = 0;
    for (size_t i = 0; i < n; i += 4) {
        const char *q = clean + i;
        bool last = i + 4 == n;
        size_t pad = last ? (q[3] == '=') + (q[3] == '=' && q[2] == '=') : 0;
        int v[4] = {0, 0, 0, 0};
        for (size_t k = 0; k < 4 - pad; k++) {
            v[k] = b64_value(q[k]);
            if (v[k] < 0)
                return false;
        }
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
        out[len++] = (uint8_t)(x >> 16);
        if (pad < 2)
            out[len++] = (uint8_t)(x >> 8);
        if (pad < 1)
            out[len++] = (uint8_t)x;
    }
    *ret = len ? TAKE_PTR(out) : NULL;
    *ret_len = len;
    return true;
}

int kiln_oci_json_load(const char *what, const char *text, size_t len, size_t max, json_t **ret,
                       struct kiln_error **err)
{
    if (len > max)
        return kiln_error_set(err, KILN_E_LIMIT,
                              "%s: the document has %zu bytes, more than the limit of %zu", what,
                              len, max);
    json_error_t je;
    json_t *v = json_loadb(text, len, 0, &je);
    if (!v)
        return kiln_error_set_line(err, KILN_E_INVALID, je.line > 0 ? (unsigned)je.line : 0,
                                   "%s: invalid JSON at line %d, column %d: %s", what, je.line,
                                   je.column, je.text);
    *ret = v;
    return 0;
}

json_t *kiln_oci_json_strv(const struct kiln_strv *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n; i++)
        json_array_append_new(a, json_string(s->v[i]));
    return a;
}
