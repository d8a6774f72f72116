/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shell-pattern.c - glob matching for the ${V#p}, ${V%p} and ${V/p/r} forms.
 *
 * A pattern compiles to literal runes, `?` (any rune but newline) and `*`
 * (any run of them). Matching is a depth-first search that tries, at each
 * star, "one more rune" before "stop here" when greedy and the other way
 * round when not: the first match found is the one Go's regexp would pick.
 * Failed (token, position) states are remembered, so a match is decided in
 * O(tokens x runes) steps whatever the pattern.
 */
#include "shell-pattern.h"

#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "goquote.h"

#include "base/banned.h"

#define PATTERN_WORK_MAX (64u * 1024 * 1024)

enum tok_kind { TOK_LIT, TOK_ANY, TOK_STAR };

struct tok {
    enum tok_kind kind;
    uint32_t rune;
};

struct runes {
    uint32_t *r;
    size_t *off; /* byte offset of each rune; off[n] is the length */
    size_t n;
};

static void decode(const char *s, struct runes *out)
{
    size_t len = strlen(s);
    out->r = kiln_xmalloc((len + 1) * sizeof(*out->r));
    out->off = kiln_xmalloc((len + 1) * sizeof(*out->off));
    out->n = 0;
    for (size_t i = 0; i < len;) {
        out->off[out->n] = i;
        i += kiln_utf8_decode(s + i, len - i, &out->r[out->n]);
        out->n++;
    }
    out->off[out->n] = len;
}

static void runes_release(struct runes *r)
{
    free(r->r);
    free(r->off);
}

/* The scanner BuildKit reads patterns with skips a leading byte-order mark. */
static size_t skip_bom(const struct runes *p)
{
    return p->n > 0 && p->r[0] == 0xFEFF ? 1 : 0;
}

static int compile(const char *pattern, struct tok **ret, size_t *ret_n, struct kiln_error **err)
{
    struct runes p;
    decode(pattern, &p);
    struct tok *t = kiln_xmalloc((p.n + 1) * sizeof(*t));
    size_t n = 0;
    for (size_t i = skip_bom(&p); i < p.n; i++) {
        uint32_t c = p.r[i];
        if (c == '*' || c == '?') {
            t[n++] = (struct tok){c == '*' ? TOK_STAR : TOK_ANY, 0};
            continue;
        }
        if (c == '\\') {
            if (i + 1 < p.n && (p.r[i + 1] == '}' || p.r[i + 1] == '/'))
                continue;
            c = i + 1 < p.n ? p.r[++i] : 0xFFFD;
            if (c != '*' && c != '?' && c != '\\') {
                _cleanup_buf_ struct kiln_buf q = KILN_BUF_INIT(16);
                (void)kiln_utf8_encode(&q, c);
                free(t);
                runes_release(&p);
                return kiln_error_set(err, KILN_E_INVALID,
                                      "invalid pattern (%s) in substitution: invalid escape "
                                      "'\\%s'",
                                      pattern, q.buf);
            }
        }
        t[n++] = (struct tok){TOK_LIT, c};
    }
    runes_release(&p);
    *ret = t;
    *ret_n = n;
    return 0;
}

struct matcher {
    const struct tok *t;
    size_t nt;
    const struct runes *v;
    bool greedy;
    uint8_t *failed; /* bit per (token, rune position) known not to match */
    size_t *stack;   /* pending states, encoded ti * (v->n + 1) + vi */
    size_t alloc;
};

static bool test_and_set(struct matcher *m, size_t state)
{
    bool was = m->failed[state / 8] & (1u << (state % 8));
    m->failed[state / 8] |= (uint8_t)(1u << (state % 8));
    return was;
}

/* The end (rune index) of the preferred match starting at `start`, or -1. */
static long match_at(struct matcher *m, size_t start)
{
    size_t width = m->v->n + 1, top = 0;
    KILN_GROW(m->stack, m->alloc, 1);
    m->stack[top++] = start;
    while (top > 0) {
        size_t state = m->stack[--top];
        size_t ti = state / width, vi = state % width;
        if (ti == m->nt)
            return (long)vi;
        if (test_and_set(m, state))
            continue;
        const struct tok *t = &m->t[ti];
        bool can_eat = vi < m->v->n && m->v->r[vi] != '\n';
        KILN_GROW(m->stack, m->alloc, top + 2);
        if (t->kind == TOK_LIT) {
            if (vi < m->v->n && m->v->r[vi] == t->rune)
                m->stack[top++] = state + width + 1;
        } else if (t->kind == TOK_ANY) {
            if (can_eat)
                m->stack[top++] = state + width + 1;
        } else {
            /* Pushed last is tried first. */
            size_t eat = state + 1, stop = state + width;
            if (m->greedy) {
                m->stack[top++] = stop;
                if (can_eat)
                    m->stack[top++] = eat;
            } else {
                if (can_eat)
                    m->stack[top++] = eat;
                m->stack[top++] = stop;
            }
        }
    }
    return -1;
}

static int matcher_init(struct matcher *m, const char *pattern, const struct runes *v, bool greedy,
                        struct kiln_error **err)
{
    struct tok *t = NULL;
    size_t nt = 0;
    int r = compile(pattern, &t, &nt, err);
    if (r < 0)
        return r;
    size_t states = (nt + 1) * (v->n + 1);
    if (states / (v->n + 1) != nt + 1 || states > PATTERN_WORK_MAX) {
        free(t);
        return kiln_error_set(err, KILN_E_LIMIT,
                              "pattern (%s) against a value of %zu characters is too costly to "
                              "match",
                              pattern, v->n);
    }
    *m = (struct matcher){
            .t = t, .nt = nt, .v = v, .greedy = greedy, .failed = kiln_xcalloc(states / 8 + 1, 1)};
    return 0;
}

static void matcher_release(struct matcher *m)
{
    free((void *)m->t);
    free(m->failed);
    free(m->stack);
}

/* Reverses the runes of s; invalid bytes become U+FFFD, as in Go. */
static char *reverse(const char *s)
{
    struct runes r;
    decode(s, &r);
    struct kiln_buf out = KILN_BUF_INIT(strlen(s) * 3 + 8);
    for (size_t i = r.n; i-- > 0;)
        (void)kiln_utf8_encode(&out, r.r[i]);
    runes_release(&r);
    return kiln_buf_detach(&out, NULL);
}

/* Reverses a pattern, keeping each `\x` pair in order (BuildKit reversePattern). */
static char *reverse_pattern(const char *s)
{
    struct runes r;
    decode(s, &r);
    uint32_t *out = kiln_xmalloc((r.n + 1) * sizeof(*out));
    size_t last = r.n ? r.n - 1 : 0;
    for (size_t i = 0; i < r.n;) {
        size_t o = last - i;
        if (r.r[i] == '\\' && i != last) {
            out[o - 1] = r.r[i];
            out[o] = r.r[i + 1];
            i += 2;
        } else {
            out[o] = r.r[i];
            i++;
        }
    }
    struct kiln_buf b = KILN_BUF_INIT(strlen(s) * 3 + 8);
    for (size_t i = 0; i < r.n; i++)
        (void)kiln_utf8_encode(&b, out[i]);
    free(out);
    runes_release(&r);
    return kiln_buf_detach(&b, NULL);
}

int kiln_shell_trim(const char *pattern, const char *value, bool suffix, bool greedy,
                    struct kiln_buf *out, struct kiln_error **err)
{
    _cleanup_free_ char *rpat = suffix ? reverse_pattern(pattern) : NULL;
    _cleanup_free_ char *rval = suffix ? reverse(value) : NULL;
    struct runes v;
    decode(suffix ? rval : value, &v);
    struct matcher m;
    int r = matcher_init(&m, suffix ? rpat : pattern, &v, greedy, err);
    if (r < 0) {
        runes_release(&v);
        return r;
    }
    long end = match_at(&m, 0);
    const char *s = suffix ? rval : value;
    const char *rest = s + (end >= 0 ? v.off[end] : 0);
    if (suffix) {
        _cleanup_free_ char *back = reverse(rest);
        r = kiln_buf_adds(out, back);
    } else {
        r = kiln_buf_adds(out, rest);
    }
    matcher_release(&m);
    runes_release(&v);
    return r;
}

/* Go's Regexp.Expand with no capture groups: $$, and $0 / ${0} for the match. */
static int expand_template(struct kiln_buf *out, const char *tpl, const char *match, size_t mlen)
{
    const char *p = tpl, *end = tpl + strlen(tpl);
    int r = 0;
    while (r >= 0 && p < end) {
        const char *dollar = memchr(p, '$', (size_t)(end - p));
        if (!dollar)
            return kiln_buf_add(out, p, (size_t)(end - p));
        r = kiln_buf_add(out, p, (size_t)(dollar - p));
        p = dollar + 1;
        if (p < end && *p == '$') {
            r = r < 0 ? r : kiln_buf_addch(out, '$');
            p++;
            continue;
        }
        bool brace = p < end && *p == '{';
        const char *name = brace ? p + 1 : p, *q = name;
        while (q < end) {
            uint32_t c;
            size_t len = kiln_utf8_decode(q, (size_t)(end - q), &c);
            if (!kiln_rune_isletter(c) && !kiln_rune_isdigit(c) && c != '_')
                break;
            q += len;
        }
        if (q == name || (brace && (q >= end || *q != '}'))) {
            r = r < 0 ? r : kiln_buf_addch(out, '$'); /* malformed: a literal '$' */
            continue;
        }
        if (q - name == 1 && *name == '0')
            r = r < 0 ? r : kiln_buf_add(out, match, mlen);
        p = brace ? q + 1 : q;
    }
    return r;
}

int kiln_shell_replace(const char *pattern, const char *value, const char *repl, bool all,
                       struct kiln_buf *out, struct kiln_error **err)
{
    struct runes v;
    decode(value, &v);
    struct matcher m;
    int r = matcher_init(&m, pattern, &v, true, err);
    if (r < 0) {
        runes_release(&v);
        return r;
    }
    size_t last_end = 0, pos = 0; /* rune indexes */
    while (r >= 0 && pos <= v.n) {
        long end = -1;
        size_t start = pos;
        for (; start <= v.n && end < 0; start++)
            end = match_at(&m, start);
        if (end < 0)
            break;
        start--;
        r = kiln_buf_add(out, value + v.off[last_end], v.off[start] - v.off[last_end]);
        if (r >= 0 && (!all || (size_t)end > last_end || start == 0)) {
            size_t mlen = v.off[end] - v.off[start];
            r = all ? expand_template(out, repl, value + v.off[start], mlen)
                    : kiln_buf_adds(out, repl);
        }
        last_end = (size_t)end;
        if (!all)
            break;
        pos = (size_t)end > pos ? (size_t)end : pos + 1;
    }
    if (r >= 0)
        r = kiln_buf_adds(out, value + v.off[last_end]);
    matcher_release(&m);
    runes_release(&v);
    return r;
}
