/* SPDX-License-Identifier: Apache-2.0 */
/*
 * heredoc.c - finding heredoc openers (`<<EOF`, `<<-EOF`, `3<<'EOF'`) on a
 * RUN/COPY/ADD line, as BuildKit's heredocsFromLine and ParseHeredoc do: the
 * line is split into words by the shell lexer (quotes and escapes kept), and
 * each word matching `^(\d*)<<(-?)\s*([^<]*)$` opens a heredoc named by the
 * lexed remainder. Bodies are read by parser.c.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "parser-internal.h"
#include "shell.h"

#include "base/banned.h"

bool kiln_df__can_contain_heredoc(const struct kiln_df_node *node)
{
    if (strcmp(node->keyword, "onbuild") == 0 && node->sub)
        node = node->sub;
    if (strcmp(node->keyword, "run") != 0 && strcmp(node->keyword, "copy") != 0 &&
        strcmp(node->keyword, "add") != 0)
        return false;
    return !node->json;
}

static size_t count_quotes(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\'' || *s == '"';
    return n;
}

int kiln_df__parse_heredoc(const char *word, struct kiln_df_heredoc *ret, struct kiln_error **err)
{
    const char *p = word;
    unsigned long fd = 0;
    while (*p >= '0' && *p <= '9') {
        if (fd < 100000000)
            fd = fd * 10 + (unsigned long)(*p - '0');
        p++;
    }
    if (p[0] != '<' || p[1] != '<')
        return 0;
    p += 2;
    bool chomp = *p == '-';
    if (chomp)
        p++;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\f' || *p == '\r')
        p++;
    if (*p == '\0' || strchr(p, '<'))
        return 0;

    struct kiln_shell_options opt = {.escape = '\\', .skip_unset_env = true};
    _cleanup_strv_ struct kiln_strv words = KILN_STRV_INIT;
    _cleanup_strv_ struct kiln_strv raw = KILN_STRV_INIT;
    int r = kiln_shell_process_words(p, NULL, &opt, &words, err);
    if (r < 0)
        return r;
    if (words.n != 1)
        return 0;
    opt.raw_quotes = true;
    r = kiln_shell_process_words(p, NULL, &opt, &raw, err);
    if (r < 0)
        return r;
    if (raw.n != 1)
        return kiln_error_set(err, KILN_E_INVALID,
                              "heredoc word '%s' lexes differently with and without quotes", p);
    *ret = (struct kiln_df_heredoc){
            .name = kiln_xstrdup(words.v[0]),
            .content = kiln_xstrdup(""),
            .fd = (int)fd,
            .expand = count_quotes(words.v[0]) == count_quotes(raw.v[0]),
            .chomp = chomp,
    };
    return 1;
}

bool kiln_df_is_heredoc(const char *word)
{
    struct kiln_df_heredoc h;
    if (kiln_df__parse_heredoc(word, &h, NULL) <= 0)
        return false;
    free(h.name);
    free(h.content);
    return true;
}

int kiln_df__heredocs_from_line(const char *line, size_t n, struct kiln_df_heredoc **ret,
                                size_t *ret_n, struct kiln_error **err)
{
    struct kiln_shell_options opt = {
            .escape = '\\', .raw_quotes = true, .raw_escapes = true, .skip_unset_env = true};
    _cleanup_strv_ struct kiln_strv words = KILN_STRV_INIT;
    _cleanup_free_ char *text = kiln_xstrndup(line, n);
    /* BuildKit ignores a lexing error here: the line then opens no heredoc. */
    if (kiln_shell_process_words(text, NULL, &opt, &words, NULL) < 0)
        return 0;
    struct kiln_df_heredoc *docs = NULL;
    size_t count = 0, alloc = 0;
    for (size_t i = 0; i < words.n; i++) {
        struct kiln_df_heredoc h;
        int r = kiln_df__parse_heredoc(words.v[i], &h, err);
        if (r < 0) {
            for (size_t j = 0; j < count; j++) {
                free(docs[j].name);
                free(docs[j].content);
            }
            free(docs);
            return r;
        }
        if (r > 0) {
            KILN_GROW(docs, alloc, count + 1);
            docs[count++] = h;
        }
    }
    *ret = docs;
    *ret_n = count;
    return 0;
}
