/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz-dockerignore.c - input up to the first NUL byte is a .dockerignore
 * file; each line after it is a path matched through every entry point.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile/dockerignore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void match_all(const struct kiln_ignore *m, const char *path)
{
    bool hit;
    bool *a = calloc(m->n + 1, sizeof(bool)), *b = calloc(m->n + 1, sizeof(bool));
    (void)kiln_ignore_matches(m, path, &hit, NULL);
    (void)kiln_ignore_matches_legacy(m, path, &hit, NULL);
    if (kiln_ignore_matches_walk(m, path, NULL, a, &hit, NULL) >= 0)
        (void)kiln_ignore_matches_walk(m, path, a, b, &hit, NULL);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    size_t file_len = strlen(text);
    struct kiln_strv pats = KILN_STRV_INIT;
    struct kiln_ignore *m = NULL;
    if (kiln_dockerignore_read(text, file_len, &pats, NULL) >= 0 &&
        kiln_ignore_new(pats.v, pats.n, &m, NULL) >= 0) {
        char *rest = file_len < size ? text + file_len + 1 : text + size;
        for (char *save = NULL, *p = strtok_r(rest, "\n", &save); p;
             p = strtok_r(NULL, "\n", &save))
            match_all(m, p);
    }
    kiln_ignore_free(m);
    kiln_strv_release(&pats);
    free(text);
    return 0;
}
