/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-shell-lexer.c - BuildKit's shell-lexer data, run as it lies in
 * ../shared/conformance/shell-lexer: envVarTest (ProcessWord), wordsTest
 * (ProcessWords) and process-cases.tsv (matches, errors, getenv).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "dockerfile/shell.h"
#include "tap.h"
#include "tsv.h"

static const struct kiln_shell_options defaults = {.escape = '\\'};

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Splits s in place at every `sep`; returns the number of fields (<= max). */
static size_t split(char *s, char sep, char **fields, size_t max)
{
    size_t n = 0;
    fields[n++] = s;
    for (char *p = s; *p; p++) {
        if (*p == sep) {
            *p = '\0';
            if (n == max)
                return max + 1;
            fields[n++] = p + 1;
        }
    }
    return n;
}

static void env_var_test(void)
{
    _cleanup_free_ char *path = conformance_path("shell-lexer/envVarTest");
    _cleanup_free_ char *text = tsv_slurp(path, NULL);
    struct kiln_shell_env env = KILN_SHELL_ENV_INIT;
    char *entries[] = {"PWD=/home", "SHELL=bash", "KOREAN=\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4",
                       "NULL="};
    kiln_shell_env_add_entries(&env, entries, 4);
    unsigned line = 0, count = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        if (l[0] == '#' || *trim(l) == '\0')
            continue;
        char *f[3];
        if (split(l, '|', f, 3) != 3) {
            tap_ok(false, "envVarTest:%u: malformed line", line);
            continue;
        }
        count++;
        char *platform = trim(f[0]), *in = trim(f[1]), *want = trim(f[2]);
        if (strcmp(platform, "W") == 0) {
            tap_skip("envVarTest:%u: '%s' is a Windows-only case", line, in);
            continue;
        }
        char *got = NULL;
        struct kiln_error *e = NULL;
        int r = kiln_shell_process_word(in, &env, &defaults, &got, NULL, &e);
        if (strcmp(want, "error") == 0)
            tap_ok(r < 0, "envVarTest:%u: '%s' is an error (got '%s')", line, in,
                   r < 0 ? "error" : got);
        else
            tap_ok(r >= 0 && strcmp(got, want) == 0, "envVarTest:%u: '%s' gives '%s' (got '%s')",
                   line, in, want, r >= 0 ? got : kiln_error_message(e, r));
        free(got);
        kiln_error_free(e);
    }
    tap_diag("envVarTest: %u cases", count);
    kiln_shell_env_release(&env);
}

/* Note: lines are counted before blank ones are dropped by strtok_r; the
 * file has none, which upstream requires. */
static void words_test(void)
{
    _cleanup_free_ char *path = conformance_path("shell-lexer/wordsTest");
    _cleanup_free_ char *text = tsv_slurp(path, NULL);
    struct kiln_shell_env env = KILN_SHELL_ENV_INIT;
    unsigned line = 0, count = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        if (l[0] == '#')
            continue;
        if (strncmp(l, "ENV ", 4) == 0) {
            char *entry = l + 3;
            while (*entry == ' ')
                entry++;
            kiln_shell_env_add_entries(&env, &entry, 1);
            continue;
        }
        char *f[2];
        if (split(l, '|', f, 2) != 2) {
            tap_ok(false, "wordsTest:%u: malformed line", line);
            continue;
        }
        count++;
        char *in = trim(f[0]), *rest = f[1];
        while (*rest == ' ')
            rest++;
        char *want[64];
        size_t nwant = split(rest, ',', want, 64);
        struct kiln_strv got = KILN_STRV_INIT;
        if (kiln_shell_process_words(in, &env, &defaults, &got, NULL) < 0) {
            kiln_strv_release(&got);
            kiln_strv_push(&got, "error");
        }
        bool ok = got.n == nwant;
        for (size_t i = 0; ok && i < nwant; i++)
            ok = strcmp(got.v[i], want[i]) == 0;
        tap_ok(ok, "wordsTest:%u: '%s' gives %zu word(s) (got %zu: '%s'...)", line, in, nwant,
               got.n, got.n ? got.v[0] : "");
        kiln_strv_release(&got);
    }
    tap_diag("wordsTest: %u cases", count);
    kiln_shell_env_release(&env);
}

