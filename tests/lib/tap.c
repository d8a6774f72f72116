/* SPDX-License-Identifier: Apache-2.0 */
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>

static unsigned n_run, n_failed, n_skipped;

bool tap_ok(bool cond, const char *fmt, ...)
{
    va_list ap;
    n_run++;
    if (!cond)
        n_failed++;
    printf("%s %u - ", cond ? "ok" : "not ok", n_run);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    return cond;
}

void tap_skip(const char *fmt, ...)
{
    va_list ap;
    n_run++;
    n_skipped++;
    printf("ok %u - # SKIP ", n_run);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

void tap_diag(const char *fmt, ...)
{
    va_list ap;
    fputs("# ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

int tap_done(const char *corpus)
{
    printf("1..%u\n", n_run);
    printf("# %s: %u passed, %u failed, %u skipped\n", corpus, n_run - n_failed - n_skipped,
           n_failed, n_skipped);
    fflush(stdout);
    return n_failed ? 1 : 0;
}
