/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shell-pattern.h - the glob patterns of ${V#p} ${V%p} ${V/p/r}, matched as
 * BuildKit matches them: translated to a regular expression (`*` to `.*`,
 * or `.*?` when not greedy; `?` to `.`; neither crosses a newline) and run
 * with Go's leftmost-first priorities.
 */
#pragma once

#include <stdbool.h>

#include "base/buf.h"

/*
 * ${V#p} (suffix false) and ${V%p} (suffix true): appends value with the
 * first match of `pattern` at its start (end) removed; greedy for ## and %%.
 * Errors: KILN_E_INVALID (a bad escape), KILN_E_LIMIT.
 */
int kiln_shell_trim(const char *pattern, const char *value, bool suffix, bool greedy,
                    struct kiln_buf *out, struct kiln_error **err);

/*
 * ${V/p/r} and ${V//p/r} (all): appends value with the first (every) match
 * of `pattern` replaced by repl. As in BuildKit, `all` expands `$0`/`$$` in
 * repl the way Go's Regexp.ReplaceAllString does.
 */
int kiln_shell_replace(const char *pattern, const char *value, const char *repl, bool all,
                       struct kiln_buf *out, struct kiln_error **err);
