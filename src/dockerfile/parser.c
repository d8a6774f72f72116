/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parser.c - Dockerfile bytes to instruction nodes, line by line as
 * BuildKit's parser reads them: physical lines (newline kept, at most 64 KiB
 * - 1 bytes), directives at the top, comments and blank lines skipped,
 * continuation lines joined (comments and blank lines inside them dropped),
 * then each logical line split by parse-args.c, then heredoc bodies read.
 */
#include "parser.h"

#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "parser-internal.h"

#include "base/banned.h"

struct scanner {
    const char *p, *end;
    unsigned line; /* lines consumed so far */
};

/*
 * Next physical line, newline included. Returns 1 with a line, 0 at the end,
 * KILN_E_INVALID when a line is longer than BuildKit's scanner accepts.
 */
static int next_line(struct scanner *s, const char **ret, size_t *ret_n, struct kiln_error **err)
{
    if (s->p >= s->end)
        return 0;
    size_t left = (size_t)(s->end - s->p);
    const char *nl = memchr(
            s->p, '\n', left < KILN_DOCKERFILE_LINE_MAX + 1 ? left : KILN_DOCKERFILE_LINE_MAX + 1);
    size_t n = nl ? (size_t)(nl - s->p) + 1 : left;
    if ((!nl && n > KILN_DOCKERFILE_LINE_MAX))
        return kiln_error_set_line(err, KILN_E_INVALID, s->line + 1,
                                   "dockerfile line greater than max allowed size of %u",
                                   KILN_DOCKERFILE_LINE_MAX);
    *ret = s->p;
    *ret_n = n;
    s->p += n;
    s->line++;
    return 1;
}

/* Trailing "\r" and "\n" removed (BuildKit trimNewline). */
static size_t trim_newline(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    return n;
}

static bool is_comment(const char *s, size_t n)
{
    size_t l = kiln_df__span_space(s, n);
    return l < n && s[l] == '#';
}

/*
 * BuildKit's line-continuation rule: the last character other than space or
 * tab is the escape token and is not itself escaped (or is the only one).
 * Returns the length to keep when the line continues, or (size_t)-1.
 */
static size_t continuation(const char *s, size_t n, char escape)
{
    size_t e = n;
    while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    if (e == 0 || s[e - 1] != escape)
        return (size_t)-1;
    if (e >= 2 && s[e - 2] == escape)
        return (size_t)-1;
    return e - 1;
}

struct parse {
    struct scanner sc;
    struct kiln_df_ast *ast;
    struct kiln_df_directive_parser dp;
    struct kiln_buf logical;
    struct kiln_error **err;
};

/* BuildKit processLine: newline trimmed, maybe left-trimmed, directive check. */
static int process_line(struct parse *ps, const char **s, size_t *n, bool strip_left)
{
    *n = trim_newline(*s, *n);
    if (strip_left) {
        size_t l = kiln_df__span_space(*s, *n);
        *s += l;
        *n -= l;
    }
    struct kiln_df_directive d = {0};
    int r = kiln_df__directive_line(&ps->dp, "#", *s, *n, &d, ps->err);
    if (r < 0)
        return kiln_error_at_line(ps->err, r, ps->sc.line);
    if (r > 0) {
        d.line = ps->sc.line;
        if (strcmp(d.name, "escape") == 0 && strcmp(d.value, "`") != 0 &&
            strcmp(d.value, "\\") != 0) {
            r = kiln_error_set_line(ps->err, KILN_E_INVALID, ps->sc.line,
                                    "invalid escape token '%s' does not match ` or \\", d.value);
            free(d.name);
            free(d.value);
            return r;
        }
        if (strcmp(d.name, "escape") == 0)
            ps->ast->escape = d.value[0];
        struct kiln_df_ast *ast = ps->ast;
        ast->directives =
                kiln_xrealloc(ast->directives, (ast->n_directives + 1) * sizeof(*ast->directives));
        ast->directives[ast->n_directives++] = d;
    }
    if (is_comment(*s, *n))
        *n = 0;
    return 0;
}

static void add_warning(struct kiln_df_ast *ast, unsigned line, const char *logical)
{
    ast->warnings = kiln_xrealloc(ast->warnings, (ast->n_warnings + 1) * sizeof(*ast->warnings));
    ast->warnings[ast->n_warnings++] = (struct kiln_df_warning){
            .message = kiln_xasprintf("Empty continuation line found in: %s", logical),
            .detail = kiln_xstrdup("Empty continuation lines will become errors in a future "
                                   "release"),
            .line = line,
    };
}

/* Reads the continuation lines of the instruction begun in ps->logical. */
static int read_continuation(struct parse *ps)
{
    bool empty_continuation = false;
    for (;;) {
        const char *s, *raw;
        size_t n, raw_n;
        int r = next_line(&ps->sc, &s, &n, ps->err);
        if (r <= 0)
            return r;
        raw = s;
        raw_n = n;
        r = process_line(ps, &s, &n, false);
        if (r < 0)
            return r;
        if (is_comment(raw, raw_n))
            continue;
        if (kiln_df__span_space(s, n) == n) {
            empty_continuation = true;
            continue;
        }
        size_t keep = continuation(s, n, ps->ast->escape);
        if (kiln_buf_add(&ps->logical, s, keep == (size_t)-1 ? n : keep) < 0)
            return kiln_error_set_line(ps->err, KILN_E_LIMIT, ps->sc.line,
                                       "instruction longer than %u bytes", KILN_DOCKERFILE_MAX);
        if (keep == (size_t)-1)
            break;
    }
    if (empty_continuation)
        add_warning(ps->ast, ps->sc.line, ps->logical.buf);
    return 0;
}

