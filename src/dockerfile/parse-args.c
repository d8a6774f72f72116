/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parse-args.c - one logical line to one instruction node: the keyword, the
 * leading --flags and the arguments, split by each instruction's own rule
 * (BuildKit's splitCommand, extractBuilderFlags and line parsers).
 */
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "goquote.h"
#include "json-array.h"
#include "parser-internal.h"

#include "base/banned.h"

size_t kiln_df__span_space(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t r;
        size_t len = kiln_utf8_decode(s + i, n - i, &r);
        if (!kiln_rune_isspace(r) || (r == 0xFFFD && len == 1))
            break;
        i += len;
    }
    return i;
}

size_t kiln_df__trim_right_space(const char *s, size_t n)
{
    while (n > 0) {
        unsigned char c = (unsigned char)s[n - 1];
        if (c < 0x80) {
            if (!kiln_rune_isspace(c))
                return n;
            n--;
            continue;
        }
        /* Find the start of the last sequence; decode it forward. */
        size_t start = n - 1;
        while (start > 0 && n - start < 4 && ((unsigned char)s[start] & 0xC0) == 0x80)
            start--;
        uint32_t r;
        size_t len = kiln_utf8_decode(s + start, n - start, &r);
        if (start + len != n || !kiln_rune_isspace(r))
            return n;
        n = start;
    }
    return 0;
}

/* Appends rune r as Go's WriteRune does (a byte taken as a rune is Latin-1). */
static inline void add_rune(struct kiln_buf *b, uint32_t r)
{
    if (r < 0x80)
        (void)kiln_buf_addch(b, (char)r);
    else
        (void)kiln_utf8_encode(b, r);
}

/*
 * BuildKit's extractBuilderFlags, byte by byte: takes the leading words that
 * start with "--" (quotes removed, escapes applied) into flags and returns
 * the offset where the arguments start (n when none are left).
 */
static size_t extract_flags(const char *s, size_t n, char escape, struct kiln_strv *flags)
{
    enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
    struct kiln_buf w = KILN_BUF_INIT(KILN_DOCKERFILE_MAX);
    bool blank_ok = false;
    char quote = 0;
    size_t pos;
    for (pos = 0; pos <= n; pos++) {
        unsigned char ch = pos < n ? (unsigned char)s[pos] : 0;
        if (phase == IN_SPACES) {
            if (pos == n)
                break;
            if (kiln_df__byte_isspace(ch))
                continue;
            if (ch != '-' || pos + 1 == n || s[pos + 1] != '-')
                break;
            phase = IN_WORD;
        }
        if (pos == n) {
            if (strcmp(w.buf, "--") != 0 && (blank_ok || w.len > 0))
                kiln_strv_pushn(flags, w.buf, w.len);
            break;
        }
        if (phase == IN_WORD) {
            if (kiln_df__byte_isspace(ch)) {
                phase = IN_SPACES;
                if (strcmp(w.buf, "--") == 0)
                    break;
                if (blank_ok || w.len > 0)
                    kiln_strv_pushn(flags, w.buf, w.len);
                kiln_buf_reset(&w);
                blank_ok = false;
                continue;
            }
            if (ch == '\'' || ch == '"') {
                quote = (char)ch;
                blank_ok = true;
                phase = IN_QUOTE;
                continue;
            }
        } else if (ch == (unsigned char)quote) { /* IN_QUOTE */
            phase = IN_WORD;
            continue;
        }
        if (ch == (unsigned char)escape) {
            if (pos + 1 == n) {
                phase = IN_WORD;
                continue;
            }
            ch = (unsigned char)s[++pos];
        }
        add_rune(&w, ch);
    }
    kiln_buf_release(&w);
    return pos >= n ? n : pos;
}

void kiln_df__parse_words(const char *s, size_t n, char escape, struct kiln_strv *ret)
{
    enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
    struct kiln_buf w = KILN_BUF_INIT(KILN_DOCKERFILE_MAX * 3);
    (void)kiln_buf_grow(&w, n * 3 + 1); /* one allocation: a rune grows to 3 bytes at most */
    bool blank_ok = false;
    uint32_t quote = 0, ch = 0;
    size_t width = 0;
    for (size_t pos = 0; pos <= n; pos += width) {
        if (pos < n)
            width = kiln_utf8_decode(s + pos, n - pos, &ch);
        if (phase == IN_SPACES) {
            if (pos == n)
                break;
            if (kiln_rune_isspace(ch))
                continue;
            phase = IN_WORD;
        }
        if (pos == n) {
            if (blank_ok || w.len > 0)
                kiln_strv_pushn(ret, w.buf, w.len);
            break;
        }
        if (phase == IN_WORD) {
            if (kiln_rune_isspace(ch)) {
                phase = IN_SPACES;
                if (blank_ok || w.len > 0)
                    kiln_strv_pushn(ret, w.buf, w.len);
                kiln_buf_reset(&w);
                blank_ok = false;
                continue;
            }
            if (ch == '\'' || ch == '"') {
                quote = ch;
                blank_ok = true;
                phase = IN_QUOTE;
            }
        } else {
            if (ch == quote)
                phase = IN_WORD;
            if (ch == (uint32_t)escape && quote == '\'') {
                add_rune(&w, ch);
                continue;
            }
        }
        if (ch == (uint32_t)escape) {
            if (pos + width == n) {
                if (phase == IN_QUOTE)
                    phase = IN_WORD;
                continue;
            }
            add_rune(&w, ch);
            pos += width;
            width = kiln_utf8_decode(s + pos, n - pos, &ch);
        }
        add_rune(&w, ch);
    }
    kiln_buf_release(&w);
}

