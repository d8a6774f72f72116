/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dump.c - BuildKit's Node.Dump(): `(keyword ["--flag" ...] "arg" ...)`, one
 * line per instruction, arguments quoted as Go's strconv.Quote, ONBUILD's
 * instruction nested in parentheses. Heredoc bodies are not part of it.
 */
#include <string.h>

#include "goquote.h"
#include "parser.h"

#include "base/banned.h"

static int dump_node(const struct kiln_df_node *node, struct kiln_buf *out)
{
    /* An empty keyword only happens for a blank logical line; Go trims the
     * space that would lead the dump then. */
    bool sep = node->keyword[0] != '\0';
    int r = kiln_buf_adds(out, node->keyword);
    if (r >= 0 && node->flags.n > 0) {
        r = kiln_buf_adds(out, sep ? " [" : "[");
        for (size_t i = 0; r >= 0 && i < node->flags.n; i++) {
            if (i > 0)
                r = kiln_buf_addch(out, ' ');
            if (r >= 0)
                r = kiln_goquote(out, node->flags.v[i], strlen(node->flags.v[i]));
        }
        if (r >= 0)
            r = kiln_buf_addch(out, ']');
        sep = true;
    }
    if (r >= 0 && node->sub) {
        r = kiln_buf_adds(out, sep ? " (" : "(");
        if (r >= 0)
            r = dump_node(node->sub, out);
        if (r >= 0)
            r = kiln_buf_addch(out, ')');
        sep = true;
    }
    for (size_t i = 0; r >= 0 && i < node->args.n; i++) {
        if (sep)
            r = kiln_buf_addch(out, ' ');
        if (r >= 0)
            r = kiln_goquote(out, node->args.v[i],
                             node->arg_len ? node->arg_len[i] : strlen(node->args.v[i]));
        sep = true;
    }
    return r;
}

int kiln_df_dump(const struct kiln_df_ast *ast, struct kiln_buf *out)
{
    int r = 0;
    for (size_t i = 0; r >= 0 && i < ast->n_nodes; i++) {
        r = kiln_buf_addch(out, '(');
        if (r >= 0)
            r = dump_node(ast->nodes[i], out);
        if (r >= 0)
            r = kiln_buf_adds(out, ")\n");
    }
    return r;
}
