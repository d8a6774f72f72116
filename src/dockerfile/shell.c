/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shell.c - BuildKit's Dockerfile lexer (frontend/dockerfile/shell/lex.go):
 * one pass over the runes of a word, expanding $ references, removing
 * quotes and escapes, and collecting ProcessWords' split words on the way.
 * ${...} forms recurse into the same loop, stopping at '}' or '/'.
 */
#include "shell.h"

#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "goquote.h"
#include "shell-pattern.h"

#include "base/banned.h"

#define END KILN_RUNE_END

void kiln_shell_env_set(struct kiln_shell_env *env, const char *name, const char *value)
{
    long i = kiln_strv_find(&env->names, name);
    if (i >= 0) {
        free(env->values.v[i]);
        env->values.v[i] = kiln_xstrdup(value);
        return;
    }
    kiln_strv_push(&env->names, name);
    kiln_strv_push(&env->values, value);
}

void kiln_shell_env_add_entries(struct kiln_shell_env *env, char *const *entries, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(entries[i], '=');
        _cleanup_free_ char *name =
                kiln_xstrndup(entries[i], eq ? (size_t)(eq - entries[i]) : strlen(entries[i]));
        kiln_shell_env_set(env, name, eq ? eq + 1 : "");
    }
}

const char *kiln_shell_env_get(const struct kiln_shell_env *env, const char *name)
{
    if (!env)
        return NULL;
    long i = kiln_strv_find(&env->names, name);
    return i < 0 ? NULL : env->values.v[i];
}

void kiln_shell_env_release(struct kiln_shell_env *env)
{
    kiln_strv_release(&env->names);
    kiln_strv_release(&env->values);
}

/* ProcessWords' word collector (BuildKit wordsStruct). */
struct words {
    struct kiln_buf buf;
    struct kiln_strv *out;
    bool in_word;
};

struct lexer {
    struct kiln_rune_cursor in;
    const struct kiln_shell_env *env;
    const struct kiln_shell_options *opt;
    bool raw_escapes;
    unsigned depth;
    struct kiln_shell_matches *matches;
    struct kiln_error **err;
};

static int32_t peek(const struct lexer *lx)
{
    return kiln_rune_peek(&lx->in);
}

static int32_t next(struct lexer *lx)
{
    return kiln_rune_next(&lx->in);
}

static int add_rune(struct kiln_buf *b, int32_t r)
{
    if (r >= 0 && r < 0x80)
        return kiln_buf_addch(b, (char)r);
    return kiln_utf8_encode(b, r < 0 ? 0xFFFD : (uint32_t)r);
}

static void words_raw_rune(struct words *w, int32_t r)
{
    if (!w)
        return;
    (void)add_rune(&w->buf, r);
    w->in_word = true;
}

static void words_flush(struct words *w)
{
    if (w->buf.len > 0) {
        kiln_strv_pushn(w->out, w->buf.buf, w->buf.len);
        kiln_buf_reset(&w->buf);
        w->in_word = false;
    }
}

static void words_rune(struct words *w, int32_t r)
{
    if (!w)
        return;
    bool space = r >= 0 && kiln_rune_isspace((uint32_t)r);
    if (space && w->in_word)
        words_flush(w);
    else if (!space)
        words_raw_rune(w, r);
}

static void words_string(struct words *w, const char *s, size_t n, bool raw)
{
    if (!w)
        return;
    if (raw) {
        (void)kiln_buf_add(&w->buf, s, n);
        w->in_word = true;
        return;
    }
    for (size_t i = 0; i < n;) {
        uint32_t r;
        i += kiln_utf8_decode(s + i, n - i, &r);
        words_rune(w, (int32_t)r);
    }
}

static int fail(struct lexer *lx, const char *fmt, ...) _printf_(2, 3);
static int fail(struct lexer *lx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = kiln_error_setv(lx->err, KILN_E_INVALID, fmt, ap);
    va_end(ap);
    return r;
}

static int too_long(struct lexer *lx)
{
    return kiln_error_set(lx->err, KILN_E_LIMIT, "the expansion is longer than %u bytes",
                          KILN_EXPAND_RESULT_MAX);
}

static int process_until(struct lexer *lx, int32_t stop, bool raw_escapes, struct kiln_buf *out,
                         struct words *w);

static void record(struct kiln_strv *list, const char *name)
{
    if (kiln_strv_find(list, name) < 0)
        kiln_strv_push(list, name);
}

/* Looks a name up, noting it for ProcessWordWithMatches. */
static const char *get_env(struct lexer *lx, const char *name)
{
    const char *v = kiln_shell_env_get(lx->env, name);
    if (lx->matches)
        record(v ? &lx->matches->matched : &lx->matches->unmatched, name);
    return v;
}