/* Splits on runs of [\t\v\f\r ] (BuildKit's reWhitespace), at most `max` parts (0: all). */
static void split_ws(const char *s, size_t n, size_t max, struct kiln_strv *ret)
{
    size_t start = 0;
    for (size_t i = 0; i < n;) {
        if (!kiln_df__ascii_ws(s[i]) || (max && ret->n + 1 == max)) {
            i++;
            continue;
        }
        kiln_strv_pushn(ret, s + start, i - start);
        while (i < n && kiln_df__ascii_ws(s[i]))
            i++;
        start = i;
        if (max && ret->n + 1 == max)
            break;
    }
    kiln_strv_pushn(ret, s + start, n - start);
}

static int parse_name_val(struct kiln_df_node *node, const char *s, size_t n, char escape,
                          const char *key, struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv words = KILN_STRV_INIT;
    kiln_df__parse_words(s, n, escape, &words);
    if (words.n == 0)
        return 0;
    if (!strchr(words.v[0], '=')) {
        _cleanup_strv_ struct kiln_strv parts = KILN_STRV_INIT;
        split_ws(s, n, 2, &parts);
        if (parts.n < 2)
            return kiln_error_set(err, KILN_E_INVALID, "%s must have two arguments", key);
        kiln_strv_push(&node->args, parts.v[0]);
        kiln_strv_push(&node->args, parts.v[1]);
        kiln_strv_push(&node->args, "");
        return 0;
    }
    for (size_t i = 0; i < words.n; i++) {
        char *eq = strchr(words.v[i], '=');
        if (!eq) {
            _cleanup_buf_ struct kiln_buf q = KILN_BUF_INIT(KILN_DOCKERFILE_MAX * 4);
            (void)kiln_goquote(&q, words.v[i], strlen(words.v[i]));
            return kiln_error_set(err, KILN_E_INVALID,
                                  "Syntax error - can't find = in %s. Must be of the form: "
                                  "name=value",
                                  q.buf);
        }
        kiln_strv_pushn(&node->args, words.v[i], (size_t)(eq - words.v[i]));
        kiln_strv_push(&node->args, eq + 1);
        kiln_strv_push(&node->args, "=");
    }
    return 0;
}

/* parseMaybeJSON (to_list false) and parseMaybeJSONToList (to_list true). */
static int parse_maybe_json(struct kiln_df_node *node, const char *s, size_t n, bool to_list,
                            struct kiln_error **err)
{
    if (n == 0 && !to_list)
        return 0;
    int r = kiln_df_json_array(s, n, &node->args, &node->arg_len, err);
    if (r < 0)
        return r;
    if (r > 0) {
        node->json = true;
        return 0;
    }
    if (!to_list)
        kiln_strv_pushn(&node->args, s, n);
    else if (n > 0)
        split_ws(s, n, 0, &node->args);
    return 0;
}

static int parse_healthcheck(struct kiln_df_node *node, const char *s, size_t n,
                             struct kiln_error **err)
{
    size_t sep = 0, next;
    while (sep < n && !kiln_df__byte_isspace((unsigned char)s[sep]))
        sep++;
    for (next = sep; next < n && kiln_df__byte_isspace((unsigned char)s[next]);)
        next++;
    if (sep == 0)
        return 0;
    kiln_strv_pushn(&node->args, s, sep);
    return parse_maybe_json(node, s + next, n - next, false, err);
}

enum rule {
    R_IGNORE,
    R_JSON,
    R_JSON_LIST,
    R_WORDS_WS,
    R_STRING,
    R_NAMEVAL,
    R_ARG,
    R_HEALTH,
    R_ONBUILD
};

