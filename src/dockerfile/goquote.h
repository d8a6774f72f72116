/* SPDX-License-Identifier: Apache-2.0 */
/*
 * goquote.h - Go's strconv.Quote, byte for byte: the quoting of BuildKit's
 * AST dump. Printable runes (Go's unicode.IsPrint) stay literal UTF-8.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

int kiln_goquote(struct kiln_buf *out, const char *s, size_t n);

/* Decodes one UTF-8 rune at s (n bytes left). Returns its length (>= 1);
 * *ret_rune is U+FFFD (with length 1) for an invalid sequence. */
size_t kiln_utf8_decode(const char *s, size_t n, uint32_t *ret_rune);

/* Go's unicode.IsPrint. */
bool kiln_rune_isprint(uint32_t r);

/* Go's unicode.IsLetter and unicode.IsDigit. */
bool kiln_rune_isletter(uint32_t r);
bool kiln_rune_isdigit(uint32_t r);

/* Go's unicode.IsSpace. */
bool kiln_rune_isspace(uint32_t r);

/* Go's unicode.ToLower (simple case mapping). */
uint32_t kiln_rune_tolower(uint32_t r);

/* Appends the UTF-8 encoding of r. */
int kiln_utf8_encode(struct kiln_buf *out, uint32_t r);

/* Go's strings.ToLower: appends s lower-cased; invalid bytes become U+FFFD. */
int kiln_go_tolower(struct kiln_buf *out, const char *s, size_t n);

/* A cursor over the runes of a byte string, as Go's text/scanner reads it:
 * invalid bytes come out as U+FFFD, one byte each; -1 at the end. */
struct kiln_rune_cursor {
    const char *s;
    size_t n, pos;
};

#define KILN_RUNE_END (-1)

static inline int32_t kiln_rune_peek(const struct kiln_rune_cursor *c)
{
    if (c->pos >= c->n)
        return KILN_RUNE_END;
    uint32_t r;
    (void)kiln_utf8_decode(c->s + c->pos, c->n - c->pos, &r);
    return (int32_t)r;
}

static inline int32_t kiln_rune_next(struct kiln_rune_cursor *c)
{
    if (c->pos >= c->n)
        return KILN_RUNE_END;
    uint32_t r;
    c->pos += kiln_utf8_decode(c->s + c->pos, c->n - c->pos, &r);
    return (int32_t)r;
}
