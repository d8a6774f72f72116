/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy-chmod.c - COPY/ADD --chmod: octal, or chmod(1)'s symbolic clauses
 * with a zero umask, as BuildKit (Dockerfile 1.14+) accepts them
 * (docs/internals/copy.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "copy-private.h"

#include "base/banned.h"

/* The permission bits named by the letters after the operator of a clause. */
static int perm_bits(const char *p, mode_t cur, mode_t *ret)
{
    mode_t bits = 0;
    for (; *p; p++) {
        switch (*p) {
        case 'r': bits |= 0444; break;
        case 'w': bits |= 0222; break;
        case 'x': bits |= 0111; break;
        case 'X':
            if (S_ISDIR(cur) || (cur & 0111))
                bits |= 0111;
            break;
        case 's': bits |= 06000; break;
        case 't': bits |= 01000; break;
        default: return -1;
        }
    }
    *ret = bits;
    return 0;
}

/* One clause of a symbolic mode: [ugoa]*[+-=][rwxXst]* */
static int symbolic(const char *spec, const char *clause, mode_t cur, mode_t *mode,
                    struct kiln_error **err)
{
    mode_t who = 0;
    const char *p = clause;
    for (; *p && strchr("ugoa", *p); p++)
        who |= *p == 'u' ? 04700 : *p == 'g' ? 02070 : *p == 'o' ? 01007 : 07777;
    if (!who)
        who = 07777;
    char op = *p ? *p++ : '\0';
    mode_t bits;
    if (!strchr("+-=", op) || op == '\0' || perm_bits(p, cur, &bits) < 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid --chmod '%s': clause '%s' is not [ugoa][+-=][rwxXst]; "
                              "use octal (0755) or chmod(1) syntax (u=rwX,go=rX)",
                              spec, clause);
    bits &= who;
    if (op == '+')
        *mode |= bits;
    else if (op == '-')
        *mode &= ~bits;
    else
        *mode = (*mode & ~who) | bits;
    return 0;
}

int kiln_copy_chmod(const char *spec, mode_t cur, mode_t *ret, struct kiln_error **err)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(spec, &end, 8);
    if (*spec >= '0' && *spec <= '7' && !*end && !errno) {
        if (v > 07777)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "invalid --chmod '%s': octal modes go up to 7777", spec);
        *ret = (mode_t)v;
        return 0;
    }
    if (!*spec)
        return kiln_error_set(err, KILN_E_INVALID, "invalid --chmod '': give a mode");
    mode_t mode = cur & 07777;
    _cleanup_free_ char *copy = kiln_xstrdup(spec);
    char *save = NULL;
    for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        int r = symbolic(spec, c, cur, &mode, err);
        if (r < 0)
            return r;
    }
    *ret = mode;
    return 0;
}
