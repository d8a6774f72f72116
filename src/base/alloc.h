/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alloc.h - allocation that never returns NULL.
 *
 * Every input that can grow memory has a cap (limits.h), so running out of
 * memory is not a condition kiln recovers from: these abort with a message.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "cleanup.h"

void *kiln_xmalloc(size_t size);
void *kiln_xcalloc(size_t n, size_t size);
void *kiln_xrealloc(void *p, size_t size);
/* Grows *p to hold at least `need` elements of `size` bytes; *alloc tracks capacity. */
void kiln_xgrow(void **p, size_t *alloc, size_t need, size_t size);
char *kiln_xstrdup(const char *s);
char *kiln_xstrndup(const char *s, size_t n);
char *kiln_xasprintf(const char *fmt, ...) _printf_(1, 2);
char *kiln_xvasprintf(const char *fmt, va_list ap) _printf_(1, 0);

#define KILN_GROW(arr, alloc, need) kiln_xgrow((void **)&(arr), &(alloc), (need), sizeof(*(arr)))
