/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expect.h - cmocka checks of kiln's (code, struct kiln_error) results, for
 * the unit tests that share them. Include after cmocka.h.
 */
#pragma once

#include <string.h>

#include "base/error.h"

/* Fails the test with the message when r < 0; frees *err either way. */
static inline void expect_ok_(int r, struct kiln_error **err, const char *file, int line)
{
    if (r < 0)
        fail_msg("%s:%d: %s", file, line, kiln_error_message(*err, r));
    kiln_error_free(*err);
    *err = NULL;
}
#define expect_ok(r, err) expect_ok_((r), (err), __FILE__, __LINE__)

/* Checks the code and that the message holds `part`; frees *err. */
static inline void expect_fail_(int r, struct kiln_error **err, int code, const char *part,
                                const char *file, int line)
{
    const char *msg = kiln_error_message(*err, r);
    if (r != code || !strstr(msg, part))
        fail_msg("%s:%d: got %d '%s', expected %d with '%s'", file, line, r, msg, code, part);
    kiln_error_free(*err);
    *err = NULL;
}
#define expect_fail(r, err, code, part) expect_fail_((r), (err), (code), (part), __FILE__, __LINE__)
