/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dockerignore.h - .dockerignore files and the pattern matcher behind them,
 * exactly as moby/patternmatcher v0.6.1 (ignorefile.ReadAll, New,
 * MatchesOrParentMatches, MatchesUsingParentResults) which BuildKit uses.
 *
 * Paths are relative to the context root, '/'-separated, without a leading
 * '/'. Patterns are anchored at the root (`*.go` does not match `a/b.go`),
 * `**` spans directories, a pattern matching a directory matches everything
 * below it, and the last pattern that matches decides (`!p` re-includes).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/strv.h"

enum kiln_ignore_match_type {
    KILN_IGNORE_UNKNOWN,
    KILN_IGNORE_EXACT,
    KILN_IGNORE_PREFIX,
    KILN_IGNORE_SUFFIX,
    KILN_IGNORE_REGEXP,
};

struct kiln_ignore_regex;

struct kiln_ignore_pattern {
    char *text;     /* cleaned, without the leading '!' */
    bool exclusion; /* written with a leading '!' */
    enum kiln_ignore_match_type type;
    struct kiln_ignore_regex *re; /* KILN_IGNORE_REGEXP; NULL when it failed to compile */
};

struct kiln_ignore {
    struct kiln_ignore_pattern *patterns;
    size_t n;
    bool exclusions; /* some pattern starts with '!' */
};

/*
 * ignorefile.ReadAll: the patterns of a .dockerignore file. Lines starting
 * with '#' are comments, lines are trimmed, a leading '!' inverts, each
 * pattern is cleaned and loses one leading '/'. Errors: KILN_E_LIMIT for a
 * line over 64 KiB or more than KILN_DOCKERIGNORE_PATTERNS patterns.
 */
int kiln_dockerignore_read(const char *data, size_t len, struct kiln_strv *ret,
                           struct kiln_error **err);

/*
 * patternmatcher.New: compiles the patterns (empty ones skipped). On success
 * *ret (kiln_ignore_free) is the matcher. Errors: KILN_E_INVALID naming the
 * pattern: a lone "!", or a pattern filepath.Match rejects ("a[").
 */
int kiln_ignore_new(char *const *patterns, size_t n, struct kiln_ignore **ret,
                    struct kiln_error **err);
void kiln_ignore_free(struct kiln_ignore *m);
KILN_DEFINE_CLEANUP(struct kiln_ignore, kiln_ignore_free)

/*
 * MatchesOrParentMatches: whether path (or one of its parent directories)
 * is excluded. Errors: KILN_E_INVALID when a pattern met on the way is one
 * Go's regexp cannot compile (e.g. an inverted range "[z-a]").
 */
int kiln_ignore_matches(const struct kiln_ignore *m, const char *path, bool *ret,
                        struct kiln_error **err);

/*
 * MatchesUsingParentResults, for walks: `parent` is the array (m->n
 * entries) returned for the parent directory, or NULL at the top; the
 * per-pattern results for path are written to `info` (m->n entries).
 */
int kiln_ignore_matches_walk(const struct kiln_ignore *m, const char *path, const bool *parent,
                             bool *info, bool *ret, struct kiln_error **err);

/*
 * The deprecated forms, kept for the conformance data: Matches (parents
 * compared at the pattern's depth only) and MatchesUsingParentResult.
 */
int kiln_ignore_matches_legacy(const struct kiln_ignore *m, const char *path, bool *ret,
                               struct kiln_error **err);
int kiln_ignore_matches_parent_result(const struct kiln_ignore *m, const char *path,
                                      bool parent_matched, bool *ret, struct kiln_error **err);

/*
 * The Go regular expression a pattern compiles to with separator `sep`
 * ('/' or '\\'), and its match type; *ret_regexp (caller frees) is NULL for
 * the exact, prefix and suffix types, which need none.
 */
void kiln_ignore_describe(const char *pattern, char sep, enum kiln_ignore_match_type *ret_type,
                          char **ret_regexp);
