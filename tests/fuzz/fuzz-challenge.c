/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz-challenge.c - arbitrary bytes as a WWW-Authenticate header. A parse
 * either fails with a message or gives challenges whose every string is
 * NUL-terminated and findable; the input is also split at each newline into
 * several headers, which must append as one list does. A failure is a crash
 * (abort), which the replay driver reports.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/challenge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct kiln_registry_challenges *list)
{
    for (size_t i = 0; i < list->n; i++) {
        const struct kiln_registry_challenge *c = &list->v[i];
        if (!c->scheme[0] || !kiln_registry_challenges_find(list, c->scheme))
            abort();
        if (c->token68 && c->n_params)
            abort();
        for (size_t j = 0; j < c->n_params; j++)
            if (kiln_registry_challenge_param(c, c->params[j].key) != c->params[j].value)
                abort();
    }
}

static void parse(const char *s, size_t n, struct kiln_registry_challenges *list)
{
    struct kiln_error *err = NULL;
    size_t before = list->n;
    if (kiln_registry_challenge_parse(s, n, list, &err) < 0) {
        if (!err || !err->message[0] || list->n != before)
            abort();
        kiln_error_free(err);
    }
    check(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kiln_registry_challenges whole = KILN_REGISTRY_CHALLENGES_INIT;
    struct kiln_registry_challenges lines = KILN_REGISTRY_CHALLENGES_INIT;
    const char *s = (const char *)data, *end = s + size;
    parse(s, size, &whole);
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        parse(s, n, &lines);
        s += n + (nl != NULL);
    }
    kiln_registry_challenges_release(&lines);
    kiln_registry_challenges_release(&whole);
    return 0;
}
