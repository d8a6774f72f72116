/* SPDX-License-Identifier: Apache-2.0 */
/*
 * goquote.c - Go's strconv.Quote and the few unicode predicates BuildKit's
 * parser leans on, so that kiln's AST dump matches BuildKit's byte for byte.
 */
#include "goquote.h"

#include "unicode-tables.h"

#include "base/banned.h"

size_t kiln_utf8_decode(const char *s, size_t n, uint32_t *ret_rune)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t r;
    size_t len;
    if (u[0] < 0x80) {
        *ret_rune = u[0];
        return 1;
    }
    if (u[0] >= 0xC2 && u[0] <= 0xDF) {
        len = 2;
        r = u[0] & 0x1F;
    } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        len = 3;
        r = u[0] & 0x0F;
    } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        len = 4;
        r = u[0] & 0x07;
    } else {
        goto invalid;
    }
    if (n < len)
        goto invalid;
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80)
            goto invalid;
        r = (r << 6) | (u[i] & 0x3F);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
    if ((len == 3 && r < 0x800) || (len == 4 && (r < 0x10000 || r > 0x10FFFF)) ||
        (r >= 0xD800 && r <= 0xDFFF))
        goto invalid;
    *ret_rune = r;
    return len;
invalid:
    *ret_rune = 0xFFFD;
    return 1;
}

static bool in_ranges(const uint32_t (*ranges)[2], size_t n, uint32_t r)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r < ranges[mid][0])
            hi = mid;
        else if (r > ranges[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

bool kiln_rune_isprint(uint32_t r)
{
    return in_ranges(printable_ranges, ELEMENTSOF(printable_ranges), r);
}

bool kiln_rune_isletter(uint32_t r)
{
    if (r < 0x80)
        return (r | 0x20) >= 'a' && (r | 0x20) <= 'z';
    return in_ranges(letter_ranges, ELEMENTSOF(letter_ranges), r);
}

bool kiln_rune_isdigit(uint32_t r)
{
    if (r < 0x80)
        return r >= '0' && r <= '9';
    return in_ranges(digit_ranges, ELEMENTSOF(digit_ranges), r);
}

bool kiln_rune_isspace(uint32_t r)
{
    switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: return true;
    default: return r >= 0x2000 && r <= 0x200A;
    }
}

uint32_t kiln_rune_tolower(uint32_t r)
{
    if (r < 0x80)
        return r >= 'A' && r <= 'Z' ? r + 32 : r;
    size_t lo = 0, hi = ELEMENTSOF(lower_runs);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct lower_run *run = &lower_runs[mid];
        if (r < run->lo) {
            hi = mid;
        } else if (r > run->hi) {
            lo = mid + 1;
        } else {
            if ((r - run->lo) % run->stride != 0)
                return r;
            return (uint32_t)((int32_t)r + run->delta);
        }
    }
    return r;
}

int kiln_utf8_encode(struct kiln_buf *out, uint32_t r)
{
    char b[4];
    size_t n;
    if (r < 0x80) {
        b[0] = (char)r;
        n = 1;
    } else if (r < 0x800) {
        b[0] = (char)(0xC0 | (r >> 6));
        b[1] = (char)(0x80 | (r & 0x3F));
        n = 2;
    } else if (r < 0x10000) {
        b[0] = (char)(0xE0 | (r >> 12));
        b[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        b[2] = (char)(0x80 | (r & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (r >> 18));
        b[1] = (char)(0x80 | ((r >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((r >> 6) & 0x3F));
        b[3] = (char)(0x80 | (r & 0x3F));
        n = 4;
    }
    return kiln_buf_add(out, b, n);
}

int kiln_go_tolower(struct kiln_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t r;
        size_t len = kiln_utf8_decode(s + i, n - i, &r);
        int ret = kiln_utf8_encode(out, kiln_rune_tolower(r));
        if (ret < 0)
            return ret;
        i += len;
    }
    return 0;
}

static int add_escape(struct kiln_buf *out, uint32_t r, size_t len, unsigned char byte)
{
    static const char hex[] = "0123456789abcdef";
    char b[10];
    size_t n = 0;
    b[n++] = '\\';
    if (r == 0xFFFD && len == 1) { /* an invalid byte */
        b[n++] = 'x';
        b[n++] = hex[byte >> 4];
        b[n++] = hex[byte & 15];
    } else if (r < 0x80) {
        const char *named = "\a\b\f\n\r\t\v";
        const char *letter = "abfnrtv";
        for (size_t i = 0; named[i]; i++)
            if (r == (uint32_t)named[i])
                return kiln_buf_add(out, (char[]){'\\', letter[i]}, 2);
        b[n++] = 'x';
        b[n++] = hex[r >> 4];
        b[n++] = hex[r & 15];
    } else {
        int digits = r < 0x10000 ? 4 : 8;
        b[n++] = r < 0x10000 ? 'u' : 'U';
        for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4)
            b[n++] = hex[(r >> shift) & 15];
    }
    return kiln_buf_add(out, b, n);
}

int kiln_goquote(struct kiln_buf *out, const char *s, size_t n)
{
    int r = kiln_buf_addch(out, '"');
    for (size_t i = 0; r >= 0 && i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F) { /* the common case: printable ASCII */
            if (c == '"' || c == '\\')
                r = kiln_buf_addch(out, '\\');
            if (r >= 0)
                r = kiln_buf_addch(out, (char)c);
            i++;
            continue;
        }
        uint32_t rune;
        size_t len = kiln_utf8_decode(s + i, n - i, &rune);
        if (rune >= 0x80 && !(rune == 0xFFFD && len == 1) && kiln_rune_isprint(rune))
            r = kiln_buf_add(out, s + i, len);
        else
            r = add_escape(out, rune, len, c);
        i += len;
    }
    if (r >= 0)
        r = kiln_buf_addch(out, '"');
    return r;
}
