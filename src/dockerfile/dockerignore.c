/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dockerignore.c - reading .dockerignore files and deciding, pattern by
 * pattern, whether a path is excluded (patternmatcher's New and Matches*).
 * The translation of one pattern lives in dockerignore-match.c.
 */
#include "dockerignore.h"

#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/path.h"
#include "dockerignore-match.h"
#include "goquote.h"
#include "parser-internal.h"

#include "base/banned.h"

#define IGNORE_LINE_MAX (64u * 1024)

/* Go's strings.TrimSpace, in place on (s, n). */
static void trim(const char **s, size_t *n)
{
    size_t l = kiln_df__span_space(*s, *n);
    *s += l;
    *n = kiln_df__trim_right_space(*s, *n - l);
}

static void read_line(const char *s, size_t n, struct kiln_strv *ret)
{
    trim(&s, &n);
    if (n == 0)
        return;
    bool invert = s[0] == '!';
    if (invert) {
        s++;
        n--;
        trim(&s, &n);
    }
    _cleanup_free_ char *clean = n > 0 ? kiln_path_clean(s, n) : kiln_xstrdup("");
    const char *p = clean;
    if (strlen(p) > 1 && p[0] == '/')
        p++;
    kiln_strv_take(ret, kiln_xasprintf("%s%s", invert ? "!" : "", p));
}

int kiln_dockerignore_read(const char *data, size_t len, struct kiln_strv *ret,
                           struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv out = KILN_STRV_INIT;
    unsigned line = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - data) : len;
        size_t n = e - i;
        const char *s = data + i;
        line++;
        if (n + 1 > IGNORE_LINE_MAX)
            return kiln_error_set_line(err, KILN_E_LIMIT, line, "line longer than %u bytes",
                                       IGNORE_LINE_MAX - 1);
        if (n > 0 && s[n - 1] == '\r')
            n--;
        if (line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3, n -= 3;
        if ((n == 0 || s[0] != '#') && out.n < KILN_DOCKERIGNORE_PATTERNS)
            read_line(s, n, &out);
        else if (n > 0 && s[0] != '#')
            return kiln_error_set_line(err, KILN_E_LIMIT, line, "more than %u patterns",
                                       KILN_DOCKERIGNORE_PATTERNS);
        i = e + 1;
    }
    for (size_t i = 0; i < out.n; i++)
        kiln_strv_push(ret, out.v[i]);
    return 0;
}

/* filepath.Match's syntax check: classes must close and hold valid ranges. */
static const char *class_error(const char **pp, const char *end)
{
    const char *p = *pp + 1;
    if (*p == '^')
        p++;
    for (unsigned nrange = 0;; nrange++) {
        if (*p == ']' && nrange > 0) {
            *pp = p;
            return NULL;
        }
        for (int hi = 0; hi < 2; hi++) { /* the low end, then maybe the high end of a range */
            if (*p == '\0' || *p == '-' || *p == ']')
                return *p == '\0' ? "unterminated character class" : "bad character range";
            if (*p == '\\' && *++p == '\0')
                return "unterminated character class";
            uint32_t r;
            size_t len = kiln_utf8_decode(p, (size_t)(end - p), &r);
            if (r == 0xFFFD && len == 1)
                return "invalid UTF-8 in a character class";
            p += len;
            if (*p == '\0')
                return "unterminated character class";
            if (hi == 1 || *p != '-')
                break;
            p++;
        }
    }
}

static const char *syntax_error(const char *p)
{
    const char *end = p + strlen(p);
    for (; *p; p++) {
        if (*p == '\\') {
            if (*++p == '\0')
                return "the pattern ends with an escape character";
        } else if (*p == '[') {
            const char *why = class_error(&p, end);
            if (why)
                return why;
        }
    }
    return NULL;
}

void kiln_ignore_free(struct kiln_ignore *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->patterns[i].text);
        kiln_ignore__regex_free(m->patterns[i].re);
    }
    free(m->patterns);
    free(m);
}

