/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy-select.c - which paths COPY's sources name: cleaned into the root,
 * wildcards matched per component (Go's filepath.Match: '*' and '?' never
 * match '/', and match dot files; "**" spans directories), .dockerignore
 * and --exclude applied, --parents' "/./" pivot (docs/internals/copy.md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/path.h"
#include "copy-private.h"

#include "base/banned.h"

int kiln_copy_open_in_root(int root, const char *path, int flags)
{
    while (*path == '/')
        path++;
    struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC),
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    for (int tries = 0;; tries++) {
        long fd = syscall(SYS_openat2, root, *path ? path : ".", &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        /* EAGAIN: a rename raced the lookup */
        if ((errno != EAGAIN && errno != EINTR) || tries == 16)
            return -errno;
    }
}

int kiln_copy_mkdir_at(int dir, const char *name, mode_t mode, uid_t uid, gid_t gid)
{
    if (mkdirat(dir, name, 0700) < 0)
        return -errno;
    int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

char *kiln_copy_join(const char *dir, const char *name)
{
    return *dir ? kiln_xasprintf("%s/%s", dir, name) : kiln_xstrdup(name);
}

bool kiln_copy_is_url(const char *source)
{
    return strncmp(source, "http://", 7) == 0 || strncmp(source, "https://", 8) == 0;
}

int kiln_copy_sel_init(struct kiln_copy_sel *s, const struct kiln_vertex_copy *op,
                       const struct kiln_copy_src *src, struct kiln_error **err)
{
    *s = (struct kiln_copy_sel){.src = src, .root = -1};
    s->root = open(src->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root < 0)
        return kiln_error_set_errno(err, -errno, "cannot open the source directory '%s'",
                                    src->root);
    if (op->excludes.n == 0)
        return 0;
    int r = kiln_ignore_new(op->excludes.v, op->excludes.n, &s->exclude, err);
    return r < 0 ? kiln_error_wrap(err, r, "--exclude") : 0;
}

void kiln_copy_sel_release(struct kiln_copy_sel *s)
{
    if (s->root >= 0)
        close(s->root);
    kiln_ignore_free(s->exclude);
    s->root = -1;
    s->exclude = NULL;
}

/* 1 when .dockerignore leaves `path` (relative to the root) out, 0, or a negative error. */
static int ignored(const struct kiln_copy_src *src, const char *path, struct kiln_error **err)
{
    bool ok = true;
    int r = src->filter && *path ? kiln_context_path_allowed(src->filter, path, &ok, err) : 0;
    return r < 0 ? kiln_error_wrap(err, r, ".dockerignore") : !ok;
}

/* 1 when --exclude leaves `sub` (relative to the copied source) out, 0, or a negative error. */
static int excluded(const struct kiln_copy_sel *s, const char *sub, struct kiln_error **err)
{
    bool hit = false;
    int r = s->exclude && *sub ? kiln_ignore_matches(s->exclude, sub, &hit, err) : 0;
    return r < 0 ? kiln_error_wrap(err, r, "--exclude") : hit;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kiln_copy_list(const struct kiln_copy_sel *s, int fd, const char *dir, const char *sub,
                   struct kiln_strv *ret, struct kiln_error **err)
{
    int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return kiln_error_set_errno(err, -errno, "cannot list '/%s'", dir);
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        /* with '!' exceptions, an excluded directory may hold included entries: entered */
        bool is_dir = e->d_type == DT_DIR;
        int r = 0;
        if (s->src->filter &&
            !(is_dir && s->src->filter->exclude && s->src->filter->exclude->exclusions)) {
            _cleanup_free_ char *p = kiln_copy_join(dir, n);
            r = ignored(s->src, p, err);
        }
        if (r == 0 && s->exclude && !(is_dir && s->exclude->exclusions)) {
            _cleanup_free_ char *p = kiln_copy_join(sub, n);
            r = excluded(s, p, err);
        }
        if (r < 0) {
            closedir(d);
            return r;
        }
        if (r > 0)
            continue;
        kiln_strv_push(ret, n);
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

struct glob {
    const struct kiln_copy_sel *s;
    char **comps;
    size_t n;
    struct kiln_strv *out;
};

/* Matches the components comps[i..] below `dir` (relative to the root, "" for it). */
static int glob_from(const struct glob *g, const char *dir, size_t i, struct kiln_error **err)
{
    if (i == g->n) {
        kiln_strv_push(g->out, dir);
        return 0;
    }
    const char *c = g->comps[i];
    if (!has_wildcard(c)) {
        _cleanup_free_ char *p = kiln_copy_join(dir, c);
        int fd = kiln_copy_open_in_root(g->s->root, p, O_PATH | O_NOFOLLOW);
        if (fd < 0)
            return 0;
        close(fd);
        int r = ignored(g->s->src, p, err);
        if (r != 0)
            return r < 0 ? r : 0;
        return glob_from(g, p, i + 1, err);
    }
    bool any_depth = strcmp(c, "**") == 0;
    if (any_depth) {
        int r = glob_from(g, dir, i + 1, err); /* "**" matching no directory */
        if (r < 0)
            return r;
    }
    int fd = kiln_copy_open_in_root(g->s->root, dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return 0; /* not a directory: nothing below it matches */
    struct kiln_copy_sel all = {.src = g->s->src, .root = g->s->root};
    _cleanup_strv_ struct kiln_strv names = KILN_STRV_INIT;
    int r = kiln_copy_list(&all, fd, dir, "", &names, err);
    for (size_t k = 0; r >= 0 && k < names.n; k++) {
        _cleanup_free_ char *p = kiln_copy_join(dir, names.v[k]);
        if (any_depth) {
            struct stat st;
            if (fstatat(fd, names.v[k], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                r = glob_from(g, p, i, err);
        } else if (fnmatch(c, names.v[k], 0) == 0) {
            r = glob_from(g, p, i + 1, err);
        }
    }
    close(fd);
    return r;
}

static void dedup_sorted(struct kiln_strv *v, size_t from)
{
    qsort(v->v + from, v->n - from, sizeof(*v->v), cmp_str);
    size_t w = from;
    for (size_t i = from; i < v->n; i++) {
        if (w > from && strcmp(v->v[w - 1], v->v[i]) == 0) {
            free(v->v[i]);
            continue;
        }
        v->v[w++] = v->v[i];
    }
    v->n = w;
    if (v->v)
        v->v[w] = NULL;
}

/* Selects one source, cleaned (no leading '/'), into out; a plain path must exist. */
static int select_one(const struct kiln_copy_sel *s, const char *rel, struct kiln_strv *out,
                      struct kiln_error **err)
{
    if (!has_wildcard(rel)) {
        int fd = kiln_copy_open_in_root(s->root, rel, O_PATH);
        int r = fd < 0 ? 1 : ignored(s->src, rel, err);
        if (fd >= 0)
            close(fd);
        if (r < 0)
            return r;
        if (r > 0)
            return kiln_error_set(err, KILN_E_NOTFOUND,
                                  "failed to compute cache key: \"/%s\": not found: check the "
                                  "path, and that .dockerignore does not exclude it",
                                  rel);
        kiln_strv_push(out, rel);
        return 0;
    }
    _cleanup_strv_ struct kiln_strv comps = KILN_STRV_INIT;
    _cleanup_free_ char *copy = kiln_xstrdup(rel);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save))
        kiln_strv_push(&comps, c);
    size_t from = out->n;
    struct glob g = {.s = s, .comps = comps.v, .n = comps.n, .out = out};
    int r = glob_from(&g, "", 0, err);
    if (r >= 0)
        dedup_sorted(out, from);
    return r;
}

/* The length of the part of source (no leading '/') before a "/./" pivot, or -1. */
static ssize_t pivot_of(const char *source)
{
    const char *p = strstr(source, "/./");
    if (strncmp(source, "./", 2) == 0)
        return 0;
    return p ? p - source : -1;
}

/* What --parents keeps of match m below pivot p. */
static const char *keep_below(const char *m, const char *p)
{
    size_t n = strlen(p);
    if (n == 0)
        return m;
    if (strncmp(m, p, n) == 0 && (m[n] == '/' || m[n] == '\0'))
        return m[n] ? m + n + 1 : "";
    return m;
}

int kiln_copy_select(const struct kiln_copy_sel *s, const struct kiln_vertex_copy *op,
                     struct kiln_strv *ret, struct kiln_strv *ret_keep, struct kiln_error **err)
{
    for (size_t i = 0; i < op->sources.n; i++) {
        const char *source = op->sources.v[i];
        if (kiln_copy_is_url(source))
            continue;
        _cleanup_free_ char *abs = kiln_xasprintf("/%s", source);
        _cleanup_free_ char *clean = kiln_path_clean(abs, strlen(abs));
        /* the pivot is found before cleaning, which would remove "/./" */
        ssize_t piv = op->parents ? pivot_of(source[0] == '/' ? source + 1 : source) : -1;
        _cleanup_free_ char *pivot = NULL; /* relative to the root, "" for it */
        if (piv >= 0) {
            _cleanup_free_ char *head = kiln_xasprintf("/%.*s", (int)piv, source);
            _cleanup_free_ char *c = kiln_path_clean(head, strlen(head));
            pivot = kiln_xstrdup(c + 1);
        }
        size_t from = ret->n;
        int r = select_one(s, clean + 1, ret, err);
        if (r < 0)
            return r;
        for (size_t k = from; k < ret->n; k++)
            kiln_strv_push(ret_keep, op->parents ? keep_below(ret->v[k], pivot ? pivot : "") : "");
    }
    return 0;
}
