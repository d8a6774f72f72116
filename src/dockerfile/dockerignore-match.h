/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dockerignore-match.h - one .dockerignore pattern: its translation to a Go
 * regular expression (patternmatcher's compile) and a small engine for the
 * regular expressions that translation produces.
 */
#pragma once

#include <stdbool.h>

#include "base/error.h"
#include "dockerignore.h"

/* The match type and Go regexp of `pattern` for separator `sep`. */
void kiln_ignore__translate(const char *pattern, char sep, enum kiln_ignore_match_type *ret_type,
                            char **ret_regexp);

/*
 * Compiles a regular expression in the subset of Go's syntax the
 * translation produces (literals, escapes, '.', classes, '*', '?', '+',
 * groups, '^', '$'). Errors: KILN_E_INVALID with Go's reason.
 */
int kiln_ignore__regex_new(const char *re, struct kiln_ignore_regex **ret, struct kiln_error **err);
/* Whether the whole of s matches (the expression is anchored). */
bool kiln_ignore__regex_match(const struct kiln_ignore_regex *re, const char *s);
/*
 * One pass for every prefix: at[i] (for i = strlen(s) and each i where s[i]
 * is '/') tells whether s[0..i) matches. `at` has strlen(s) + 1 entries.
 */
void kiln_ignore__regex_match_prefixes(const struct kiln_ignore_regex *re, const char *s, bool *at);
void kiln_ignore__regex_free(struct kiln_ignore_regex *re);
