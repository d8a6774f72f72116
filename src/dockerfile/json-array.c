/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json-array.c - a JSON validator and string decoder with Go's rules:
 * RFC 8259 syntax, whitespace " \t\n\r", nesting up to 10000, a number that
 * overflows a float64 makes the whole document an error, strings decode
 * invalid UTF-8 and unpaired surrogates to U+FFFD.
 */
#include "json-array.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "goquote.h"

#include "base/banned.h"

#define JSON_MAX_DEPTH 10000

struct cursor {
    const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int hex4(const char *p, uint32_t *ret)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        v <<= 4;
        if (is_digit(ch))
            v |= (uint32_t)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v |= (uint32_t)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            v |= (uint32_t)(ch - 'A' + 10);
        else
            return -1;
    }
    *ret = v;
    return 0;
}

/* Scans a string at c->p (the opening quote). Decodes into out when given. */
static bool scan_string(struct cursor *c, struct kiln_buf *out)
{
    c->p++;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            c->p++;
            return true;
        }
        if (ch < 0x20)
            return false;
        if (ch != '\\') {
            uint32_t r;
            size_t len = kiln_utf8_decode(c->p, (size_t)(c->end - c->p), &r);
            if (out && kiln_utf8_encode(out, r) < 0)
                return false;
            c->p += len;
            continue;
        }
        if (c->end - c->p < 2)
            return false;
        char e = c->p[1];
        uint32_t r;
        c->p += 2;
        switch (e) {
        case '"': r = '"'; break;
        case '\\': r = '\\'; break;
        case '/': r = '/'; break;
        case 'b': r = '\b'; break;
        case 'f': r = '\f'; break;
        case 'n': r = '\n'; break;
        case 'r': r = '\r'; break;
        case 't': r = '\t'; break;
        case 'u':
            if (c->end - c->p < 4 || hex4(c->p, &r) < 0)
                return false;
            c->p += 4;
            if (r >= 0xD800 && r < 0xDC00) {
                uint32_t lo;
                if (c->end - c->p >= 6 && c->p[0] == '\\' && c->p[1] == 'u' &&
                    hex4(c->p + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                    r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
                    c->p += 6;
                } else {
                    r = 0xFFFD;
                }
            } else if (r >= 0xDC00 && r < 0xE000) {
                r = 0xFFFD;
            }
            break;
        default: return false;
        }
        if (out && kiln_utf8_encode(out, r) < 0)
            return false;
    }
    return false;
}

/* Scans a number; *overflow is set when it does not fit a float64. */
static bool scan_number(struct cursor *c, bool *overflow)
{
    const char *start = c->p;
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p >= c->end || !is_digit(*c->p))
        return false;
    if (*c->p == '0')
        c->p++;
    else
        while (c->p < c->end && is_digit(*c->p))
            c->p++;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (c->p >= c->end || !is_digit(*c->p))
            return false;
        while (c->p < c->end && is_digit(*c->p))
            c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (c->p >= c->end || !is_digit(*c->p))
            return false;
        while (c->p < c->end && is_digit(*c->p))
            c->p++;
    }
    _cleanup_free_ char *num = kiln_xstrndup(start, (size_t)(c->p - start));
    errno = 0;
    double v = strtod(num, NULL);
    if (errno == ERANGE && (v > 1.0 || v < -1.0))
        *overflow = true;
    return true;
}

static bool scan_literal(struct cursor *c)
{
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < ELEMENTSOF(words); i++) {
        size_t len = strlen(words[i]);
        if ((size_t)(c->end - c->p) >= len && memcmp(c->p, words[i], len) == 0) {
            c->p += len;
            return true;
        }
    }
    return false;
}

/*
 * Validates one complete JSON value at c->p, iteratively. `kinds` records
 * for each open container whether it is an object ('{') or array ('[').
 */
