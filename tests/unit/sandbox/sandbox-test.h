/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox-test.h - what the sandbox's unit tests share: a busybox rootfs,
 * and a way to pass a case that cannot run on this host. Include after
 * cmocka.h.
 */
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"

/* A case that cannot run here passes with a # line saying why (a skip would read as a failure). */
#define LEAVE_OUT(...)                             \
    do {                                           \
        print_message("# left out: " __VA_ARGS__); \
        print_message("\n");                       \
        return;                                    \
    } while (0)

/* rootfs/bin/busybox, a copy of `busybox`, and a link to it for each of n applets. */
static inline void busybox_rootfs(const char *rootfs, const char *busybox,
                                  const char *const *applets, size_t n)
{
    char *bin = kiln_xasprintf("%s/bin", rootfs), *bb = kiln_xasprintf("%s/bin/busybox", rootfs);
    assert_int_equal(mkdir(bin, 0755), 0);
    int in = open(busybox, O_RDONLY | O_CLOEXEC);
    int out = open(bb, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    assert_true(in >= 0 && out >= 0);
    char chunk[65536];
    ssize_t got;
    while ((got = read(in, chunk, sizeof(chunk))) > 0)
        assert_int_equal(write(out, chunk, (size_t)got), got);
    close(in);
    close(out);
    for (size_t i = 0; i < n; i++) {
        char *link = kiln_xasprintf("%s/%s", bin, applets[i]);
        assert_int_equal(symlink("busybox", link), 0);
        free(link);
    }
    free(bb);
    free(bin);
}
