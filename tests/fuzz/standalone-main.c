/* SPDX-License-Identifier: Apache-2.0 */
/*
 * standalone-main.c - replays fuzz inputs without libFuzzer.
 *
 * Each argument is a file or a directory of files; every file is fed once to
 * LLVMFuzzerTestOneInput. Output is TAP, one test point per input, so a
 * crash names the input that caused it. Sanitizers turn a bug into a failure.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned n_inputs;

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        printf("not ok %u - cannot open %s\n", ++n_inputs, path);
        return 1;
    }
    size_t alloc = 1 << 16, len = 0, n;
    uint8_t *buf = malloc(alloc);
    while (buf && (n = fread(buf + len, 1, alloc - len, f)) > 0) {
        len += n;
        if (len == alloc) {
            alloc *= 2;
            uint8_t *nb = realloc(buf, alloc);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) {
        printf("not ok %u - out of memory reading %s\n", ++n_inputs, path);
        return 1;
    }
    /* Copy to an exact-size allocation so ASan sees reads past the end. */
    uint8_t *exact = malloc(len ? len : 1);
    memcpy(exact, buf, len);
    free(buf);
    fflush(stdout);
    (void)LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    printf("ok %u - %s\n", ++n_inputs, path);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        printf("not ok %u - cannot stat %s\n", ++n_inputs, path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path);
    struct dirent **names;
    int n = scandir(path, &names, NULL, NULL);
    if (n < 0) {
        printf("not ok %u - cannot read %s\n", ++n_inputs, path);
        return 1;
    }
    qsort(names, (size_t)n, sizeof(*names), cmp);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            char *child;
            if (asprintf(&child, "%s/%s", path, names[i]->d_name) >= 0) {
                failed |= replay(child);
                free(child);
            }
        }
        free(names[i]);
    }
    free(names);
    return failed;
}

int main(int argc, char **argv)
{
    int failed = 0;
    for (int i = 1; i < argc; i++)
        failed |= replay(argv[i]);
    printf("1..%u\n", n_inputs);
    return failed;
}
