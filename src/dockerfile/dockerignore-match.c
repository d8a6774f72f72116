/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dockerignore-match.c - patternmatcher's pattern translation and the
 * regular expressions it yields.
 *
 * A pattern becomes ^...$ with a star as "any run of non-slashes", '?' as
 * one non-slash, a double star as "any run of directories" (or "anything"
 * at the end), the characters .+()|{}$ escaped, and everything else, '['
 * and ']' included, passed through, so classes are Go regexp classes.
 * Patterns without wildcards skip the regexp: exact, "dir/" + double-star
 * prefix and double-star + suffix matches are plain string comparisons, as
 * upstream does.
 *
 * The engine compiles the expression to a Thompson NFA and runs it as a
 * Pike VM over the runes of the path: linear in the path, whatever the
 * pattern, with Go's meaning of `.` (any rune but newline).
 */
#include "dockerignore-match.h"

#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "goquote.h"

#include "base/banned.h"

#define RE_END KILN_RUNE_END

/* ---- translation ------------------------------------------------------ */

static void add(struct kiln_buf *b, int32_t c)
{
    (void)kiln_utf8_encode(b, c < 0 ? 0xFFFD : (uint32_t)c);
}

static bool should_escape(int32_t c)
{
    return c >= 0 && c < 0x80 && strchr(".+()|{}$", (char)c) && c != 0;
}

void kiln_ignore__translate(const char *pattern, char sep, enum kiln_ignore_match_type *ret_type,
                            char **ret_regexp)
{
    struct kiln_buf re = KILN_BUF_INIT((size_t)-1 / 2);
    struct kiln_rune_cursor sc = {pattern, strlen(pattern), 0};
    const char *esc_sep = sep == '\\' ? "\\\\" : "/";
    enum kiln_ignore_match_type type = KILN_IGNORE_EXACT;
    if (sc.n >= 3 && memcmp(pattern, "\xEF\xBB\xBF", 3) == 0)
        sc.pos = 3; /* the scanner upstream uses skips a leading BOM */
    (void)kiln_buf_addch(&re, '^');
    for (unsigned i = 0; kiln_rune_peek(&sc) != RE_END; i++) {
        int32_t c = kiln_rune_next(&sc);
        if (c == '*' && kiln_rune_peek(&sc) == '*') {
            (void)kiln_rune_next(&sc);
            if (kiln_rune_peek(&sc) == sep)
                (void)kiln_rune_next(&sc);
            if (kiln_rune_peek(&sc) == RE_END) {
                if (type == KILN_IGNORE_EXACT) {
                    type = KILN_IGNORE_PREFIX;
                } else {
                    (void)kiln_buf_adds(&re, ".*");
                    type = KILN_IGNORE_REGEXP;
                }
            } else {
                (void)kiln_buf_addf(&re, "(.*%s)?", esc_sep);
                type = KILN_IGNORE_REGEXP;
            }
            if (i == 0)
                type = KILN_IGNORE_SUFFIX;
        } else if (c == '*' || c == '?') {
            (void)kiln_buf_addf(&re, "[^%s]%s", esc_sep, c == '*' ? "*" : "");
            type = KILN_IGNORE_REGEXP;
        } else if (should_escape(c)) {
            (void)kiln_buf_addch(&re, '\\');
            add(&re, c);
        } else if (c == '\\') {
            if (sep == '\\') {
                (void)kiln_buf_adds(&re, esc_sep);
                continue;
            }
            (void)kiln_buf_addch(&re, '\\');
            if (kiln_rune_peek(&sc) != RE_END) {
                add(&re, kiln_rune_next(&sc));
                type = KILN_IGNORE_REGEXP;
            }
        } else if (c == '[' || c == ']') {
            add(&re, c);
            type = KILN_IGNORE_REGEXP;
        } else {
            add(&re, c);
        }
    }
    if (type == KILN_IGNORE_REGEXP) {
        (void)kiln_buf_addch(&re, '$');
        *ret_regexp = kiln_buf_detach(&re, NULL);
    } else {
        *ret_regexp = NULL;
        kiln_buf_release(&re);
    }
    *ret_type = type;
}

/* ---- regular expressions ---------------------------------------------- */

struct range {
    uint32_t lo, hi;
};

struct charset {
    struct range *r;
    size_t n, alloc;
    bool negate;
};

enum op { OP_CHAR, OP_SPLIT, OP_JMP, OP_BOL, OP_EOL, OP_MATCH };

