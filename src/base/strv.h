/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strv.h - a growable list of owned strings, NULL-terminated (git's strvec).
 *
 *   struct kiln_strv v = KILN_STRV_INIT;
 *   kiln_strv_push(&v, "a");        copies
 *   kiln_strv_take(&v, s);          takes ownership of s
 *   v.v[0] .. v.v[v.n - 1], v.v[v.n] == NULL
 *   kiln_strv_release(&v);
 */
#pragma once

#include <stddef.h>

#include "cleanup.h"

struct kiln_strv {
    char **v;
    size_t n;
    size_t alloc;
};

extern char *kiln_strv_empty[];

#define KILN_STRV_INIT                           \
    {                                            \
        .v = kiln_strv_empty, .n = 0, .alloc = 0 \
    }

void kiln_strv_push(struct kiln_strv *s, const char *str);
void kiln_strv_pushn(struct kiln_strv *s, const char *str, size_t n);
void kiln_strv_take(struct kiln_strv *s, char *str);
void kiln_strv_release(struct kiln_strv *s);
/* Returns the index of `str`, or -1. */
long kiln_strv_find(const struct kiln_strv *s, const char *str);

static inline void kiln_strv_releasep(struct kiln_strv *s)
{
    kiln_strv_release(s);
}
#define _cleanup_strv_ _cleanup_(kiln_strv_releasep)
