/* SPDX-License-Identifier: Apache-2.0 */
/*
 * error.h - the two error channels.
 *
 * A fallible function returns an int: >= 0 on success, negative on failure.
 * A negative value is either -errno (a system call failed) or one of the
 * domain codes below. The optional last argument `struct kiln_error **err`
 * carries the human message on the way up; callers prefix context with
 * kiln_error_wrap(). Passing err == NULL means "code only".
 */
#pragma once

#include <stdarg.h>

#include "cleanup.h"

enum kiln_errcode {
    KILN_E_INVALID = -10001, /* bad input from the user */
    KILN_E_AUTH = -10002,    /* missing or wrong credentials */
    KILN_E_DENIED = -10003,  /* authenticated, but not allowed */
    KILN_E_NOTFOUND = -10004,
    KILN_E_CONFLICT = -10005,
    KILN_E_LIMIT = -10006, /* an input exceeded a limit of limits.h */
    KILN_E_UPSTREAM = -10007,
    KILN_E_CANCELLED = -10008,
    KILN_E_TIMEOUT = -10009,
};

struct kiln_error {
    int code;      /* negative: -errno or enum kiln_errcode */
    char *message; /* lower case, no full stop */
    unsigned line; /* 1-based line of the input at fault, 0 when none */
};

/*
 * Records a failure with code `code` (negative) and a formatted message in
 * *err (replacing an earlier one). Returns `code`, so `return kiln_error_set(...)`.
 */
int kiln_error_set(struct kiln_error **err, int code, const char *fmt, ...) _printf_(3, 4);
int kiln_error_setv(struct kiln_error **err, int code, const char *fmt, va_list ap) _printf_(3, 0);

/* Like kiln_error_set() with ": <strerror(-r)>" appended; r is -errno. */
int kiln_error_set_errno(struct kiln_error **err, int r, const char *fmt, ...) _printf_(3, 4);

/*
 * Prefixes the message in *err with "<context>: " and returns r. When no
 * message was recorded yet, the context becomes the message.
 */
int kiln_error_wrap(struct kiln_error **err, int r, const char *fmt, ...) _printf_(3, 4);

/*
 * Like kiln_error_set(), and records the 1-based input line at fault, which a
 * caller that knows the file name prints as "FILE:LINE: message".
 */
int kiln_error_set_line(struct kiln_error **err, int code, unsigned line, const char *fmt, ...)
        _printf_(4, 5);

/* Sets the line of the error already in *err (when any) and returns r. */
int kiln_error_at_line(struct kiln_error **err, int r, unsigned line);

/* The message, or a generic text for the code when none was recorded. */
const char *kiln_error_message(const struct kiln_error *e, int code);

/* A short name for a code ("invalid", "limit", or strerror text). */
const char *kiln_errcode_name(int code);

void kiln_error_free(struct kiln_error *e);
KILN_DEFINE_CLEANUP(struct kiln_error, kiln_error_free)
