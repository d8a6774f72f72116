/* SPDX-License-Identifier: Apache-2.0 */
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "base/strv.h"

#include "base/banned.h"

/* A directory on the way down: its per-pattern results and whether it was reported. */
struct level {
    char *path;
    struct stat st;
    bool *include_info, *exclude_info;
    bool reported;
};

struct walk {
    const struct kiln_walk_filter *f;
    bool only_prefix_includes, only_prefix_exceptions;
    kiln_walk_fn fn;
    void *userdata;
    struct level *levels; /* levels[0 .. depth-1]: the open directories */
    unsigned depth;
    struct kiln_error **err;
};

/* fsutil's patternWithoutTrailingGlob, plus "/". */
static char *pattern_dir(const struct kiln_ignore_pattern *p)
{
    size_t n = strlen(p->text);
    if (n >= 3 && strcmp(p->text + n - 3, "/**") == 0)
        n -= 3;
    else if (n >= 2 && strcmp(p->text + n - 2, "/*") == 0)
        n -= 2;
    char *s = kiln_xmalloc(n + 2);
    memcpy(s, p->text, n);
    s[n] = '/';
    s[n + 1] = '\0';
    return s;
}

/* Whether every pattern of the kind (exclusions or not) is a plain path. */
static bool only_prefixes(const struct kiln_ignore *m, bool exclusions)
{
    for (size_t i = 0; m && i < m->n; i++) {
        if (m->patterns[i].exclusion != exclusions)
            continue;
        _cleanup_free_ char *d = pattern_dir(&m->patterns[i]);
        if (strpbrk(d, "*[]?^\\"))
            return false;
    }
    return true;
}

/* Whether a pattern of the kind names something inside directory `path`. */
static bool reaches_inside(const struct kiln_ignore *m, bool exclusions, const char *path)
{
    _cleanup_free_ char *dir = kiln_xasprintf("%s/", path);
    for (size_t i = 0; i < m->n; i++) {
        if (m->patterns[i].exclusion != exclusions)
            continue;
        _cleanup_free_ char *d = pattern_dir(&m->patterns[i]);
        if (strncmp(d, dir, strlen(dir)) == 0)
            return true;
    }
    return false;
}

enum verdict { SEND, SKIP, PRUNE }; /* PRUNE: skip and do not enter */

static int judge(struct walk *w, const char *path, bool is_dir, bool *inc_info, bool *exc_info,
                 enum verdict *ret)
{
    const struct level *up = w->depth ? &w->levels[w->depth - 1] : NULL;
    enum verdict v = SEND;
    bool m;
    const struct kiln_ignore *inc = w->f->include, *exc = w->f->exclude;
    if (inc) {
        int r = kiln_ignore_matches_walk(inc, path, up ? up->include_info : NULL, inc_info, &m,
                                         w->err);
        if (r < 0)
            return r;
        if (!m) {
            v = SKIP;
            if (is_dir && w->only_prefix_includes && !reaches_inside(inc, false, path))
                v = PRUNE;
        }
    }
    if (exc && v != PRUNE) {
        int r = kiln_ignore_matches_walk(exc, path, up ? up->exclude_info : NULL, exc_info, &m,
                                         w->err);
        if (r < 0)
            return r;
        if (m) {
            v = SKIP;
            if (is_dir && w->only_prefix_exceptions &&
                (!exc->exclusions || !reaches_inside(exc, true, path)))
                v = PRUNE;
        }
    }
    *ret = v;
    return 0;
}

/* Reports the directories above that were held back, then the entry. */
static int report(struct walk *w, const char *path, const struct stat *st)
{
    for (unsigned i = 0; i < w->depth; i++) {
        struct level *l = &w->levels[i];
        if (l->reported)
            continue;
        l->reported = true;
        int r = w->fn(l->path, &l->st, w->userdata);
        if (r < 0)
            return r;
    }
    return w->fn(path, st, w->userdata);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_names(int dfd, struct kiln_strv *names)
{
    int fd = dup(dfd);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int r = -errno;
        close(fd);
        return r;
    }
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            kiln_strv_push(names, de->d_name);
        errno = 0;
    }
    int r = errno ? -errno : 0;
    closedir(d);
    qsort(names->v, names->n, sizeof(char *), by_name);
    return r;
}

static int walk_dir(struct walk *w, int dfd, const char *prefix);

static int entry(struct walk *w, int dfd, const char *prefix, const char *name)
{
    _cleanup_free_ char *path =
            *prefix ? kiln_xasprintf("%s/%s", prefix, name) : kiln_xstrdup(name);
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : kiln_error_set_errno(w->err, -errno, "stat '%s'", path);
    bool is_dir = S_ISDIR(st.st_mode);
    size_t np = (w->f->include ? w->f->include->n : 0) + (w->f->exclude ? w->f->exclude->n : 0);
    _cleanup_free_ bool *info = kiln_xcalloc(np + 1, sizeof(bool));
    bool *inc_info = info, *exc_info = info + (w->f->include ? w->f->include->n : 0);
    enum verdict v;
    int r = judge(w, path, is_dir, inc_info, exc_info, &v);
    if (r < 0 || v == PRUNE)
        return r;
    if (v == SEND && (r = report(w, path, &st)) < 0)
        return r;
    if (!is_dir)
        return 0;
    if (w->depth >= KILN_CONTEXT_DEPTH_MAX)
        return kiln_error_set(w->err, KILN_E_LIMIT,
                              "'%s': the context nests directories more than %u deep", path,
                              KILN_CONTEXT_DEPTH_MAX);
    _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (v == SKIP && (errno == EACCES || errno == EPERM))
            return 0;
        return kiln_error_set_errno(w->err, -errno, "open directory '%s'", path);
    }
    w->levels[w->depth++] = (struct level){path, st, inc_info, exc_info, v == SEND};
    r = walk_dir(w, fd, path);
    w->depth--;
    return r;
}

static int walk_dir(struct walk *w, int dfd, const char *prefix)
{
    _cleanup_strv_ struct kiln_strv names = KILN_STRV_INIT;
    int r = read_names(dfd, &names);
    if (r < 0)
        return kiln_error_set_errno(w->err, r, "read directory '%s'", *prefix ? prefix : ".");
    for (size_t i = 0; i < names.n && r >= 0; i++)
        r = entry(w, dfd, prefix, names.v[i]);
    return r;
}

int kiln_context_walk(const char *root, const struct kiln_walk_filter *filter, kiln_walk_fn fn,
                      void *userdata, struct kiln_error **err)
{
    _cleanup_close_ int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "open the context '%s'", root);
    _cleanup_free_ struct level *levels = kiln_xcalloc(KILN_CONTEXT_DEPTH_MAX + 1, sizeof(*levels));
    struct walk w = {
            .f = filter,
            .only_prefix_includes = only_prefixes(filter->include, false),
            .only_prefix_exceptions = only_prefixes(filter->exclude, true),
            .fn = fn,
            .userdata = userdata,
            .levels = levels,
            .err = err,
    };
    return walk_dir(&w, fd, "");
}

int kiln_context_path_allowed(const struct kiln_walk_filter *filter, const char *path, bool *ret,
                              struct kiln_error **err)
{
    bool m = false;
    if (filter->include) {
        int r = kiln_ignore_matches(filter->include, path, &m, err);
        if (r < 0)
            return r;
        if (!m) {
            *ret = false;
            return 0;
        }
    }
    if (filter->exclude) {
        int r = kiln_ignore_matches(filter->exclude, path, &m, err);
        if (r < 0)
            return r;
        if (m) {
            *ret = false;
            return 0;
        }
    }
    *ret = true;
    return 0;
}
