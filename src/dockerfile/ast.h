/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ast.h - the Dockerfile syntax tree, as BuildKit's parser builds it.
 *
 * Layer 1 of the frontend: kiln_df_parse() turns bytes into instruction nodes
 * without judging them (an unknown instruction still parses). Layer 2
 * (instructions.h) gives them types and checks flags and arguments.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/strv.h"

struct kiln_df_heredoc {
    char *name;    /* the delimiter word, quotes removed */
    char *content; /* the body: every line up to the delimiter, newlines kept */
    int fd;        /* the number written before <<, 0 when absent */
    bool expand;   /* false when any part of the delimiter was quoted */
    bool chomp;    /* <<- : leading tabs are stripped when the body is used */
};

/*
 * BuildKit's MustParseHeredoc: whether `word`, whole, opens a heredoc
 * ("<<EOF", "<<-'EOF'", "3<<EOF"); a word the lexer cannot read opens none.
 */
bool kiln_df_is_heredoc(const char *word);

struct kiln_df_node {
    char *keyword;            /* lower-cased instruction word, unknown words too */
    char *original;           /* the logical line as written, continuations joined */
    struct kiln_strv flags;   /* leading "--name=value" words, quotes processed */
    struct kiln_strv args;    /* argument nodes in BuildKit's dump order */
    size_t *arg_len;          /* byte length of each arg when one holds a NUL byte
                                 (JSON "\u0000"), else NULL: args are C strings */
    bool json;                /* exec (JSON array) form */
    struct kiln_df_node *sub; /* ONBUILD: the nested instruction, else NULL */
    struct kiln_df_heredoc *heredocs;
    size_t n_heredocs;
    unsigned start_line; /* 1-based, inclusive */
    unsigned end_line;   /* includes continuation and heredoc lines */
};

struct kiln_df_warning {
    char *message; /* "Empty continuation line found in: RUN ..." */
    char *detail;
    unsigned line;
};

struct kiln_df_directive {
    char *name; /* lower case: syntax, escape, check */
    char *value;
    unsigned line;
};

struct kiln_df_ast {
    struct kiln_df_node **nodes; /* the instructions, in order */
    size_t n_nodes;
    size_t alloc_nodes;
    char escape; /* '\\' or '`' */
    struct kiln_df_directive *directives;
    size_t n_directives;
    struct kiln_df_warning *warnings;
    size_t n_warnings;
    unsigned start_line, end_line;
};

void kiln_df_node_free(struct kiln_df_node *n);
void kiln_df_ast_free(struct kiln_df_ast *ast);
KILN_DEFINE_CLEANUP(struct kiln_df_node, kiln_df_node_free)
KILN_DEFINE_CLEANUP(struct kiln_df_ast, kiln_df_ast_free)

/* The value of directive `name` ("syntax", "escape", "check"), or NULL. */
const char *kiln_df_ast_directive(const struct kiln_df_ast *ast, const char *name);
