/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-dockerfile-parser.c - BuildKit's parser conformance data, run as it
 * lies in ../shared/conformance/dockerfile-parser: the golden AST dumps, the
 * negative cases, line numbers and every record of extra/.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "dockerfile/directives.h"
#include "dockerfile/parser-internal.h"
#include "dockerfile/parser.h"
#include "tap.h"
#include "tsv.h"

static char *path_of(const char *rel)
{
    _cleanup_free_ char *r = kiln_xasprintf("dockerfile-parser/%s", rel);
    return conformance_path(r);
}

static int parse_file(const char *rel, struct kiln_df_ast **ast, struct kiln_error **err)
{
    _cleanup_free_ char *p = path_of(rel);
    size_t len;
    _cleanup_free_ char *text = tsv_slurp(p, &len);
    return kiln_df_parse(text, len, ast, err);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Calls fn for each case directory below dir, in name order. */
static unsigned for_each_case(const char *dir, void (*fn)(const char *name))
{
    _cleanup_free_ char *p = path_of(dir);
    struct dirent **names;
    int n = scandir(p, &names, NULL, by_name);
    if (n < 0) {
        tap_ok(false, "%s: cannot read the directory %s", dir, p);
        return 0;
    }
    unsigned count = 0;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            fn(names[i]->d_name);
            count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

static void golden_case(const char *name)
{
    _cleanup_free_ char *df = kiln_xasprintf("testfiles/%s/Dockerfile", name);
    _cleanup_free_ char *res = kiln_xasprintf("testfiles/%s/result", name);
    _cleanup_free_ char *res_path = path_of(res);
    _cleanup_free_ char *want = tsv_slurp(res_path, NULL);
    _cleanup_(kiln_df_ast_freep) struct kiln_df_ast *ast = NULL;
    _cleanup_(kiln_error_freep) struct kiln_error *e = NULL;
    int r = parse_file(df, &ast, &e);
    if (!tap_ok(r >= 0, "golden %s: parses", name)) {
        tap_diag("error: line %u: %s", e ? e->line : 0, kiln_error_message(e, r));
        return;
    }
    _cleanup_buf_ struct kiln_buf got = KILN_BUF_INIT((size_t)1 << 30);
    (void)kiln_df_dump(ast, &got);
    if (!tap_ok(strcmp(got.buf, want) == 0, "golden %s: dump equals result", name))
        tap_diag("expected:\n%s# got:\n%s", want, got.buf);
}

static void negative_case(const char *name)
{
    _cleanup_free_ char *df = kiln_xasprintf("testfiles-negative/%s/Dockerfile", name);
    _cleanup_(kiln_df_ast_freep) struct kiln_df_ast *ast = NULL;
    _cleanup_(kiln_error_freep) struct kiln_error *e = NULL;
    int r = parse_file(df, &ast, &e);
    tap_ok(r < 0, "negative %s: fails (%s)", name, r < 0 ? kiln_error_message(e, r) : "parsed");
}

static void line_numbers(void)
{
    _cleanup_(kiln_df_ast_freep) struct kiln_df_ast *ast = NULL;
    _cleanup_(kiln_error_freep) struct kiln_error *e = NULL;
    int r = parse_file("testfile-line/Dockerfile", &ast, &e);
    struct tsv_file f;
    _cleanup_free_ char *p = path_of("extra/line-numbers.tsv");
    tsv_load(&f, p);
    for (size_t i = 0; i < f.n; i++) {
        struct tsv_record *rec = &f.r[i];
        unsigned a = (unsigned)strtoul(rec->f[1].text, NULL, 10);
        unsigned b = (unsigned)strtoul(rec->f[2].text, NULL, 10);
        if (r < 0) {
            tap_ok(false, "line-numbers:%u: the file does not parse", rec->line);
        } else if (tsv_is(rec, 0, "root")) {
            size_t kids = strtoul(rec->f[3].text, NULL, 10);
            tap_ok(ast->start_line == a && ast->end_line == b && ast->n_nodes == kids,
                   "line-numbers:%u: root %u-%u with %zu children (got %u-%u, %zu)", rec->line, a,
                   b, kids, ast->start_line, ast->end_line, ast->n_nodes);
        } else {
            unsigned c = (unsigned)strtoul(rec->f[3].text, NULL, 10);
            struct kiln_df_node *n = a < ast->n_nodes ? ast->nodes[a] : NULL;
            tap_ok(n && n->start_line == b && n->end_line == c,
                   "line-numbers:%u: child %u spans %u-%u (got %u-%u)", rec->line, a, b, c,
                   n ? n->start_line : 0, n ? n->end_line : 0);
        }
    }
    tsv_release(&f);
}

/* heredoc-extract and heredoc-json: expected.tsv against the Dockerfile. */
static void heredoc_dir(const char *dir)
{
    _cleanup_free_ char *df = kiln_xasprintf("extra/%s/Dockerfile", dir);
    _cleanup_free_ char *exp = kiln_xasprintf("extra/%s/expected.tsv", dir);
    _cleanup_(kiln_df_ast_freep) struct kiln_df_ast *ast = NULL;
    _cleanup_(kiln_error_freep) struct kiln_error *e = NULL;
    int r = parse_file(df, &ast, &e);
    struct tsv_file f;
    _cleanup_free_ char *p = path_of(exp);
    tsv_load(&f, p);
    size_t next_doc[256] = {0};
    for (size_t i = 0; i < f.n; i++) {
        struct tsv_record *rec = &f.r[i];
        size_t child = strtoul(rec->f[1].text, NULL, 10);
        struct kiln_df_node *n = r >= 0 && child < ast->n_nodes ? ast->nodes[child] : NULL;
        if (!n) {
            tap_ok(false, "%s:%u: child %zu missing (%s)", dir, rec->line, child,
                   r < 0 ? kiln_error_message(e, r) : "index out of range");
        } else if (tsv_is(rec, 0, "noheredoc")) {
            tap_ok(n->n_heredocs == 0, "%s:%u: child %zu has no heredoc (got %zu)", dir, rec->line,
                   child, n->n_heredocs);
        } else {
            size_t k = child < 256 ? next_doc[child]++ : 0;
            struct kiln_df_heredoc *h = k < n->n_heredocs ? &n->heredocs[k] : NULL;
            bool ok = h && strcmp(h->name, rec->f[2].text) == 0 &&
                      h->fd == (int)strtol(rec->f[3].text, NULL, 10) &&
                      h->expand == tsv_is(rec, 4, "true") && h->chomp == tsv_is(rec, 5, "true") &&
                      strcmp(h->content, rec->f[6].text) == 0;
            if (!tap_ok(ok, "%s:%u: child %zu heredoc %zu is %s", dir, rec->line, child, k,
                        rec->f[2].text) &&
                h)
                tap_diag("got name=%s fd=%d expand=%d chomp=%d content=[%s]", h->name, h->fd,
                         h->expand, h->chomp, h->content);
        }
    }
    tsv_release(&f);
}

static void heredoc_words(void)
{
    struct tsv_file f;
    _cleanup_free_ char *p = path_of("extra/heredoc-words.tsv");
    tsv_load(&f, p);
    for (size_t i = 0; i < f.n; i++) {
        struct tsv_record *rec = &f.r[i];
        _cleanup_(kiln_error_freep) struct kiln_error *e = NULL;
        if (tsv_is(rec, 0, "parseheredoc")) {
            struct kiln_df_heredoc h = {0};
            int r = kiln_df__parse_heredoc(rec->f[2].text, &h, &e);
            bool ok = tsv_is(rec, 1, "error")  ? r < 0
                      : tsv_is(rec, 1, "none") ? r == 0
                                               : r == 1 && strcmp(h.name, rec->f[3].text) == 0;
            tap_ok(ok, "heredoc-words:%u: parseheredoc %s '%s' (got %d %s)", rec->line,
                   rec->f[1].text, rec->f[2].text, r, r == 1 ? h.name : "");
            free(h.name);
            free(h.content);
            continue;
        }
        struct kiln_df_heredoc *docs = NULL;
        size_t n = 0;
        const char *line = rec->f[1].text;
        int r = kiln_df__heredocs_from_line(line, strlen(line), &docs, &n, &e);
        bool ok = r >= 0 && n == rec->n - 2;
        for (size_t k = 0; ok && k < n; k++)
            ok = strcmp(docs[k].name, rec->f[2 + k].text) == 0;
        tap_ok(ok, "heredoc-words:%u: fromline '%s' opens %zu heredoc(s) (got %zu)", rec->line,
               line, rec->n - 2, n);
        for (size_t k = 0; k < n; k++) {
            free(docs[k].name);
            free(docs[k].content);
        }
        free(docs);
    }
    tsv_release(&f);
}

static void json_arrays(void)
{
    struct tsv_file f;
    _cleanup_free_ char *p = path_of("extra/json-arrays.tsv");
    tsv_load(&f, p);
    for (size_t i = 0; i < f.n; i++) {
        struct tsv_record *rec = &f.r[i];
        _cleanup_free_ char *df = kiln_xasprintf("CMD %s\n", rec->f[1].text);
        _cleanup_(kiln_df_ast_freep) struct kiln_df_ast *ast = NULL;
        _cleanup_(kiln_error_freep) struct kiln_error *e = NULL;
        int r = kiln_df_parse(df, strlen(df), &ast, &e);
        if (tsv_is(rec, 0, "notstrings")) {
            tap_ok(r < 0, "json-arrays:%u: '%s' is an error", rec->line, rec->f[1].text);
            continue;
        }
        bool ok = r >= 0 && ast->nodes[0]->json && ast->nodes[0]->args.n == rec->n - 2;
        const struct kiln_df_node *node = ok ? ast->nodes[0] : NULL;
        for (size_t k = 0; ok && k < rec->n - 2; k++) {
            size_t len = node->arg_len ? node->arg_len[k] : strlen(node->args.v[k]);
            ok = len == rec->f[2 + k].len && memcmp(node->args.v[k], rec->f[2 + k].text, len) == 0;
        }
        tap_ok(ok, "json-arrays:%u: '%s' is an exec-form array of %zu", rec->line, rec->f[1].text,
               rec->n - 2);
    }
    tsv_release(&f);
}

static void parse_words(void)
{
    struct tsv_file f;
    _cleanup_free_ char *p = path_of("extra/parse-words.tsv");
    tsv_load(&f, p);
    for (size_t i = 0; i < f.n; i++) {
        struct tsv_record *rec = &f.r[i];
        _cleanup_strv_ struct kiln_strv w = KILN_STRV_INIT;
        kiln_df__parse_words(rec->f[1].text, rec->f[1].len, '\\', &w);
        bool ok = w.n == rec->n - 2;
        for (size_t k = 0; ok && k < w.n; k++)
            ok = strcmp(w.v[k], rec->f[2 + k].text) == 0;
        tap_ok(ok, "parse-words:%u: '%s' splits into %zu word(s) (got %zu)", rec->line,
               rec->f[1].text, rec->n - 2, w.n);
    }
    tsv_release(&f);
}

static bool field_matches(const struct tsv_record *rec, size_t i, const char *got)
{
    if (tsv_is(rec, i, "-"))
        return true;
    return got && strcmp(rec->f[i].text, got) == 0;
}

static void directive_detect(const struct tsv_record *rec)
{
    bool syntax = strcmp(rec->f[1].text, "DetectSyntax") == 0;
    _cleanup_free_ char *value = NULL;
    unsigned line = 0;
    bool found = kiln_df_find_directive(rec->f[2].text, rec->f[2].len, syntax ? "syntax" : "check",
                                        syntax, &value, &line);
    _cleanup_free_ char *ref = value ? kiln_xstrndup(value, strcspn(value, " ")) : NULL;
    char linebuf[16];
    (void)snprintf(linebuf, sizeof(linebuf), "%u", line);
    bool ok = found == tsv_is(rec, 3, "true") && field_matches(rec, 4, found ? ref : "") &&
              field_matches(rec, 5, found ? value : "") &&
              (tsv_is(rec, 6, "-") || strcmp(rec->f[6].text, linebuf) == 0);
    tap_ok(ok, "directives:%u: %s finds %s (got %s '%s' line %u)", rec->line, rec->f[1].text,
           rec->f[3].text, found ? "true" : "false", value ? value : "", line);
}

static void directive_parseall(const struct tsv_record *rec)
{
    struct kiln_df_directive_parser d = {0};
    _cleanup_strv_ struct kiln_strv got = KILN_STRV_INIT;
    const char *s = rec->f[1].text;
    size_t n = rec->f[1].len;
    for (size_t i = 0; i < n && !d.done;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        struct kiln_df_directive dir = {0};
        if (kiln_df__directive_line(&d, "#", s + i, e - i, &dir, NULL) > 0) {
            kiln_strv_take(&got, dir.name);
            kiln_strv_take(&got, dir.value);
        }
        i = e + 1;
    }
    bool ok = got.n == rec->n - 2;
    for (size_t k = 0; ok && k < got.n; k++)
        ok = strcmp(got.v[k], rec->f[2 + k].text) == 0;
    tap_ok(ok, "directives:%u: parseall finds %zu pair(s) (got %zu)", rec->line, (rec->n - 2) / 2,
           got.n / 2);
}

static void directives(void)
{
    struct tsv_file f;
    _cleanup_free_ char *p = path_of("extra/directives.tsv");
    tsv_load(&f, p);
    for (size_t i = 0; i < f.n; i++) {
        if (tsv_is(&f.r[i], 0, "detect"))
            directive_detect(&f.r[i]);
        else
            directive_parseall(&f.r[i]);
    }
    tsv_release(&f);
}

static void empty_continuation(void)
{
    _cleanup_(kiln_df_ast_freep) struct kiln_df_ast *ast = NULL;
    _cleanup_(kiln_error_freep) struct kiln_error *e = NULL;
    int r = parse_file("extra/empty-continuation/Dockerfile", &ast, &e);
    struct tsv_file f;
    _cleanup_free_ char *p = path_of("extra/empty-continuation/expected.tsv");
    tsv_load(&f, p);
    for (size_t i = 0; i < f.n; i++) {
        struct tsv_record *rec = &f.r[i];
        if (r < 0) {
            tap_ok(false, "empty-continuation:%u: parse failed: %s", rec->line,
                   kiln_error_message(e, r));
            continue;
        }
        size_t k = strtoul(rec->f[1].text, NULL, 10);
        if (tsv_is(rec, 0, "warnings")) {
            tap_ok(ast->n_warnings == k, "empty-continuation:%u: %zu warnings (got %zu)", rec->line,
                   k, ast->n_warnings);
            continue;
        }
        const char *text = k >= ast->n_warnings               ? NULL
                           : tsv_is(rec, 0, "short-contains") ? ast->warnings[k].message
                                                              : ast->warnings[k].detail;
        tap_ok(text && strstr(text, rec->f[2].text), "empty-continuation:%u: warning %zu has '%s'",
               rec->line, k, rec->f[2].text);
    }
    tsv_release(&f);
}

static void line_too_long(void)
{
    _cleanup_(kiln_df_ast_freep) struct kiln_df_ast *ast = NULL;
    _cleanup_(kiln_error_freep) struct kiln_error *e = NULL;
    int r = parse_file("extra/line-too-long/Dockerfile", &ast, &e);
    _cleanup_free_ char *p = path_of("extra/line-too-long/expected-error");
    _cleanup_free_ char *want = tsv_slurp(p, NULL);
    want[strcspn(want, "\n")] = '\0';
    tap_ok(r < 0 && e && strcmp(e->message, want) == 0, "line-too-long: fails with '%s' (got '%s')",
           want, r < 0 ? kiln_error_message(e, r) : "success");
}

int main(void)
{
    unsigned golden = for_each_case("testfiles", golden_case);
    unsigned negative = for_each_case("testfiles-negative", negative_case);
    tap_diag("testfiles: %u cases, testfiles-negative: %u cases", golden, negative);
    line_numbers();
    heredoc_dir("heredoc-extract");
    heredoc_dir("heredoc-json");
    heredoc_words();
    json_arrays();
    parse_words();
    directives();
    empty_continuation();
    line_too_long();
    return tap_done("dockerfile-parser");
}
