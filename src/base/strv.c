/* SPDX-License-Identifier: Apache-2.0 */
#include "strv.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#include "banned.h"

char *kiln_strv_empty[1];

void kiln_strv_take(struct kiln_strv *s, char *str)
{
    if (s->alloc == 0) {
        s->v = NULL;
        s->alloc = 0;
    }
    KILN_GROW(s->v, s->alloc, s->n + 2);
    s->v[s->n++] = str;
    s->v[s->n] = NULL;
}

void kiln_strv_push(struct kiln_strv *s, const char *str)
{
    kiln_strv_take(s, kiln_xstrdup(str));
}

void kiln_strv_pushn(struct kiln_strv *s, const char *str, size_t n)
{
    kiln_strv_take(s, kiln_xstrndup(str, n));
}

void kiln_strv_release(struct kiln_strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    if (s->alloc)
        free(s->v);
    s->v = kiln_strv_empty;
    s->n = s->alloc = 0;
}

long kiln_strv_find(const struct kiln_strv *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], str) == 0)
            return (long)i;
    return -1;
}
