/* SPDX-License-Identifier: Apache-2.0 */
/*
 * challenge.h - WWW-Authenticate headers (RFC 7235) as registries send them:
 *
 *   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",
 *          scope="repository:library/alpine:pull"
 *   Basic realm="Registry Realm"
 *
 * One header may carry several challenges, and a response several headers;
 * kiln_registry_challenge_parse() appends each header's challenges to one list.
 */
#pragma once

#include <stddef.h>

#include "base/error.h"

struct kiln_registry_param {
    char *key;   /* lower case */
    char *value; /* unquoted, escapes resolved */
};

struct kiln_registry_challenge {
    char *scheme;  /* lower case: "basic", "bearer" */
    char *token68; /* "Negotiate abc==" form; NULL when the challenge has parameters or none */
    struct kiln_registry_param *params;
    size_t n_params;
    size_t alloc;
};

struct kiln_registry_challenges {
    struct kiln_registry_challenge *v;
    size_t n;
    size_t alloc;
};

#define KILN_REGISTRY_CHALLENGES_INIT \
    {                                 \
        .v = NULL, .n = 0, .alloc = 0 \
    }

/*
 * Parses the value of one WWW-Authenticate header (`len` bytes, not
 * NUL-terminated) and appends its challenges to `list`; on failure `list` is
 * unchanged. Scheme and parameter names are case-insensitive and kept in
 * lower case; values are tokens or quoted strings with backslash escapes.
 * KILN_E_INVALID with the offset at fault (malformed header, duplicate
 * parameter), KILN_E_LIMIT past KILN_REGISTRY_CHALLENGE_MAX bytes or the
 * challenge and parameter counts of limits.h.
 */
int kiln_registry_challenge_parse(const char *header, size_t len,
                                  struct kiln_registry_challenges *list, struct kiln_error **err);

/* The first challenge of `scheme` (lower case) in list, or NULL. */
const struct kiln_registry_challenge *
kiln_registry_challenges_find(const struct kiln_registry_challenges *list, const char *scheme);

/* The value of parameter `key` (lower case), or NULL. The challenge keeps ownership. */
const char *kiln_registry_challenge_param(const struct kiln_registry_challenge *c, const char *key);

/* Frees every challenge; list is empty afterwards. */
void kiln_registry_challenges_release(struct kiln_registry_challenges *list);
