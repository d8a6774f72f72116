/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tap.h - a minimal TAP producer for data-driven conformance tests, where one
 * record of a third-party corpus is one TAP test point.
 *
 *   tap_ok(cond, "corpus:line %u: %s", ln, what);   one test point
 *   tap_diag("expected %s, got %s", a, b);           a comment line
 *   return tap_done("shell-lexer envVarTest");       plan + summary, exit code
 */
#pragma once

#include <stdbool.h>

#include "base/cleanup.h"

bool tap_ok(bool cond, const char *fmt, ...) _printf_(2, 3);
void tap_skip(const char *fmt, ...) _printf_(1, 2);
void tap_diag(const char *fmt, ...) _printf_(1, 2);
/* Prints "1..N" and "# CORPUS: P passed, F failed, S skipped"; returns 0 or 1. */
int tap_done(const char *corpus);
