/* SPDX-License-Identifier: Apache-2.0 */
/*
 * human.c - human-readable sizes (docs/internals/base.md).
 */
#include "human.h"

#include <stdio.h>

#include "banned.h"

void kiln_human_size(uint64_t n, char out[KILN_HUMAN_SIZE_MAX])
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1000 && u + 1 < sizeof(units) / sizeof(*units)) {
        v /= 1000;
        u++;
    }
    snprintf(out, KILN_HUMAN_SIZE_MAX, "%.4g%s", v, units[u]);
}
