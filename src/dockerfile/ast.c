/* SPDX-License-Identifier: Apache-2.0 */
#include "ast.h"

#include <stdlib.h>
#include <string.h>

#include "base/banned.h"

void kiln_df_node_free(struct kiln_df_node *n)
{
    if (!n)
        return;
    kiln_strv_release(&n->flags);
    kiln_strv_release(&n->args);
    free(n->arg_len);
    kiln_df_node_free(n->sub);
    for (size_t i = 0; i < n->n_heredocs; i++) {
        free(n->heredocs[i].name);
        free(n->heredocs[i].content);
    }
    free(n->heredocs);
    free(n);
}

void kiln_df_ast_free(struct kiln_df_ast *ast)
{
    if (!ast)
        return;
    for (size_t i = 0; i < ast->n_nodes; i++)
        kiln_df_node_free(ast->nodes[i]);
    free(ast->nodes);
    for (size_t i = 0; i < ast->n_directives; i++) {
        free(ast->directives[i].name);
        free(ast->directives[i].value);
    }
    free(ast->directives);
    for (size_t i = 0; i < ast->n_warnings; i++) {
        free(ast->warnings[i].message);
        free(ast->warnings[i].detail);
    }
    free(ast->warnings);
    free(ast);
}

const char *kiln_df_ast_directive(const struct kiln_df_ast *ast, const char *name)
{
    for (size_t i = 0; i < ast->n_directives; i++)
        if (strcmp(ast->directives[i].name, name) == 0)
            return ast->directives[i].value;
    return NULL;
}
