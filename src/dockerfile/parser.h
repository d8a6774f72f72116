/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parser.h - Dockerfile text to syntax tree, exactly as BuildKit's parser.
 */
#pragma once

#include <stddef.h>

#include "ast.h"
#include "base/buf.h"

/*
 * Parses `len` bytes of a Dockerfile. On success *ret_ast owns the tree
 * (kiln_df_ast_free). Errors: KILN_E_INVALID (with err->line set) for text
 * BuildKit rejects, KILN_E_LIMIT for input over a cap of base/limits.h.
 */
int kiln_df_parse(const char *data, size_t len, struct kiln_df_ast **ret_ast,
                  struct kiln_error **err);

/*
 * Appends BuildKit's Node.Dump() of the tree plus "\n" to out: one
 * "(keyword ...)" line per instruction, byte for byte as the golden `result`
 * files of BuildKit's parser tests.
 */
int kiln_df_dump(const struct kiln_df_ast *ast, struct kiln_buf *out);