static int add_pattern(struct kiln_ignore *m, const char *raw, struct kiln_error **err)
{
    const char *s = raw;
    size_t n = strlen(raw);
    trim(&s, &n);
    if (n == 0)
        return 0;
    _cleanup_free_ char *clean = kiln_path_clean(s, n);
    const char *p = clean;
    struct kiln_ignore_pattern pat = {0};
    if (p[0] == '!') {
        if (p[1] == '\0')
            return kiln_error_set(err, KILN_E_INVALID,
                                  "illegal exclusion pattern: \"!\" (a '!' needs a pattern "
                                  "after it)");
        pat.exclusion = true;
        m->exclusions = true;
        p++;
    }
    const char *why = syntax_error(p);
    if (why)
        return kiln_error_set(err, KILN_E_INVALID, "invalid pattern '%s': %s", raw, why);
    pat.text = kiln_xstrdup(p);
    _cleanup_free_ char *re = NULL;
    kiln_ignore__translate(p, '/', &pat.type, &re);
    /* Upstream compiles lazily and fails every match that reaches the
     * pattern; remember the failure as a missing regexp. */
    if (re && kiln_ignore__regex_new(re, &pat.re, NULL) < 0)
        pat.re = NULL;
    m->patterns[m->n++] = pat;
    return 0;
}

int kiln_ignore_new(char *const *patterns, size_t n, struct kiln_ignore **ret,
                    struct kiln_error **err)
{
    _cleanup_(kiln_ignore_freep) struct kiln_ignore *m = kiln_xcalloc(1, sizeof(*m));
    m->patterns = kiln_xcalloc(n + 1, sizeof(*m->patterns));
    for (size_t i = 0; i < n; i++) {
        int r = add_pattern(m, patterns[i], err);
        if (r < 0)
            return r;
    }
    *ret = TAKE_PTR(m);
    return 0;
}

/* Pattern.match: one pattern against one path. */
static int pattern_match(const struct kiln_ignore_pattern *p, const char *path, bool *ret,
                         struct kiln_error **err)
{
    size_t n = strlen(path), tn = strlen(p->text);
    switch (p->type) {
    case KILN_IGNORE_EXACT: *ret = strcmp(path, p->text) == 0; return 0;
    case KILN_IGNORE_PREFIX: *ret = strncmp(path, p->text, tn - 2) == 0; return 0;
    case KILN_IGNORE_SUFFIX: {
        const char *suffix = p->text + 2;
        size_t sn = tn - 2;
        *ret = (n >= sn && memcmp(path + n - sn, suffix, sn) == 0) ||
               (suffix[0] == '/' && strcmp(path, suffix + 1) == 0);
        return 0;
    }
    case KILN_IGNORE_REGEXP:
        if (p->re) {
            *ret = kiln_ignore__regex_match(p->re, path);
            return 0;
        }
        break;
    case KILN_IGNORE_UNKNOWN: break;
    }
    _cleanup_free_ char *re = NULL;
    enum kiln_ignore_match_type type;
    kiln_ignore__translate(p->text, '/', &type, &re);
    struct kiln_ignore_regex *rx = NULL;
    struct kiln_error *why = NULL;
    (void)kiln_ignore__regex_new(re ? re : "", &rx, &why);
    kiln_ignore__regex_free(rx);
    int r = kiln_error_set(err, KILN_E_INVALID, "invalid pattern '%s%s': %s",
                           p->exclusion ? "!" : "", p->text,
                           kiln_error_message(why, KILN_E_INVALID));
    kiln_error_free(why);
    return r;
}

/*
 * Whether the parents of path are exactly its prefixes before each '/'
 * (filepath.Dir leaves its directory part as it is), so that one pass of
 * the regexp can judge them all.
 */
static bool parents_are_plain(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return true;
    size_t n = (size_t)(slash - path);
    _cleanup_free_ char *clean = kiln_path_clean(path, n + 1);
    return strlen(clean) == n && memcmp(clean, path, n) == 0;
}

/* Whether p matches path or one of its parent directories (all of them, or
 * only the one at the pattern's own depth for the legacy form). */