static bool is_special_param(int32_t c)
{
    return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' ||
           c == '0';
}

/* A parameter name: digits, one special character, or letters/digits/_. */
static void process_name(struct lexer *lx, struct kiln_buf *name)
{
    for (int32_t c = peek(lx); c != END; c = peek(lx)) {
        if (name->len == 0 && kiln_rune_isdigit((uint32_t)c)) {
            while (peek(lx) != END && kiln_rune_isdigit((uint32_t)peek(lx)))
                (void)add_rune(name, next(lx));
            return;
        }
        if (name->len == 0 && is_special_param(c)) {
            (void)add_rune(name, next(lx));
            return;
        }
        if (!kiln_rune_isletter((uint32_t)c) && !kiln_rune_isdigit((uint32_t)c) && c != '_')
            return;
        (void)add_rune(name, next(lx));
    }
}

/* Runs process_until(stop) for a ${...} part, with BuildKit's EOF messages. */
static int sub_word(struct lexer *lx, int32_t stop, bool raw, struct kiln_buf *out,
                    const char *eof_msg)
{
    int r = process_until(lx, stop, raw, out, NULL);
    if (r < 0 && r != KILN_E_LIMIT && peek(lx) == END)
        return fail(lx, "%s", eof_msg);
    return r;
}

/* ${name:-w} ${name-w} ${name:+w} ${name+w} ${name:?w} ${name?w} ${name#p} ${name%p} */
static int modifier(struct lexer *lx, const char *name, const char *chs, int32_t op,
                    bool null_unset, struct kiln_buf *out)
{
    bool raw = op == '#' || op == '%';
    if (null_unset && raw)
        return fail(lx, "unsupported modifier (%s) in substitution", chs);
    _cleanup_buf_ struct kiln_buf word = KILN_BUF_INIT(KILN_EXPAND_RESULT_MAX);
    int r = sub_word(lx, '}', raw, &word, "syntax error: missing '}'");
    if (r < 0)
        return r;
    const char *value = get_env(lx, name);
    if (lx->opt->skip_unset_env && !value)
        return kiln_buf_addf(out, "${%s%s%s}", name, chs, word.buf) < 0 ? too_long(lx) : 0;
    bool empty = !value || (null_unset && value[0] == '\0');
    switch (op) {
    case '-': return kiln_buf_adds(out, empty ? word.buf : value) < 0 ? too_long(lx) : 0;
    case '+': return kiln_buf_adds(out, empty ? "" : word.buf) < 0 ? too_long(lx) : 0;
    case '?':
        if (!value || empty)
            return fail(lx, "%s: %s", name,
                        word.len ? word.buf
                        : !value ? "is not allowed to be unset"
                                 : "is not allowed to be empty");
        return kiln_buf_adds(out, value) < 0 ? too_long(lx) : 0;
    case '#':
    case '%': {
        const char *pat = word.buf;
        bool greedy = pat[0] == (char)op;
        r = kiln_shell_trim(greedy ? pat + 1 : pat, value ? value : "", op == '%', greedy, out,
                            lx->err);
        return r == KILN_E_LIMIT && (!lx->err || !*lx->err) ? too_long(lx) : r;
    }
    default: return fail(lx, "unsupported modifier (%s) in substitution", chs);
    }
}

/* ${name/pattern/replacement} and ${name//pattern/replacement} */
static int substitute(struct lexer *lx, const char *name, struct kiln_buf *out)
{
    bool all = peek(lx) == '/';
    if (all)
        (void)next(lx);
    _cleanup_buf_ struct kiln_buf pat = KILN_BUF_INIT(KILN_EXPAND_RESULT_MAX);
    _cleanup_buf_ struct kiln_buf repl = KILN_BUF_INIT(KILN_EXPAND_RESULT_MAX);
    int r = sub_word(lx, '/', true, &pat, "syntax error: missing '/' in ${}");
    if (r >= 0)
        r = sub_word(lx, '}', true, &repl, "syntax error: missing '}'");
    if (r < 0)
        return r;
    const char *value = get_env(lx, name);
    if (lx->opt->skip_unset_env && !value)
        return kiln_buf_addf(out, "${%s/%s/%s}", name, pat.buf, repl.buf) < 0 ? too_long(lx) : 0;
    return kiln_shell_replace(pat.buf, value ? value : "", repl.buf, all, out, lx->err);
}

