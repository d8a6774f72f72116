/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-dockerignore.c - the .dockerignore data in ../shared/conformance/
 * dockerignore, run as it is: every match, new, compile and ignorefile
 * record of cases.tsv and derived-cases.tsv through the matcher, and every
 * walk, open and context record of walk-cases.tsv through the real walker
 * on a real directory tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "context/ignore-file.h"
#include "context/walk.h"
#include "dockerfile/dockerignore.h"
#include "tap.h"
#include "tsv.h"

/* The quoted fields from index `from` on, as a pattern list. */
static size_t quoted_from(const struct tsv_record *rec, size_t from, char ***ret)
{
    *ret = kiln_xcalloc(rec->n + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = from; i < rec->n && rec->f[i].quoted; i++)
        (*ret)[n++] = rec->f[i].text;
    return n;
}

/* One API's answer: "true", "false" or "error". */
static const char *answer(const char *api, char **pats, size_t np, const char *path)
{
    struct kiln_ignore *m = NULL;
    if (kiln_ignore_new(pats, np, &m, NULL) < 0)
        return "error";
    bool hit = false;
    int r = 0;
    if (strcmp(api, "orparent") == 0) {
        r = kiln_ignore_matches(m, path, &hit, NULL);
    } else if (strcmp(api, "legacy") == 0) {
        r = kiln_ignore_matches_legacy(m, path, &hit, NULL);
    } else if (strcmp(api, "parentresults0") == 0) {
        bool *info = kiln_xcalloc(m->n + 1, sizeof(bool));
        r = kiln_ignore_matches_walk(m, path, NULL, info, &hit, NULL);
        free(info);
    } else {
        /* parentresults / parentresult: a, a/b, ... then the path, in turn. */
        bool single = strcmp(api, "parentresult") == 0;
        bool *prev = NULL, *info = NULL, parent_hit = false;
        _cleanup_free_ char *buf = kiln_xstrdup(path);
        for (char *q = buf;; q++) {
            if (*q != '/' && *q != '\0')
                continue;
            char saved = *q;
            *q = '\0';
            if (single) {
                r = kiln_ignore_matches_parent_result(m, buf, parent_hit, &hit, NULL);
                parent_hit = hit;
            } else {
                info = kiln_xcalloc(m->n + 1, sizeof(bool));
                r = kiln_ignore_matches_walk(m, buf, prev, info, &hit, NULL);
                free(prev);
                prev = info;
            }
            *q = saved;
            if (r < 0 || saved == '\0')
                break;
        }
        free(prev);
    }
    kiln_ignore_free(m);
    return r < 0 ? "error" : hit ? "true" : "false";
}

static void match_record(const char *file, const struct tsv_record *rec)
{
    char **pats;
    size_t np = quoted_from(rec, 6, &pats);
    const char *path = rec->f[5].text, *want = rec->f[3].text;
    _cleanup_free_ char *apis = kiln_xstrdup(rec->f[1].text);
    bool ok = true;
    const char *bad_api = "", *got = "";
    for (char *save = NULL, *api = strtok_r(apis, ",", &save); api && ok;
         api = strtok_r(NULL, ",", &save)) {
        got = answer(api, pats, np, path);
        ok = strcmp(got, want) == 0;
        bad_api = api;
    }
    tap_ok(ok, "%s:%u: '%s' against %zu pattern(s) is %s%s%s%s", file, rec->line, path, np, want,
           ok ? "" : " (", ok ? "" : bad_api, ok ? "" : " said otherwise)");
    if (!ok)
        tap_diag("got %s", got);
    free(pats);
}

static void new_record(const char *file, const struct tsv_record *rec)
{
    char **pats;
    size_t np = quoted_from(rec, 6, &pats);
    struct kiln_ignore *m = NULL;
    int r = kiln_ignore_new(pats, np, &m, NULL);
    bool ok = tsv_is(rec, 2, "error") ? r < 0 : r >= 0;
    if (ok && r >= 0 && !tsv_is(rec, 3, "-"))
        ok = m->n == strtoul(rec->f[3].text, NULL, 10);
    if (ok && r >= 0 && !tsv_is(rec, 4, "-"))
        ok = m->exclusions == tsv_is(rec, 4, "true");
    tap_ok(ok, "%s:%u: New of %zu pattern(s) is %s", file, rec->line, np, rec->f[2].text);
    kiln_ignore_free(m);
    free(pats);
}

static const char *type_name(enum kiln_ignore_match_type t)
{
    static const char *const names[] = {"unknown", "exact", "prefix", "suffix", "regexp"};
    return names[t];
}