struct inst {
    enum op op;
    size_t x, y; /* SPLIT: both; JMP: x */
    size_t set;  /* CHAR: index into sets */
};

struct kiln_ignore_regex {
    struct inst *prog;
    size_t n, alloc;
    struct charset *sets;
    size_t n_sets, alloc_sets;
};

struct parser {
    struct kiln_rune_cursor in;
    struct kiln_ignore_regex *re;
    struct kiln_error **err;
    const char *src;
};

static size_t emit(struct kiln_ignore_regex *re, enum op op, size_t x, size_t y)
{
    KILN_GROW(re->prog, re->alloc, re->n + 1);
    re->prog[re->n] = (struct inst){op, x, y, 0};
    return re->n++;
}

static void set_add(struct charset *cs, uint32_t lo, uint32_t hi)
{
    KILN_GROW(cs->r, cs->alloc, cs->n + 1);
    cs->r[cs->n++] = (struct range){lo, hi};
}

static size_t new_set(struct kiln_ignore_regex *re)
{
    KILN_GROW(re->sets, re->alloc_sets, re->n_sets + 1);
    re->sets[re->n_sets] = (struct charset){0};
    return re->n_sets++;
}

static int bad(struct parser *p, const char *why)
{
    return kiln_error_set(p->err, KILN_E_INVALID, "error parsing regexp: %s: `%s`", why, p->src);
}

/* \d \s \w and their negations as ranges; false for another letter. */
static bool perl_class(int32_t c, struct charset *cs, bool *ret_negate)
{
    static const struct range d[] = {{'0', '9'}};
    static const struct range s[] = {{'\t', '\n'}, {'\f', '\r'}, {' ', ' '}};
    static const struct range w[] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
    const struct range *t;
    size_t n;
    switch (c | 0x20) {
    case 'd': t = d, n = ELEMENTSOF(d); break;
    case 's': t = s, n = ELEMENTSOF(s); break;
    case 'w': t = w, n = ELEMENTSOF(w); break;
    default: return false;
    }
    for (size_t i = 0; i < n; i++)
        set_add(cs, t[i].lo, t[i].hi);
    *ret_negate = c >= 'A' && c <= 'Z';
    return true;
}

/* One escaped rune (after the backslash); RE_END on an unsupported escape. */
static int32_t escape_rune(struct parser *p)
{
    int32_t c = kiln_rune_next(&p->in);
    if (c == RE_END)
        return RE_END;
    if (c < 0x80 && !kiln_rune_isletter((uint32_t)c) && !kiln_rune_isdigit((uint32_t)c))
        return c;
    static const char names[] = "afnrtv", codes[] = "\a\f\n\r\t\v";
    const char *k = c < 0x80 ? strchr(names, (char)c) : NULL;
    if (k && c != 0)
        return (unsigned char)codes[k - names];
    if (c == '0') { /* up to two more octal digits */
        int32_t v = 0;
        for (int i = 0; i < 2 && kiln_rune_peek(&p->in) >= '0' && kiln_rune_peek(&p->in) <= '7';
             i++)
            v = v * 8 + (kiln_rune_next(&p->in) - '0');
        return v;
    }
    return RE_END;
}

static int class_char(struct parser *p, int32_t *ret)
{
    int32_t c = kiln_rune_next(&p->in);
    if (c == RE_END)
        return bad(p, "missing closing ]");
    if (c == '\\') {
        c = escape_rune(p);
        if (c == RE_END)
            return bad(p, "invalid escape sequence");
    }
    *ret = c;
    return 0;
}

/* After '[': a class, as Go's parseClass (a leading ']' is literal). */
static int parse_class(struct parser *p, size_t *ret_set)
{
    size_t set = new_set(p->re);
    struct charset *cs = &p->re->sets[set];
    if (kiln_rune_peek(&p->in) == '^') {
        (void)kiln_rune_next(&p->in);
        cs->negate = true;
    }
    for (bool first = true; first || kiln_rune_peek(&p->in) != ']'; first = false) {
        if (kiln_rune_peek(&p->in) == RE_END)
            return bad(p, "missing closing ]");
        size_t save = p->in.pos;
        if (kiln_rune_next(&p->in) == '\\') {
            bool neg;
            struct charset tmp = {0};
            if (perl_class(kiln_rune_peek(&p->in), &tmp, &neg) && !neg) {
                (void)kiln_rune_next(&p->in);
                for (size_t i = 0; i < tmp.n; i++)
                    set_add(&p->re->sets[set], tmp.r[i].lo, tmp.r[i].hi);
                free(tmp.r);
                continue;
            }
            free(tmp.r);
        }
        p->in.pos = save;
        int32_t lo, hi;
        int r = class_char(p, &lo);
        if (r < 0)
            return r;
        hi = lo;
        if (kiln_rune_peek(&p->in) == '-' && p->in.pos + 1 < p->in.n &&
            p->in.s[p->in.pos + 1] != ']') {
            (void)kiln_rune_next(&p->in);
            if ((r = class_char(p, &hi)) < 0)
                return r;
            if (hi < lo)
                return bad(p, "invalid character class range");
        }
        set_add(&p->re->sets[set], (uint32_t)lo, (uint32_t)hi);
    }
    (void)kiln_rune_next(&p->in);
    *ret_set = set;
    return 0;
}

