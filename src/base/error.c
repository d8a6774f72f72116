/* SPDX-License-Identifier: Apache-2.0 */
#include "error.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#include "banned.h"

int kiln_error_setv(struct kiln_error **err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    char *msg = kiln_xvasprintf(fmt, ap);
    if (*err) {
        free((*err)->message);
    } else {
        *err = kiln_xcalloc(1, sizeof(**err));
    }
    (*err)->code = code;
    (*err)->message = msg;
    (*err)->line = 0;
    return code;
}

int kiln_error_set_line(struct kiln_error **err, int code, unsigned line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)kiln_error_setv(err, code, fmt, ap);
    va_end(ap);
    if (err)
        (*err)->line = line;
    return code;
}

int kiln_error_set(struct kiln_error **err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)kiln_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int kiln_error_set_errno(struct kiln_error **err, int r, const char *fmt, ...)
{
    if (!err)
        return r;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *ctx = kiln_xvasprintf(fmt, ap);
    va_end(ap);
    return kiln_error_set(err, r, "%s: %s", ctx, strerror(-r));
}

int kiln_error_wrap(struct kiln_error **err, int r, const char *fmt, ...)
{
    if (!err)
        return r;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *ctx = kiln_xvasprintf(fmt, ap);
    va_end(ap);
    if (!*err)
        return kiln_error_set(err, r, "%s", ctx);
    char *msg = kiln_xasprintf("%s: %s", ctx, (*err)->message);
    free((*err)->message);
    (*err)->message = msg;
    (*err)->code = r;
    return r;
}

int kiln_error_at_line(struct kiln_error **err, int r, unsigned line)
{
    if (err && *err)
        (*err)->line = line;
    return r;
}

const char *kiln_errcode_name(int code)
{
    switch (code) {
    case KILN_E_INVALID: return "invalid input";
    case KILN_E_AUTH: return "authentication required";
    case KILN_E_DENIED: return "access denied";
    case KILN_E_NOTFOUND: return "not found";
    case KILN_E_CONFLICT: return "conflict";
    case KILN_E_LIMIT: return "limit exceeded";
    case KILN_E_UPSTREAM: return "upstream failure";
    case KILN_E_CANCELLED: return "cancelled";
    case KILN_E_TIMEOUT: return "timed out";
    default: return code < 0 && code > -4096 ? strerror(-code) : "unknown error";
    }
}

const char *kiln_error_message(const struct kiln_error *e, int code)
{
    return e && e->message ? e->message : kiln_errcode_name(code);
}

void kiln_error_free(struct kiln_error *e)
{
    if (!e)
        return;
    free(e->message);
    free(e);
}