static int match_with_parents(const struct kiln_ignore_pattern *p, const char *path, bool legacy,
                              bool *ret, struct kiln_error **err)
{
    if (!legacy && p->type == KILN_IGNORE_REGEXP && p->re && parents_are_plain(path)) {
        size_t n = strlen(path);
        _cleanup_free_ bool *at = kiln_xmalloc(n + 1);
        kiln_ignore__regex_match_prefixes(p->re, path, at);
        *ret = false;
        for (size_t i = 0; i <= n && !*ret; i++)
            *ret = at[i] && (i == n || path[i] == '/');
        return 0;
    }
    int r = pattern_match(p, path, ret, err);
    if (r < 0 || *ret)
        return r;
    const char *slash = strrchr(path, '/');
    if (!slash)
        return 0;
    /* filepath.Dir: the cleaned text up to the last slash. */
    _cleanup_free_ char *parent = kiln_path_clean(path, (size_t)(slash - path) + 1);
    if (strcmp(parent, ".") == 0)
        return 0;
    size_t depth = 1;
    for (const char *q = p->text; *q; q++)
        depth += *q == '/';
    size_t level = 0;
    for (char *q = parent;; q++) {
        if (*q != '/' && *q != '\0')
            continue;
        level++;
        char saved = *q;
        *q = '\0';
        bool hit = false;
        if (!legacy || level == depth)
            (void)pattern_match(p, parent, &hit, NULL);
        *q = saved;
        if (hit) {
            *ret = true;
            return 0;
        }
        if (saved == '\0')
            return 0;
    }
}

static int matches(const struct kiln_ignore *m, const char *path, bool legacy, bool *ret,
                   struct kiln_error **err)
{
    bool matched = false;
    for (size_t i = 0; i < m->n; i++) {
        const struct kiln_ignore_pattern *p = &m->patterns[i];
        if (p->exclusion != matched)
            continue;
        bool hit;
        int r = match_with_parents(p, path, legacy, &hit, err);
        if (r < 0)
            return r;
        if (hit)
            matched = !p->exclusion;
    }
    *ret = matched;
    return 0;
}

int kiln_ignore_matches(const struct kiln_ignore *m, const char *path, bool *ret,
                        struct kiln_error **err)
{
    return matches(m, path, false, ret, err);
}

int kiln_ignore_matches_legacy(const struct kiln_ignore *m, const char *path, bool *ret,
                               struct kiln_error **err)
{
    _cleanup_free_ char *clean = kiln_path_clean(path, strlen(path));
    if (strcmp(clean, ".") == 0) {
        *ret = false;
        return 0;
    }
    return matches(m, clean, true, ret, err);
}

int kiln_ignore_matches_parent_result(const struct kiln_ignore *m, const char *path,
                                      bool parent_matched, bool *ret, struct kiln_error **err)
{
    bool matched = parent_matched;
    for (size_t i = 0; i < m->n; i++) {
        const struct kiln_ignore_pattern *p = &m->patterns[i];
        if (p->exclusion != matched)
            continue;
        bool hit;
        int r = pattern_match(p, path, &hit, err);
        if (r < 0)
            return r;
        if (hit)
            matched = !p->exclusion;
    }
    *ret = matched;
    return 0;
}

int kiln_ignore_matches_walk(const struct kiln_ignore *m, const char *path, const bool *parent,
                             bool *info, bool *ret, struct kiln_error **err)
{
    bool matched = false;
    for (size_t i = 0; i < m->n; i++) {
        const struct kiln_ignore_pattern *p = &m->patterns[i];
        bool hit = parent && parent[i];
        if (!hit) {
            if (p->exclusion != matched) {
                info[i] = false;
                continue;
            }
            int r = parent ? pattern_match(p, path, &hit, err)
                           : match_with_parents(p, path, false, &hit, err);
            if (r < 0)
                return r;
        }
        info[i] = hit;
        if (hit)
            matched = !p->exclusion;
    }
    *ret = matched;
    return 0;
}

void kiln_ignore_describe(const char *pattern, char sep, enum kiln_ignore_match_type *ret_type,
                          char **ret_regexp)
{
    kiln_ignore__translate(pattern, sep, ret_type, ret_regexp);
}