static const struct {
    const char *name;
    enum rule rule;
} rules[] = {
        {"add", R_JSON_LIST},   {"arg", R_ARG},           {"cmd", R_JSON},
        {"copy", R_JSON_LIST},  {"entrypoint", R_JSON},   {"env", R_NAMEVAL},
        {"expose", R_WORDS_WS}, {"from", R_WORDS_WS},     {"healthcheck", R_HEALTH},
        {"label", R_NAMEVAL},   {"maintainer", R_STRING}, {"onbuild", R_ONBUILD},
        {"run", R_JSON},        {"shell", R_JSON},        {"stopsignal", R_STRING},
        {"user", R_STRING},     {"volume", R_JSON_LIST},  {"workdir", R_STRING},
};

static enum rule rule_for(const char *keyword)
{
    for (size_t i = 0; i < ELEMENTSOF(rules); i++)
        if (strcmp(rules[i].name, keyword) == 0)
            return rules[i].rule;
    return R_IGNORE;
}

static int dispatch(struct kiln_df_node *node, const char *s, size_t n, char escape, unsigned depth,
                    struct kiln_error **err)
{
    switch (rule_for(node->keyword)) {
    case R_IGNORE: kiln_strv_push(&node->args, ""); return 0;
    case R_JSON: return parse_maybe_json(node, s, n, false, err);
    case R_JSON_LIST: return parse_maybe_json(node, s, n, true, err);
    case R_WORDS_WS:
        if (n > 0)
            split_ws(s, n, 0, &node->args);
        return 0;
    case R_STRING:
        if (n > 0)
            kiln_strv_pushn(&node->args, s, n);
        return 0;
    case R_NAMEVAL:
        return parse_name_val(node, s, n, escape, strcmp(node->keyword, "env") ? "LABEL" : "ENV",
                              err);
    case R_ARG: kiln_df__parse_words(s, n, escape, &node->args); return 0;
    case R_HEALTH: return parse_healthcheck(node, s, n, err);
    case R_ONBUILD:
        if (n == 0)
            return 0;
        if (depth + 1 >= KILN_DOCKERFILE_NEST_MAX)
            return kiln_error_set(err, KILN_E_LIMIT, "ONBUILD is nested more than %u deep",
                                  KILN_DOCKERFILE_NEST_MAX);
        return kiln_df__node_from_line(s, n, escape, depth + 1, &node->sub, err);
    }
    return 0;
}

/*
 * A node with its original line and keyword (Go's strings.ToLower of the
 * word, with its ASCII fast path) in the same allocation.
 */
static struct kiln_df_node *new_node(const char *line, size_t n, const char *kw, size_t kn)
{
    bool ascii = true;
    for (size_t i = 0; i < kn && ascii; i++)
        ascii = (unsigned char)kw[i] < 0x80;
    struct kiln_buf lower = KILN_BUF_INIT(KILN_DOCKERFILE_MAX * 3);
    if (!ascii)
        (void)kiln_go_tolower(&lower, kw, kn);
    size_t kl = ascii ? kn : lower.len;
    struct kiln_df_node *node = kiln_xcalloc(1, sizeof(*node) + n + 1 + kl + 1);
    node->original = (char *)(node + 1);
    memcpy(node->original, line, n);
    node->keyword = node->original + n + 1;
    memcpy(node->keyword, ascii ? kw : lower.buf, kl);
    for (size_t i = 0; ascii && i < kl; i++)
        if (node->keyword[i] >= 'A' && node->keyword[i] <= 'Z')
            node->keyword[i] = (char)(node->keyword[i] + 32);
    kiln_buf_release(&lower);
    node->flags = (struct kiln_strv)KILN_STRV_INIT;
    node->args = (struct kiln_strv)KILN_STRV_INIT;
    return node;
}

int kiln_df__node_from_line(const char *line, size_t n, char escape, unsigned depth,
                            struct kiln_df_node **ret_node, struct kiln_error **err)
{
    /* splitCommand: trim, keyword up to the first [\t\v\f\r ] run, then flags. */
    size_t lead = kiln_df__span_space(line, n);
    const char *t = line + lead;
    size_t tn = kiln_df__trim_right_space(t, n - lead);
    size_t kw = 0;
    while (kw < tn && !kiln_df__ascii_ws(t[kw]))
        kw++;
    size_t rest = kw;
    while (rest < tn && kiln_df__ascii_ws(t[rest]))
        rest++;

    _cleanup_(kiln_df_node_freep) struct kiln_df_node *node = new_node(line, n, t, kw);

    const char *args = t + tn;
    size_t args_n = 0;
    if (rest > kw) {
        size_t off = extract_flags(t + rest, tn - rest, escape, &node->flags);
        const char *a = t + rest + off;
        size_t an = tn - rest - off;
        size_t l = kiln_df__span_space(a, an);
        args = a + l;
        args_n = kiln_df__trim_right_space(args, an - l);
    }
    int r = dispatch(node, args, args_n, escape, depth, err);
    if (r < 0)
        return r;
    *ret_node = TAKE_PTR(node);
    return 0;
}
