/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stubs.h - mount points the runtime creates in a rootfs (/proc, /dev, /sys,
 * /etc/hosts, ...) when the image lacks them: found before the run, removed
 * after it with their parents' times restored, so they never reach a layer.
 */
#pragma once

#include <stddef.h>
#include <time.h>

#define KILN_STUBS_MAX 8

struct kiln_stubs {
    char *paths[KILN_STUBS_MAX]; /* missing before the run, deepest last */
    size_t n;
    struct timespec parent_times[KILN_STUBS_MAX][2];
    int root;
};

/* Records which mount points are missing in rootfs. Returns 0 or -errno. */
int kiln_stubs_find(const char *rootfs, struct kiln_stubs *ret);

/* Removes the recorded stubs (deepest first) and restores their parents' times. */
void kiln_stubs_remove(struct kiln_stubs *s);