static bool scan_value(struct cursor *c, bool *overflow)
{
    _cleanup_free_ char *kinds = NULL;
    size_t depth = 0, alloc = 0;
    for (;;) {
        skip_ws(c);
        if (c->p >= c->end)
            return false;
        char ch = *c->p;
        bool ok = true;
        if (ch == '[' || ch == '{') {
            if (depth >= JSON_MAX_DEPTH)
                return false;
            KILN_GROW(kinds, alloc, depth + 1);
            kinds[depth++] = ch;
            c->p++;
            skip_ws(c);
            if (c->p < c->end && *c->p == (ch == '[' ? ']' : '}')) {
                c->p++;
                depth--;
            } else if (ch == '{') {
                if (c->p >= c->end || *c->p != '"' || !scan_string(c, NULL))
                    return false;
                skip_ws(c);
                if (c->p >= c->end || *c->p++ != ':')
                    return false;
                continue;
            } else {
                continue;
            }
        } else if (ch == '"') {
            ok = scan_string(c, NULL);
        } else if (ch == '-' || is_digit(ch)) {
            ok = scan_number(c, overflow);
        } else {
            ok = scan_literal(c);
        }
        if (!ok)
            return false;
        /* A value ended: close containers or move to the next member. */
        for (;;) {
            if (depth == 0)
                return true;
            skip_ws(c);
            if (c->p >= c->end)
                return false;
            char close = kinds[depth - 1] == '[' ? ']' : '}';
            if (*c->p == close) {
                c->p++;
                depth--;
                continue;
            }
            if (*c->p++ != ',')
                return false;
            if (kinds[depth - 1] == '{') {
                skip_ws(c);
                if (c->p >= c->end || *c->p != '"' || !scan_string(c, NULL))
                    return false;
                skip_ws(c);
                if (c->p >= c->end || *c->p++ != ':')
                    return false;
            }
            break;
        }
    }
}

/* Walks the validated top-level array, decoding its string elements. */
static int decode_elements(struct cursor *c, struct kiln_strv *ret, size_t **lens,
                           struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv items = KILN_STRV_INIT;
    _cleanup_free_ size_t *item_len = NULL;
    size_t alloc = 0;
    bool nul = false;
    c->p++; /* '[' */
    for (;;) {
        skip_ws(c);
        if (*c->p == ']')
            break;
        if (*c->p != '"')
            return kiln_error_set(err, KILN_E_INVALID,
                                  "when using JSON array syntax, arrays must be comprised of "
                                  "strings only");
        _cleanup_buf_ struct kiln_buf s = KILN_BUF_INIT((size_t)(c->end - c->p) * 3 + 16);
        if (!scan_string(c, &s))
            return kiln_error_set(err, KILN_E_LIMIT, "JSON string too long");
        nul |= memchr(s.buf, '\0', s.len) != NULL;
        KILN_GROW(item_len, alloc, items.n + 1);
        item_len[items.n] = s.len;
        kiln_strv_take(&items, kiln_buf_detach(&s, NULL));
        skip_ws(c);
        if (*c->p == ',')
            c->p++;
    }
    if (nul) {
        size_t base = ret->n;
        free(*lens);
        *lens = kiln_xmalloc((base + items.n) * sizeof(**lens));
        for (size_t i = 0; i < base; i++)
            (*lens)[i] = strlen(ret->v[i]);
        memcpy(*lens + base, item_len, items.n * sizeof(*item_len));
    }
    for (size_t i = 0; i < items.n; i++) {
        kiln_strv_take(ret, items.v[i]);
        items.v[i] = NULL;
    }
    items.n = 0;
    return 1;
}

int kiln_df_json_array(const char *s, size_t n, struct kiln_strv *ret, size_t **lens,
                       struct kiln_error **err)
{
    struct cursor c = {s, s + n};
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '[')
        return 0;
    struct cursor start = c;
    bool overflow = false;
    if (!scan_value(&c, &overflow))
        return 0;
    skip_ws(&c);
    if (c.p != c.end || overflow)
        return 0;
    return decode_elements(&start, ret, lens, err);
}

int kiln_df_json_object_string(const char *s, size_t n, const char *key, char **ret_value)
{
    struct cursor c = {s, s + n};
    bool overflow = false;
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{')
        return 0;
    struct cursor start = c;
    if (!scan_value(&c, &overflow))
        return 0;
    skip_ws(&c);
    if (c.p != c.end || overflow)
        return 0;
    c = start;
    c.p++;
    _cleanup_free_ char *found = NULL;
    for (;;) {
        skip_ws(&c);
        if (*c.p == '}')
            break;
        _cleanup_buf_ struct kiln_buf k = KILN_BUF_INIT(n * 3 + 16);
        (void)scan_string(&c, &k);
        skip_ws(&c);
        c.p++; /* ':' */
        skip_ws(&c);
        bool match = strcmp(k.buf, key) == 0;
        if (*c.p == '"') {
            struct kiln_buf v = KILN_BUF_INIT(n * 3 + 16);
            (void)scan_string(&c, &v);
            if (match) {
                free(found);
                found = kiln_buf_detach(&v, NULL);
            }
            kiln_buf_release(&v);
        } else {
            (void)scan_value(&c, &overflow);
            if (match) {
                free(found);
                found = NULL;
            }
        }
        skip_ws(&c);
        if (*c.p == ',')
            c.p++;
    }
    if (!found)
        return 0;
    *ret_value = TAKE_PTR(found);
    return 1;
}
