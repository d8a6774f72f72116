/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz-shell.c - arbitrary words through the lexer: both entry points, both
 * escape tokens, quotes processed and raw, against a small environment.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile/shell.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    char *word = malloc(size + 1);
    memcpy(word, data, size);
    word[size] = '\0';
    struct kiln_shell_env env = KILN_SHELL_ENV_INIT;
    char *entries[] = {"A=a", "SP=x  y", "EMPTY=", "P=/usr/local/bin:/usr/bin"};
    kiln_shell_env_add_entries(&env, entries, 4);
    for (int mode = 0; mode < 4; mode++) {
        struct kiln_shell_options opt = {
                .escape = mode & 1 ? '`' : '\\',
                .raw_quotes = mode & 2,
                .raw_escapes = mode & 2,
                .skip_unset_env = mode == 3,
        };
        struct kiln_shell_matches m = {KILN_STRV_INIT, KILN_STRV_INIT};
        struct kiln_error *err = NULL;
        char *out = NULL;
        if (kiln_shell_process_word(word, &env, &opt, &out, &m, &err) >= 0)
            free(out);
        kiln_error_free(err);
        err = NULL;
        kiln_strv_release(&m.matched);
        kiln_strv_release(&m.unmatched);
        struct kiln_strv words = KILN_STRV_INIT;
        (void)kiln_shell_process_words(word, &env, &opt, &words, &err);
        kiln_strv_release(&words);
        kiln_error_free(err);
    }
    kiln_shell_env_release(&env);
    free(word);
    return 0;
}