static size_t char_inst(struct parser *p, size_t set)
{
    size_t i = emit(p->re, OP_CHAR, 0, 0);
    p->re->prog[i].set = set;
    return i;
}

static int parse_seq(struct parser *p, bool in_group);

/* One atom; *ret_start is its first instruction. 1 when one was parsed, 0 at a stop. */
static int parse_atom(struct parser *p, bool in_group, size_t *ret_start)
{
    int32_t c = kiln_rune_peek(&p->in);
    if (c == RE_END || (c == ')' && in_group))
        return 0;
    (void)kiln_rune_next(&p->in);
    *ret_start = p->re->n;
    size_t set = 0;
    int r;
    switch (c) {
    case '^': emit(p->re, OP_BOL, 0, 0); return 1;
    case '$': emit(p->re, OP_EOL, 0, 0); return 1;
    case '.':
        set = new_set(p->re);
        set_add(&p->re->sets[set], '\n', '\n');
        p->re->sets[set].negate = true;
        break;
    case '[':
        if ((r = parse_class(p, &set)) < 0)
            return r;
        break;
    case '(':
        if ((r = parse_seq(p, true)) < 0)
            return r;
        if (kiln_rune_next(&p->in) != ')')
            return bad(p, "missing closing )");
        return 1;
    case ')': return bad(p, "unexpected )");
    case '*':
    case '+':
    case '?': return bad(p, "missing argument to repetition operator");
    case '\\': {
        set = new_set(p->re);
        bool neg;
        if (perl_class(kiln_rune_peek(&p->in), &p->re->sets[set], &neg)) {
            (void)kiln_rune_next(&p->in);
            p->re->sets[set].negate = neg;
            break;
        }
        int32_t e = escape_rune(p);
        if (e == RE_END)
            return bad(p, "invalid escape sequence");
        set_add(&p->re->sets[set], (uint32_t)e, (uint32_t)e);
        break;
    }
    default:
        set = new_set(p->re);
        set_add(&p->re->sets[set], (uint32_t)c, (uint32_t)c);
        break;
    }
    char_inst(p, set);
    return 1;
}

/* Wraps the atom at [start, re->n) in a quantifier. */
static void quantify(struct kiln_ignore_regex *re, size_t start, int32_t q)
{
    size_t len = re->n - start;
    if (q == '+') {
        emit(re, OP_SPLIT, start, re->n + 1);
        return;
    }
    /* Make room for a SPLIT in front of the atom. */
    emit(re, OP_MATCH, 0, 0);
    memmove(&re->prog[start + 1], &re->prog[start], len * sizeof(*re->prog));
    for (size_t i = start + 1; i <= start + len; i++) {
        struct inst *in = &re->prog[i];
        if (in->op == OP_SPLIT || in->op == OP_JMP) {
            in->x += 1;
            in->y += in->op == OP_SPLIT ? 1 : 0;
        }
    }
    if (q == '*') {
        emit(re, OP_JMP, start, 0);
        re->prog[start] = (struct inst){OP_SPLIT, start + 1, re->n, 0};
    } else {
        re->prog[start] = (struct inst){OP_SPLIT, start + 1, re->n, 0};
    }
}

static int parse_seq(struct parser *p, bool in_group)
{
    for (;;) {
        size_t start;
        int r = parse_atom(p, in_group, &start);
        if (r <= 0)
            return r;
        int32_t q = kiln_rune_peek(&p->in);
        if (q == '*' || q == '+' || q == '?') {
            (void)kiln_rune_next(&p->in);
            int32_t q2 = kiln_rune_peek(&p->in);
            if (q2 == '*' || q2 == '+')
                return bad(p, "invalid nested repetition operator");
            if (q2 == '?') /* non-greedy: the same set of matches */
                (void)kiln_rune_next(&p->in);
            quantify(p->re, start, q);
        }
    }
}

