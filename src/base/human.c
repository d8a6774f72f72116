/* SPDX-License-Identifier: Apache-2.0 */
/*
 * human.c - human-readable sizes (docs/internals/base.md).
 */
#include "human.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

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

int kiln_parse_size(const char *s, uint64_t *ret)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || v < 0 || end == s)
        return -1;
    static const struct {
        const char *suffix;
        double mult;
    } units[] = {
            {"", 1},         {"b", 1},           {"kb", 1e3},          {"mb", 1e6}, {"gb", 1e9},
            {"tb", 1e12},    {"k", 1e3},         {"m", 1e6},           {"g", 1e9},  {"t", 1e12},
            {"kib", 1024.0}, {"mib", 1048576.0}, {"gib", 1073741824.0}};
    for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++)
        if (strcasecmp(end, units[i].suffix) == 0) {
            *ret = (uint64_t)(v * units[i].mult);
            return 0;
        }
    return -1;
}