static void env_from(const struct tsv_record *rec, size_t sec, struct kiln_shell_env *env)
{
    size_t n = tsv_section_len(rec, sec);
    for (size_t i = 0; i < n; i++) {
        char *entry = rec->f[sec + 1 + i].text;
        kiln_shell_env_add_entries(env, &entry, 1);
    }
}

/* The names of a section, compared as a set with got. */
static bool same_set(const struct tsv_record *rec, const char *key, const struct kiln_strv *got)
{
    size_t sec = tsv_section(rec, 0, key);
    if (sec == (size_t)-1)
        return true;
    size_t n = tsv_section_len(rec, sec);
    if (n != got->n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (kiln_strv_find(got, rec->f[sec + 1 + i].text) < 0)
            return false;
    return true;
}

static void word_case(const struct tsv_record *rec)
{
    struct kiln_shell_env env = KILN_SHELL_ENV_INIT;
    env_from(rec, tsv_section(rec, 0, "env"), &env);
    const char *in = rec->f[tsv_section(rec, 0, "in") + 1].text;
    size_t res = tsv_section(rec, 0, "result");
    struct kiln_shell_matches m = {KILN_STRV_INIT, KILN_STRV_INIT};
    char *got = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_shell_process_word(in, &env, &defaults, &got, &m, &e);
    if (tsv_is(rec, res + 1, "error")) {
        size_t ec = tsv_section(rec, 0, "errcontains");
        const char *needle = ec == (size_t)-1 ? "" : rec->f[ec + 1].text;
        tap_ok(r < 0 && strstr(kiln_error_message(e, r), needle),
               "process-cases:%u: '%s' is an error containing '%s' (got '%s')", rec->line, in,
               needle, r < 0 ? kiln_error_message(e, r) : got);
    } else {
        const char *want = rec->f[res + 1].text;
        tap_ok(r >= 0 && strcmp(got, want) == 0 && same_set(rec, "matched", &m.matched) &&
                       same_set(rec, "unmatched", &m.unmatched),
               "process-cases:%u: '%s' gives '%s' with its matched/unmatched names (got '%s', "
               "%zu/%zu)",
               rec->line, in, want, r >= 0 ? got : kiln_error_message(e, r), m.matched.n,
               m.unmatched.n);
    }
    free(got);
    kiln_error_free(e);
    kiln_strv_release(&m.matched);
    kiln_strv_release(&m.unmatched);
    kiln_shell_env_release(&env);
}

static void getenv_case(const struct tsv_record *rec)
{
    struct kiln_shell_env env = KILN_SHELL_ENV_INIT;
    env_from(rec, tsv_section(rec, 0, "env"), &env);
    const char *name = rec->f[tsv_section(rec, 0, "name") + 1].text;
    const char *want = rec->f[tsv_section(rec, 0, "value") + 1].text;
    const char *got = kiln_shell_env_get(&env, name);
    tap_ok(strcmp(got ? got : "", want) == 0, "process-cases:%u: getenv '%s' is '%s' (got '%s')",
           rec->line, name, want, got ? got : "");
    kiln_shell_env_release(&env);
}

static void process_cases(void)
{
    struct tsv_file f;
    _cleanup_free_ char *path = conformance_path("shell-lexer/process-cases.tsv");
    tsv_load(&f, path);
    for (size_t i = 0; i < f.n; i++) {
        if (tsv_is(&f.r[i], 0, "getenv"))
            getenv_case(&f.r[i]);
        else
            word_case(&f.r[i]);
    }
    tap_diag("process-cases.tsv: %zu records", f.n);
    tsv_release(&f);
}

int main(void)
{
    env_var_test();
    words_test();
    process_cases();
    return tap_done("shell-lexer");
}
