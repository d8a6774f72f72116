/* SPDX-License-Identifier: Apache-2.0 */
/*
 * df-json.h - the typed instructions of a Dockerfile as JSON, for
 * `kiln debug parse --json`.
 */
#pragma once

#include "base/buf.h"
#include "dockerfile/ast.h"

/*
 * Runs the typed-instruction layer over `ast` and appends its JSON form to
 * out. Errors are the typed layer's (KILN_E_INVALID with err->line set).
 */
int kiln_client_df_json(const struct kiln_df_ast *ast, struct kiln_buf *out,
                        struct kiln_error **err);