static int braced(struct lexer *lx, struct kiln_buf *out)
{
    int32_t c = peek(lx);
    if (c == END)
        return fail(lx, "syntax error: missing '}'");
    if (c == '{' || c == '}' || c == ':')
        return fail(lx, "syntax error: bad substitution");
    _cleanup_buf_ struct kiln_buf name = KILN_BUF_INIT(KILN_EXPAND_RESULT_MAX);
    process_name(lx, &name);
    int32_t op = next(lx);
    if (op == END) /* BuildKit reports "unsupported modifier (\ufffd)" here */
        return fail(lx, "syntax error: missing '}'");
    char chs[16];
    size_t cn = 0;
    struct kiln_buf tmp = KILN_BUF_INIT(8);
    (void)add_rune(&tmp, op);
    memcpy(chs, tmp.buf, tmp.len);
    cn = tmp.len;
    kiln_buf_release(&tmp);
    chs[cn] = '\0';
    if (op == '}') {
        const char *value = get_env(lx, name.buf);
        if (!value && lx->opt->skip_unset_env)
            return kiln_buf_addf(out, "${%s}", name.buf) < 0 ? too_long(lx) : 0;
        return kiln_buf_adds(out, value ? value : "") < 0 ? too_long(lx) : 0;
    }
    if (op == ':') {
        op = next(lx);
        struct kiln_buf t2 = KILN_BUF_INIT(8);
        (void)add_rune(&t2, op);
        memcpy(chs + cn, t2.buf, t2.len);
        chs[cn + t2.len] = '\0';
        kiln_buf_release(&t2);
        return modifier(lx, name.buf, chs, op, true, out);
    }
    if (op == '+' || op == '-' || op == '?' || op == '#' || op == '%')
        return modifier(lx, name.buf, chs, op, false, out);
    if (op == '/')
        return substitute(lx, name.buf, out);
    return fail(lx, "unsupported modifier (%s) in substitution", chs);
}

/* After '$': a name, ${...}, or a lone '$'. */
static int dollar(struct lexer *lx, struct kiln_buf *out)
{
    (void)next(lx);
    if (peek(lx) != '{') {
        _cleanup_buf_ struct kiln_buf name = KILN_BUF_INIT(KILN_EXPAND_RESULT_MAX);
        process_name(lx, &name);
        if (name.len == 0)
            return kiln_buf_addch(out, '$') < 0 ? too_long(lx) : 0;
        const char *value = get_env(lx, name.buf);
        if (!value && lx->opt->skip_unset_env)
            return kiln_buf_addf(out, "$%s", name.buf) < 0 ? too_long(lx) : 0;
        return kiln_buf_adds(out, value ? value : "") < 0 ? too_long(lx) : 0;
    }
    (void)next(lx);
    if (++lx->depth > KILN_EXPAND_DEPTH_MAX)
        return kiln_error_set(lx->err, KILN_E_LIMIT, "${...} nested more than %u deep",
                              KILN_EXPAND_DEPTH_MAX);
    int r = braced(lx, out);
    lx->depth--;
    return r;
}

static int single_quote(struct lexer *lx, struct kiln_buf *out)
{
    int32_t c = next(lx);
    if (lx->opt->raw_quotes)
        (void)add_rune(out, c);
    for (;;) {
        c = next(lx);
        if (c == END)
            return fail(lx, "unexpected end of statement while looking for matching single-quote");
        if (c == '\'') {
            if (lx->opt->raw_quotes)
                (void)add_rune(out, c);
            return 0;
        }
        if (add_rune(out, c) < 0)
            return too_long(lx);
    }
}

static int double_quote(struct lexer *lx, struct kiln_buf *out)
{
    int32_t c = next(lx);
    if (lx->opt->raw_quotes)
        (void)add_rune(out, c);
    for (;;) {
        c = peek(lx);
        if (c == END)
            return fail(lx, "unexpected end of statement while looking for matching double-quote");
        if (c == '"') {
            (void)next(lx);
            if (lx->opt->raw_quotes)
                (void)add_rune(out, c);
            return 0;
        }
        if (c == '$') {
            int r = dollar(lx, out);
            if (r < 0)
                return r;
            continue;
        }
        c = next(lx);
        if (c == lx->opt->escape) {
            if (lx->raw_escapes)
                (void)add_rune(out, c);
            int32_t p = peek(lx);
            if (p == END)
                continue;
            if (p == '"' || p == '$' || p == lx->opt->escape)
                c = next(lx);
        }
        if (add_rune(out, c) < 0)
            return too_long(lx);
    }
}

/* After '<': "<<" plus following blanks stays one piece (a heredoc opener). */
static void possible_heredoc(struct lexer *lx, struct kiln_buf *out)
{
    (void)next(lx);
    if (peek(lx) != '<') {
        (void)kiln_buf_addch(out, '<');
        return;
    }
    (void)next(lx);
    (void)kiln_buf_adds(out, "<<");
    for (int32_t c = peek(lx); c == '\t' || c == '\r' || c == ' '; c = peek(lx))
        (void)add_rune(out, next(lx));
}

