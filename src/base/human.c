/* SPDX-License-Identifier: Apache-2.0 */
/*
 * human.c - human-readable sizes (docs/internals/base.md).
 */
#include "human.h"

#include <errno.h>
#include <inttypes.h>
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

void kiln_human_duration(int64_t seconds, char out[KILN_HUMAN_DURATION_MAX])
{
    int64_t h = seconds / 3600, m = seconds % 3600 / 60, s = seconds % 60;
    if (h)
        snprintf(out, KILN_HUMAN_DURATION_MAX, "%" PRId64 "h%" PRId64 "m%" PRId64 "s", h, m, s);
    else if (m)
        snprintf(out, KILN_HUMAN_DURATION_MAX, "%" PRId64 "m%" PRId64 "s", m, s);
    else
        snprintf(out, KILN_HUMAN_DURATION_MAX, "%" PRId64 "s", s);
}

int kiln_parse_duration(const char *s, int64_t *ret_seconds)
{
    static const struct {
        char unit;
        int64_t seconds;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    int64_t total = 0;
    if (!s || !*s)
        return -1;
    while (*s) {
        if (*s < '0' || *s > '9')
            return -1;
        int64_t n = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (n > (INT64_MAX - 9) / 10)
                return -1;
            n = n * 10 + (*s - '0');
        }
        size_t i = 0;
        while (i < sizeof(units) / sizeof(units[0]) && units[i].unit != *s)
            i++;
        if (i == sizeof(units) / sizeof(units[0]) || n > (INT64_MAX - total) / units[i].seconds)
            return -1;
        total += n * units[i].seconds;
        s++;
    }
    *ret_seconds = total;
    return 0;
}
