/* SPDX-License-Identifier: Apache-2.0 */
#include "alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static _Noreturn void oom(size_t size)
{
    (void)fprintf(stderr, "kiln: out of memory (allocating %zu bytes)\n", size);
    abort();
}

void *kiln_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

void *kiln_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *kiln_xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        oom(size);
    return q;
}

void kiln_xgrow(void **p, size_t *alloc, size_t need, size_t size)
{
    if (need <= *alloc)
        return;
    size_t n = *alloc ? *alloc : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            oom(SIZE_MAX);
        n *= 2;
    }
    if (n > SIZE_MAX / size)
        oom(SIZE_MAX);
    *p = kiln_xrealloc(*p, n * size);
    *alloc = n;
}

char *kiln_xstrdup(const char *s)
{
    return kiln_xstrndup(s, strlen(s));
}

char *kiln_xstrndup(const char *s, size_t n)
{
    char *p = kiln_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *kiln_xvasprintf(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        oom(0);
    return s;
}

char *kiln_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = kiln_xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}