static void compile_record(const char *file, const struct tsv_record *rec)
{
    const char *pattern = rec->f[5].text;
    bool ok = true;
    for (int k = 0; k < 2 && ok; k++) {
        _cleanup_free_ char *p = kiln_xstrdup(pattern);
        for (char *q = p; k == 1 && *q; q++)
            if (*q == '/')
                *q = '\\';
        enum kiln_ignore_match_type t;
        _cleanup_free_ char *re = NULL;
        kiln_ignore_describe(p, k ? '\\' : '/', &t, &re);
        ok = strcmp(type_name(t), rec->f[1].text) == 0 &&
             (tsv_is(rec, 2 + k, "-") ? re == NULL : re && strcmp(re, rec->f[2 + k].text) == 0);
        if (!ok)
            tap_diag("separator %c: got %s %s", k ? '\\' : '/', type_name(t), re ? re : "-");
    }
    tap_ok(ok, "%s:%u: '%s' compiles as %s", file, rec->line, pattern, rec->f[1].text);
}

static void ignorefile_record(const char *file, const struct tsv_record *rec)
{
    struct kiln_strv got = KILN_STRV_INIT;
    int r = 0;
    if (rec->f[2].quoted)
        r = kiln_dockerignore_read(rec->f[2].text, rec->f[2].len, &got, NULL);
    char **want;
    size_t nw = quoted_from(rec, 3, &want);
    bool ok = r >= 0 && got.n == nw;
    for (size_t i = 0; ok && i < nw; i++)
        ok = strcmp(got.v[i], want[i]) == 0;
    tap_ok(ok, "%s:%u: the ignore file gives %zu pattern(s) (got %zu)", file, rec->line, nw, got.n);
    kiln_strv_release(&got);
    free(want);
}

static void cases_file(const char *name)
{
    struct tsv_file f;
    _cleanup_free_ char *rel = kiln_xasprintf("dockerignore/%s", name);
    _cleanup_free_ char *path = conformance_path(rel);
    tsv_load(&f, path);
    for (size_t i = 0; i < f.n; i++) {
        const struct tsv_record *rec = &f.r[i];
        if (tsv_is(rec, 0, "match"))
            match_record(name, rec);
        else if (tsv_is(rec, 0, "new"))
            new_record(name, rec);
        else if (tsv_is(rec, 0, "compile"))
            compile_record(name, rec);
        else if (tsv_is(rec, 0, "ignorefile"))
            ignorefile_record(name, rec);
        else
            tap_ok(false, "%s:%u: unknown record kind '%s'", name, rec->line, rec->f[0].text);
    }
    tap_diag("%s: %zu records", name, f.n);
    tsv_release(&f);
}

/* ---- walk-cases.tsv: real trees ---------------------------------------- */

static char *make_root(void)
{
    const char *tmp = getenv("TMPDIR");
    char *root = kiln_xasprintf("%s/kiln-walk-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        exit(2);
    }
    return root;
}

static void remove_tree(const char *root)
{
    _cleanup_free_ char *cmd = kiln_xasprintf("rm -rf '%s'", root);
    if (fork() == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    while (wait(NULL) > 0)
        ;
}

static void build_tree(const char *root, const struct tsv_record *rec, size_t sec)
{
    for (size_t i = sec + 1; i < rec->n && rec->f[i].quoted; i++) {
        const char *e = rec->f[i].text;
        bool dir = strncmp(e, "dir ", 4) == 0;
        _cleanup_free_ char *p = kiln_xasprintf("%s/%s", root, e + (dir ? 4 : 5));
        if (dir ? mkdir(p, 0755) : close(open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)))
            tap_diag("cannot create %s: %s", p, strerror(errno));
    }
}

static int collect(const char *path, const struct stat *st, void *userdata)
{
    kiln_strv_take(userdata, kiln_xasprintf("%s %s", S_ISDIR(st->st_mode) ? "dir" : "file", path));
    return 0;
}

/* Builds a filter from the exclude/include sections; false when New fails. */
static bool filter_from(const struct tsv_record *rec, struct kiln_ignore **exc,
                        struct kiln_ignore **inc)
{
    const char *keys[2] = {"exclude", "include"};
    struct kiln_ignore **out[2] = {exc, inc};
    for (int k = 0; k < 2; k++) {
        *out[k] = NULL;
        size_t sec = tsv_section(rec, 0, keys[k]);
        if (sec == (size_t)-1)
            continue;
        char **pats;
        size_t np = quoted_from(rec, sec + 1, &pats);
        int r = np ? kiln_ignore_new(pats, np, out[k], NULL) : 0;
        free(pats);
        if (r < 0)
            return false;
    }
    return true;
}

static void walk_record(const struct tsv_record *rec)
{
    _cleanup_free_ char *root = make_root();
    build_tree(root, rec, tsv_section(rec, 0, "tree"));
    struct kiln_ignore *exc, *inc;
    bool built = filter_from(rec, &exc, &inc);
    size_t ex = tsv_section(rec, 0, "expect");
    struct kiln_strv got = KILN_STRV_INIT;
    struct kiln_walk_filter f = {exc, inc};
    int r = built ? kiln_context_walk(root, &f, collect, &got, NULL) : -1;
    bool ok;
    if (tsv_is(rec, ex + 1, "error")) {
        ok = r < 0;
    } else {
        ok = r >= 0 && got.n == tsv_section_len(rec, ex);
        for (size_t i = 0; ok && i < got.n; i++)
            ok = strcmp(got.v[i], rec->f[ex + 1 + i].text) == 0;
    }
    tap_ok(ok, "walk-cases:%u: %s walks as expected (%zu entries)", rec->line, rec->f[1].text,
           got.n);
    for (size_t i = 0; !ok && i < got.n; i++)
        tap_diag("got %s", got.v[i]);
    kiln_strv_release(&got);
    kiln_ignore_free(exc);
    kiln_ignore_free(inc);
    remove_tree(root);
}

