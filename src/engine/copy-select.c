/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy-select.c - which paths COPY's sources name: cleaned into the root,
 * wildcards matched per component (Go's filepath.Match: '*' and '?' never
 * match '/', and match dot files), .dockerignore applied
 * (docs/internals/copy.md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fsroot.h"
#include "base/path.h"
#include "copy-private.h"

#include "base/banned.h"

char *kiln_copy_join(const char *dir, const char *name)
{
    return *dir ? kiln_xasprintf("%s/%s", dir, name) : kiln_xstrdup(name);
}

static bool allowed(const struct kiln_copy_src *src, const char *path)
{
    bool ok = true;
    if (src->filter && *path && kiln_context_path_allowed(src->filter, path, &ok, NULL) < 0)
        return false;
    return ok;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kiln_copy_excludes(const struct kiln_vertex_copy *op, struct kiln_ignore **ret,
                       struct kiln_error **err)
{
    *ret = NULL;
    if (!op->excludes.n)
        return 0;
    int r = kiln_ignore_new(op->excludes.v, op->excludes.n, ret, err);
    return r < 0 ? kiln_error_wrap(err, r, "--exclude") : 0;
}

static bool excluded(const struct kiln_copy_walk *w, const char *path)
{
    if (!w || !w->exclude || strlen(path) <= w->strip)
        return false;
    bool hit = false;
    kiln_ignore_matches(w->exclude, path + w->strip, &hit, NULL);
    return hit;
}

int kiln_copy_list(int fd, const struct kiln_copy_walk *w, const char *dir, struct kiln_strv *ret,
                   struct kiln_error **err)
{
    const struct kiln_copy_src *src = w ? w->src : NULL;
    int dfd = dup(fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return kiln_error_set_errno(err, -errno, "cannot list '/%s'", dir);
    }
    rewinddir(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if ((src && src->filter) || (w && w->exclude)) {
            _cleanup_free_ char *p = kiln_copy_join(dir, e->d_name);
            if ((src && !allowed(src, p)) || excluded(w, p))
                continue;
        }
        kiln_strv_push(ret, e->d_name);
    }
    closedir(d);
    qsort(ret->v, ret->n, sizeof(*ret->v), cmp_str);
    return 0;
}

static bool has_wildcard(const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' && s[1])
            s++;
        else if (*s == '*' || *s == '?' || *s == '[')
            return true;
    }
    return false;
}

/* Matches the components comps[i..] below `dir` (relative, "" for the root). */
static int glob_from(int root_fd, const struct kiln_copy_src *src, const char *dir, char **comps,
                     size_t n, size_t i, struct kiln_strv *ret, struct kiln_error **err)
{
    if (i == n) {
        kiln_strv_push(ret, dir);
        return 0;
    }
    if (!has_wildcard(comps[i])) {
        _cleanup_free_ char *p = kiln_copy_join(dir, comps[i]);
        int fd = kiln_fsroot_open(root_fd, p, O_PATH | O_NOFOLLOW, 0);
        if (fd < 0 || !allowed(src, p)) {
            if (fd >= 0)
                close(fd);
            return 0;
        }
        close(fd);
        return glob_from(root_fd, src, p, comps, n, i + 1, ret, err);
    }
    int fd = kiln_fsroot_open(root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return 0; /* not a directory: nothing below it matches */
    _cleanup_strv_ struct kiln_strv names = KILN_STRV_INIT;
    struct kiln_copy_walk w = {.src = src};
    int r = kiln_copy_list(fd, &w, dir, &names, err);
    close(fd);
    for (size_t k = 0; r >= 0 && k < names.n; k++) {
        if (fnmatch(comps[i], names.v[k], FNM_PATHNAME) != 0)
            continue;
        _cleanup_free_ char *p = kiln_copy_join(dir, names.v[k]);
        r = glob_from(root_fd, src, p, comps, n, i + 1, ret, err);
    }
    return r;
}

static int select_one(const char *source, const struct kiln_copy_src *src, int root_fd,
                      struct kiln_strv *ret, struct kiln_error **err)
{
    _cleanup_free_ char *abs = kiln_xasprintf("/%s", source);
    _cleanup_free_ char *clean = kiln_path_clean(abs, strlen(abs));
    const char *rel = clean + 1;
    if (!has_wildcard(rel)) {
        int fd = kiln_fsroot_open(root_fd, rel, O_PATH, 0);
        if (fd < 0 || !allowed(src, rel)) {
            if (fd >= 0)
                close(fd);
            return kiln_error_set(err, KILN_E_NOTFOUND,
                                  "failed to compute cache key: \"/%s\": not found", rel);
        }
        close(fd);
        kiln_strv_push(ret, rel);
        return 0;
    }
    _cleanup_strv_ struct kiln_strv comps = KILN_STRV_INIT;
    _cleanup_free_ char *copy = kiln_xstrdup(rel);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save))
        kiln_strv_push(&comps, c);
    return glob_from(root_fd, src, "", comps.v, comps.n, 0, ret, err);
}

int kiln_copy_select(const struct kiln_vertex_copy *op, const struct kiln_copy_src *src,
                     int root_fd, struct kiln_strv *ret, struct kiln_error **err)
{
    for (size_t i = 0; i < op->sources.n; i++) {
        const char *s = op->sources.v[i];
        if (kiln_copy_is_url(s)) {
            if (op->add)
                continue; /* fetched by the caller */
            return kiln_error_set(err, KILN_E_INVALID,
                                  "COPY %s: COPY takes no URLs: use ADD to download a file", s);
        }
        int r = select_one(s, src, root_fd, ret, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* One clause of a symbolic mode: [ugoa]*[+-=][rwxXst]* */
static int symbolic(const char *clause, mode_t cur, mode_t *mode, struct kiln_error **err)
{
    mode_t who = 0;
    const char *p = clause;
    for (; *p && strchr("ugoa", *p); p++)
        who |= *p == 'u' ? 04700 : *p == 'g' ? 02070 : *p == 'o' ? 01007 : 07777;
    if (!who)
        who = 07777;
    if (!*p || !strchr("+-=", *p))
        return kiln_error_set(err, KILN_E_INVALID, "invalid chmod clause '%s'", clause);
    char op = *p++;
    mode_t bits = 0;
    for (; *p; p++) {
        switch (*p) {
        case 'r': bits |= 0444; break;
        case 'w': bits |= 0222; break;
        case 'x': bits |= 0111; break;
        case 'X':
            if (S_ISDIR(cur) || (cur & 0111))
                bits |= 0111;
            break;
        case 's': bits |= 06000; break;
        case 't': bits |= 01000; break;
        default: return kiln_error_set(err, KILN_E_INVALID, "invalid chmod clause '%s'", clause);
        }
    }
    bits &= who;
    if (op == '+')
        *mode |= bits;
    else if (op == '-')
        *mode &= ~bits;
    else
        *mode = (*mode & ~who) | bits;
    return 0;
}

int kiln_copy_chmod(const char *spec, mode_t cur, mode_t *ret, struct kiln_error **err)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(spec, &end, 8);
    if (*spec && !*end && !errno) {
        if (v > 07777)
            return kiln_error_set(err, KILN_E_INVALID, "invalid chmod '%s': at most 7777", spec);
        *ret = (mode_t)v;
        return 0;
    }
    mode_t mode = cur & 07777;
    _cleanup_free_ char *copy = kiln_xstrdup(spec);
    char *save = NULL;
    for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        int r = symbolic(c, cur, &mode, err);
        if (r < 0)
            return r;
    }
    *ret = mode;
    return 0;
}