/* Reads the bodies of the heredocs the instruction line opened. */
static int read_heredocs(struct parse *ps, struct kiln_df_node *node, unsigned start)
{
    int r = kiln_df__heredocs_from_line(ps->logical.buf, ps->logical.len, &node->heredocs,
                                        &node->n_heredocs, ps->err);
    if (r < 0)
        return kiln_error_at_line(ps->err, r, start);
    for (size_t i = 0; i < node->n_heredocs; i++) {
        struct kiln_df_heredoc *h = &node->heredocs[i];
        size_t name_n = strlen(h->name);
        const char *body = ps->sc.p;
        bool done = false;
        for (;;) {
            const char *s;
            size_t n;
            r = next_line(&ps->sc, &s, &n, ps->err);
            if (r < 0)
                return r;
            if (r == 0)
                break;
            size_t tn = trim_newline(s, n);
            const char *t = s;
            if (h->chomp)
                while (tn > 0 && *t == '\t')
                    t++, tn--;
            if (tn == name_n && memcmp(t, h->name, name_n) == 0) {
                free(h->content);
                h->content = kiln_xstrndup(body, (size_t)(s - body));
                done = true;
                break;
            }
        }
        if (!done)
            return kiln_error_set_line(ps->err, KILN_E_INVALID, start,
                                       "unterminated heredoc: no line '%s' ends the heredoc "
                                       "opened here",
                                       h->name);
    }
    return 0;
}

static int add_node(struct kiln_df_ast *ast, struct kiln_df_node *node, struct kiln_error **err)
{
    if (ast->n_nodes >= KILN_DOCKERFILE_NODES_MAX)
        return kiln_error_set_line(err, KILN_E_LIMIT, node->start_line, "more than %u instructions",
                                   KILN_DOCKERFILE_NODES_MAX);
    KILN_GROW(ast->nodes, ast->alloc_nodes, ast->n_nodes + 1);
    ast->nodes[ast->n_nodes++] = node;
    if (ast->n_nodes == 1)
        ast->start_line = node->start_line;
    ast->end_line = node->end_line;
    return 0;
}

/* One instruction: its first physical line is s/n. */
static int parse_instruction(struct parse *ps, const char *s, size_t n)
{
    unsigned start = ps->sc.line;
    size_t keep = continuation(s, n, ps->ast->escape);
    if (keep == (size_t)-1 && n == 0)
        return 0;
    kiln_buf_reset(&ps->logical);
    if (kiln_buf_add(&ps->logical, s, keep == (size_t)-1 ? n : keep) < 0)
        return kiln_error_set_line(ps->err, KILN_E_LIMIT, start, "instruction too long");
    if (keep != (size_t)-1) {
        int r = read_continuation(ps);
        if (r < 0)
            return r;
    }
    _cleanup_(kiln_df_node_freep) struct kiln_df_node *node = NULL;
    int r = kiln_df__node_from_line(ps->logical.buf, ps->logical.len, ps->ast->escape, 0, &node,
                                    ps->err);
    if (r < 0)
        return kiln_error_at_line(ps->err, r, start);
    if (kiln_df__can_contain_heredoc(node) && memmem(ps->logical.buf, ps->logical.len, "<<", 2)) {
        r = read_heredocs(ps, node, start);
        if (r < 0)
            return r;
    }
    node->start_line = start;
    node->end_line = ps->sc.line;
    r = add_node(ps->ast, node, ps->err);
    if (r < 0)
        return r;
    TAKE_PTR(node);
    return 0;
}

static int check_input(const char *data, size_t len, struct kiln_error **err)
{
    if (len > KILN_DOCKERFILE_MAX)
        return kiln_error_set(
                err, KILN_E_LIMIT,
                "the Dockerfile is %zu bytes, larger than a Dockerfile may be (at most %u MiB)",
                len, KILN_DOCKERFILE_MAX / (1024 * 1024));
    const char *nul = memchr(data, '\0', len);
    if (nul) {
        unsigned line = 1;
        for (const char *p = data; p < nul; p++)
            line += *p == '\n';
        return kiln_error_set_line(err, KILN_E_INVALID, line,
                                   "NUL byte in the Dockerfile; this looks like a binary file, "
                                   "not a Dockerfile");
    }
    return 0;
}

int kiln_df_parse(const char *data, size_t len, struct kiln_df_ast **ret_ast,
                  struct kiln_error **err)
{
    int r = check_input(data, len, err);
    if (r < 0)
        return r;
    _cleanup_(kiln_df_ast_freep) struct kiln_df_ast *ast = kiln_xcalloc(1, sizeof(*ast));
    ast->escape = '\\';
    struct parse ps = {
            .sc = {data, data + len, 0},
            .ast = ast,
            .logical = KILN_BUF_INIT(KILN_DOCKERFILE_MAX),
            .err = err,
    };
    for (;;) {
        const char *s;
        size_t n;
        r = next_line(&ps.sc, &s, &n, err);
        if (r <= 0)
            break;
        if (ps.sc.line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3, n -= 3;
        r = process_line(&ps, &s, &n, true);
        if (r >= 0)
            r = parse_instruction(&ps, s, n);
        if (r < 0)
            break;
    }
    kiln_buf_release(&ps.logical);
    if (r < 0)
        return r;
    if (ast->n_nodes == 0)
        return kiln_error_set_line(err, KILN_E_INVALID, ps.sc.line ? ps.sc.line : 1,
                                   "file with no instructions");
    *ret_ast = TAKE_PTR(ast);
    return 0;
}