void kiln_ignore__regex_free(struct kiln_ignore_regex *re)
{
    if (!re)
        return;
    for (size_t i = 0; i < re->n_sets; i++)
        free(re->sets[i].r);
    free(re->sets);
    free(re->prog);
    free(re);
}

int kiln_ignore__regex_new(const char *src, struct kiln_ignore_regex **ret, struct kiln_error **err)
{
    struct kiln_ignore_regex *re = kiln_xcalloc(1, sizeof(*re));
    struct parser p = {{src, strlen(src), 0}, re, err, src};
    int r = parse_seq(&p, false);
    if (r >= 0 && p.in.pos < p.in.n)
        r = bad(&p, "unexpected )");
    if (r < 0) {
        kiln_ignore__regex_free(re);
        return r;
    }
    emit(re, OP_MATCH, 0, 0);
    *ret = re;
    return 0;
}

static bool in_set(const struct charset *cs, uint32_t c)
{
    bool hit = false;
    for (size_t i = 0; i < cs->n && !hit; i++)
        hit = c >= cs->r[i].lo && c <= cs->r[i].hi;
    return hit != cs->negate;
}

struct threads {
    size_t *pc;
    size_t n;
    bool accept_here; /* a thread waits at "$" followed by the end: the text so far matches */
};

/* Adds pc and what it reaches without consuming a rune. */
static void add_thread(const struct kiln_ignore_regex *re, struct threads *t, uint32_t *seen,
                       uint32_t gen, size_t pc, size_t pos, size_t len)
{
    if (seen[pc] == gen)
        return;
    seen[pc] = gen;
    const struct inst *in = &re->prog[pc];
    switch (in->op) {
    case OP_JMP: add_thread(re, t, seen, gen, in->x, pos, len); break;
    case OP_SPLIT:
        add_thread(re, t, seen, gen, in->x, pos, len);
        add_thread(re, t, seen, gen, in->y, pos, len);
        break;
    case OP_BOL:
        if (pos == 0)
            add_thread(re, t, seen, gen, pc + 1, pos, len);
        break;
    case OP_EOL:
        if (pos == len)
            add_thread(re, t, seen, gen, pc + 1, pos, len);
        else if (re->prog[pc + 1].op == OP_MATCH)
            t->accept_here = true;
        break;
    case OP_MATCH: t->accept_here = true; break;
    default: t->pc[t->n++] = pc;
    }
}

void kiln_ignore__regex_match_prefixes(const struct kiln_ignore_regex *re, const char *s, bool *at)
{
    size_t len = strlen(s);
    memset(at, 0, len + 1);
    _cleanup_free_ size_t *a = kiln_xmalloc(re->n * sizeof(size_t));
    _cleanup_free_ size_t *b = kiln_xmalloc(re->n * sizeof(size_t));
    _cleanup_free_ uint32_t *seen = kiln_xcalloc(re->n, sizeof(uint32_t));
    struct threads cur = {a, 0, false}, nxt = {b, 0, false};
    uint32_t gen = 1;
    add_thread(re, &cur, seen, gen, 0, 0, len);
    for (size_t pos = 0;; gen++) {
        if (pos == len || s[pos] == '/')
            at[pos] = cur.accept_here;
        if (pos >= len || cur.n == 0)
            return;
        uint32_t c;
        size_t w = kiln_utf8_decode(s + pos, len - pos, &c);
        nxt.n = 0;
        nxt.accept_here = false;
        for (size_t i = 0; i < cur.n; i++) {
            const struct inst *in = &re->prog[cur.pc[i]];
            if (in->op == OP_CHAR && in_set(&re->sets[in->set], c))
                add_thread(re, &nxt, seen, gen + 1, cur.pc[i] + 1, pos + w, len);
        }
        pos += w;
        struct threads tmp = cur;
        cur = nxt;
        nxt = tmp;
    }
}

bool kiln_ignore__regex_match(const struct kiln_ignore_regex *re, const char *s)
{
    size_t len = strlen(s);
    _cleanup_free_ bool *at = kiln_xmalloc(len + 1);
    kiln_ignore__regex_match_prefixes(re, s, at);
    return at[len];
}
