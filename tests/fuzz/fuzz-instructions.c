/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz-instructions.c - arbitrary bytes through kiln_df_parse() and then the
 * typed layer, kiln_df_instructions_parse(); every RUN --mount spec also goes
 * through kiln_df_mount_parse() as conversion would call it.
 */
#include <stdint.h>
#include <stdlib.h>

#include "dockerfile/instructions.h"
#include "dockerfile/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void mounts(const struct kiln_df_instructions *file)
{
    for (size_t s = 0; s < file->n_stages; s++) {
        const struct kiln_df_stage *st = &file->stages[s];
        for (size_t i = 0; i < st->n_instructions; i++) {
            const struct kiln_df_instruction *ins = &st->instructions[i];
            for (size_t m = 0; ins->kind == KILN_DF_RUN && m < ins->run.n_mounts; m++) {
                struct kiln_df_mount *mount = NULL;
                struct kiln_error *err = NULL;
                (void)kiln_df_mount_parse(ins->run.mounts[m].spec, NULL, NULL, &mount, &err);
                kiln_df_mount_free(mount);
                kiln_error_free(err);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    struct kiln_df_ast *ast = NULL;
    struct kiln_df_instructions *file = NULL;
    struct kiln_error *err = NULL;
    if (kiln_df_parse((const char *)data, size, &ast, &err) >= 0 &&
        kiln_df_instructions_parse(ast, &file, &err) >= 0)
        mounts(file);
    kiln_df_instructions_free(file);
    kiln_df_ast_free(ast);
    kiln_error_free(err);
    return 0;
}
