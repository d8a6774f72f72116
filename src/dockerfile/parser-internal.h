/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parser-internal.h - pieces of the parser shared between its files.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ast.h"
#include "base/buf.h"

/* Go's unicode.IsSpace applied to a single byte taken as a rune (Latin-1). */
static inline bool kiln_df__byte_isspace(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xA0;
}

/* The ASCII class [\t\v\f\r ] of BuildKit's whitespace regexp. */
static inline bool kiln_df__ascii_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/* Length of the leading run of Unicode white space (Go unicode.IsSpace). */
size_t kiln_df__span_space(const char *s, size_t n);
/* Length of s once trailing Unicode white space is removed. */
size_t kiln_df__trim_right_space(const char *s, size_t n);

/*
 * Splits one logical line into an instruction node (BuildKit newNodeFromLine):
 * the keyword, leading --flags and the arguments by the instruction's rule.
 * `depth` counts ONBUILD nesting. Errors: KILN_E_INVALID, KILN_E_LIMIT.
 */
int kiln_df__node_from_line(const char *line, size_t n, char escape, unsigned depth,
                            struct kiln_df_node **ret_node, struct kiln_error **err);

/* BuildKit's parseWords: quote- and escape-aware split that keeps quotes. */
void kiln_df__parse_words(const char *s, size_t n, char escape, struct kiln_strv *ret);

/* Parser directives (# syntax=, # escape=, # check=) at the top of a file. */
struct kiln_df_directive_parser {
    bool done;
    bool seen_syntax, seen_escape, seen_check;
};

/*
 * Looks at one line (newline trimmed) whose comments start with `prefix`
 * ("#", or "//" for other formats). Returns 1 and fills *ret (name
 * lower-cased) when it is a directive, 0 when not (and directive parsing
 * ends), KILN_E_INVALID for a repeated directive.
 */
int kiln_df__directive_line(struct kiln_df_directive_parser *d, const char *prefix,
                            const char *line, size_t n, struct kiln_df_directive *ret,
                            struct kiln_error **err);

/* Whether the instruction may carry heredocs (RUN, COPY, ADD, also in ONBUILD). */
bool kiln_df__can_contain_heredoc(const struct kiln_df_node *node);

/*
 * ParseHeredoc on one word: 1 with *ret filled (content "") for an opener,
 * 0 when the word opens no heredoc, KILN_E_INVALID for broken quoting.
 */
int kiln_df__parse_heredoc(const char *word, struct kiln_df_heredoc *ret, struct kiln_error **err);

/*
 * The heredoc openers of a logical line (BuildKit heredocsFromLine), in
 * order, with empty content. Errors: KILN_E_INVALID (broken quoting).
 */
int kiln_df__heredocs_from_line(const char *line, size_t n, struct kiln_df_heredoc **ret,
                                size_t *ret_n, struct kiln_error **err);