static void open_record(const struct tsv_record *rec)
{
    _cleanup_free_ char *root = make_root();
    build_tree(root, rec, tsv_section(rec, 0, "tree"));
    struct kiln_ignore *exc, *inc;
    bool built = filter_from(rec, &exc, &inc);
    const char *path = rec->f[tsv_section(rec, 0, "path") + 1].text;
    struct kiln_walk_filter f = {exc, inc};
    bool allowed = false;
    _cleanup_free_ char *full = kiln_xasprintf("%s/%s", root, path);
    bool exists = built && kiln_context_path_allowed(&f, path, &allowed, NULL) >= 0 && allowed &&
                  access(full, F_OK) == 0;
    bool want = tsv_is(rec, tsv_section(rec, 0, "result") + 1, "exists");
    tap_ok(exists == want, "walk-cases:%u: %s opens '%s': %s", rec->line, rec->f[1].text, path,
           want ? "exists" : "notexist");
    kiln_ignore_free(exc);
    kiln_ignore_free(inc);
    remove_tree(root);
}

static void context_record(const struct tsv_record *rec)
{
    _cleanup_free_ char *root = make_root();
    size_t files = tsv_section(rec, 0, "files");
    for (size_t i = files + 1; i < rec->n && rec->f[i].quoted; i++) {
        _cleanup_free_ char *p = kiln_xasprintf("%s/%s", root, rec->f[i].text);
        close(open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    }
    size_t ig = tsv_section(rec, 0, "ignorefile");
    _cleanup_free_ char *ig_path = kiln_xasprintf("%s/%s", root, rec->f[ig + 1].text);
    FILE *fp = fopen(ig_path, "we");
    fwrite(rec->f[ig + 2].text, 1, rec->f[ig + 2].len, fp);
    fclose(fp);
    _cleanup_free_ char *df =
            kiln_xasprintf("%s/%s", root, rec->f[tsv_section(rec, 0, "dockerfile") + 1].text);
    struct kiln_strv pats = KILN_STRV_INIT, got = KILN_STRV_INIT;
    struct kiln_ignore *exc = NULL;
    int r = kiln_context_read_ignore(root, df, &pats, NULL, NULL);
    if (r >= 0)
        r = kiln_ignore_new(pats.v, pats.n, &exc, NULL);
    struct kiln_walk_filter f = {exc, NULL};
    if (r >= 0)
        r = kiln_context_walk(root, &f, collect, &got, NULL);
    bool ok;
    size_t res = tsv_section(rec, 0, "result");
    if (res != (size_t)-1) {
        ok = r < 0;
    } else {
        ok = r >= 0;
        size_t pr = tsv_section(rec, 0, "present"), ab = tsv_section(rec, 0, "absent");
        for (size_t i = 0; ok && pr != (size_t)-1 && i < tsv_section_len(rec, pr); i++) {
            _cleanup_free_ char *e = kiln_xasprintf("file %s", rec->f[pr + 1 + i].text);
            ok = kiln_strv_find(&got, e) >= 0;
        }
        for (size_t i = 0; ok && ab != (size_t)-1 && i < tsv_section_len(rec, ab); i++) {
            _cleanup_free_ char *e = kiln_xasprintf("file %s", rec->f[ab + 1 + i].text);
            ok = kiln_strv_find(&got, e) < 0;
        }
    }
    tap_ok(ok, "walk-cases:%u: %s sends what BuildKit sends", rec->line, rec->f[1].text);
    kiln_strv_release(&pats);
    kiln_strv_release(&got);
    kiln_ignore_free(exc);
    remove_tree(root);
}

static void walk_cases(void)
{
    struct tsv_file f;
    _cleanup_free_ char *path = conformance_path("dockerignore/walk-cases.tsv");
    tsv_load(&f, path);
    for (size_t i = 0; i < f.n; i++) {
        if (tsv_is(&f.r[i], 0, "walk"))
            walk_record(&f.r[i]);
        else if (tsv_is(&f.r[i], 0, "open"))
            open_record(&f.r[i]);
        else
            context_record(&f.r[i]);
    }
    tap_diag("walk-cases.tsv: %zu records", f.n);
    tsv_release(&f);
}

int main(void)
{
    cases_file("cases.tsv");
    cases_file("derived-cases.tsv");
    walk_cases();
    return tap_done("dockerignore");
}
