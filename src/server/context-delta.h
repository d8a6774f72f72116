/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-delta.h - what differs between two kept context indexes, found by
 * comparing each entry's JSON text, so that bringing a slot from one to the
 * other parses only the entries that changed (docs/internals/context-sync.md).
 */
#pragma once

#include <jansson.h>
#include <stddef.h>

struct kilnd_context_delta {
    json_t *added;   /* entries of the new index not in the old one as they were, in order */
    json_t *removed; /* entries of the old index not in the new one as they were, in order */
    json_t *dirs;    /* directories of the new index whose time must be set again, in order */
};

/*
 * Compares two indexes as kilnd writes them (compact JSON arrays of flat
 * objects whose first key is "path"). Returns 0 and fills *ret (caller
 * releases it), or -1 when a text is not in that shape: the caller then
 * parses both whole.
 */
int kilnd_context_delta(const char *before, size_t before_len, const char *now, size_t now_len,
                        struct kilnd_context_delta *ret);
void kilnd_context_delta_release(struct kilnd_context_delta *d);
