/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-parser.c - arbitrary bytes through kiln_df_parse() and kiln_df_dump(). */
#include <stdint.h>
#include <stdlib.h>

#include "dockerfile/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    struct kiln_df_ast *ast = NULL;
    struct kiln_error *err = NULL;
    if (kiln_df_parse((const char *)data, size, &ast, &err) >= 0) {
        struct kiln_buf out = KILN_BUF_INIT((size_t)1 << 30);
        (void)kiln_df_dump(ast, &out);
        kiln_buf_release(&out);
    }
    kiln_df_ast_free(ast);
    kiln_error_free(err);
    return 0;
}