/* One special character ($ ' " <): its text goes to out and to the words. */
static int special(struct lexer *lx, int32_t c, struct kiln_buf *out, struct words *w)
{
    size_t before = out->len;
    int r = 0;
    if (c == '$')
        r = dollar(lx, out);
    else if (c == '\'')
        r = single_quote(lx, out);
    else if (c == '"')
        r = double_quote(lx, out);
    else
        possible_heredoc(lx, out);
    if (r < 0)
        return r;
    words_string(w, out->buf + before, out->len - before, c != '$');
    return 0;
}

static int process_until(struct lexer *lx, int32_t stop, bool raw_escapes, struct kiln_buf *out,
                         struct words *w)
{
    bool saved = lx->raw_escapes;
    lx->raw_escapes = raw_escapes;
    int r = 0;
    for (int32_t c = peek(lx); r >= 0 && c != END; c = peek(lx)) {
        if (stop != END && c == stop) {
            (void)next(lx);
            lx->raw_escapes = saved;
            return 0;
        }
        if (c == '$' || c == '<' || (!lx->opt->skip_process_quotes && (c == '\'' || c == '"'))) {
            r = special(lx, c, out, w);
            continue;
        }
        c = next(lx);
        if (c == lx->opt->escape) {
            if (lx->raw_escapes) {
                words_raw_rune(w, c);
                r = add_rune(out, c);
            }
            c = next(lx);
            if (c == END)
                break;
            words_raw_rune(w, c);
        } else {
            words_rune(w, c);
        }
        if (r >= 0 && add_rune(out, c) < 0)
            r = too_long(lx);
    }
    lx->raw_escapes = saved;
    if (r < 0)
        return r;
    if (stop != END) {
        struct kiln_buf s = KILN_BUF_INIT(8);
        (void)add_rune(&s, stop);
        r = fail(lx, "unexpected end of statement while looking for matching %s", s.buf);
        kiln_buf_release(&s);
        return r;
    }
    return 0;
}

static int process(const char *word, const struct kiln_shell_env *env,
                   const struct kiln_shell_options *opt, struct kiln_buf *out, struct words *w,
                   struct kiln_shell_matches *matches, struct kiln_error **err)
{
    struct lexer lx = {
            .in = {word, strlen(word), 0}, .env = env, .opt = opt, .matches = matches, .err = err};
    /* The scanner BuildKit uses skips a byte-order mark at the start. */
    if (lx.in.n >= 3 && memcmp(word, "\xEF\xBB\xBF", 3) == 0)
        lx.in.pos = 3;
    int r = process_until(&lx, END, opt->raw_escapes, out, w);
    if (r == KILN_E_INVALID && err && *err) {
        _cleanup_buf_ struct kiln_buf q = KILN_BUF_INIT(1024);
        size_t shown = lx.in.n > 200 ? 200 : lx.in.n;
        (void)kiln_goquote(&q, word, shown);
        return kiln_error_wrap(err, r, "failed to process %s%s", q.buf,
                               shown < lx.in.n ? "..." : "");
    }
    return r;
}

int kiln_shell_process_word(const char *word, const struct kiln_shell_env *env,
                            const struct kiln_shell_options *opt, char **ret,
                            struct kiln_shell_matches *matches, struct kiln_error **err)
{
    struct kiln_buf out = KILN_BUF_INIT(KILN_EXPAND_RESULT_MAX);
    int r = process(word, env, opt, &out, NULL, matches, err);
    if (r < 0) {
        kiln_buf_release(&out);
        return r;
    }
    *ret = kiln_buf_detach(&out, NULL);
    return 0;
}

int kiln_shell_process_words(const char *word, const struct kiln_shell_env *env,
                             const struct kiln_shell_options *opt, struct kiln_strv *ret,
                             struct kiln_error **err)
{
    _cleanup_buf_ struct kiln_buf out = KILN_BUF_INIT(KILN_EXPAND_RESULT_MAX);
    _cleanup_strv_ struct kiln_strv list = KILN_STRV_INIT;
    struct words w = {.buf = KILN_BUF_INIT(KILN_EXPAND_RESULT_MAX), .out = &list};
    int r = process(word, env, opt, &out, &w, NULL, err);
    if (r >= 0)
        words_flush(&w);
    kiln_buf_release(&w.buf);
    if (r < 0)
        return r;
    for (size_t i = 0; i < list.n; i++)
        kiln_strv_push(ret, list.v[i]);
    return 0;
}
