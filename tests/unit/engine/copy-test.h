/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy-test.h - the fixture the COPY tests share: a temporary root holding a
 * context, a destination and a scratch directory, and a COPY op to fill in.
 * Include after cmocka.h.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "engine/copy.h"

static struct kiln_strv garbage = KILN_STRV_INIT; /* paths made by tat() */

struct fx {
    char root[64];
    char *ctx, *dest, *tmp;
    struct kiln_vertex_copy op;
    struct kiln_error *err;
};

static int fx_setup(void **state)
{
    struct fx *f = kiln_xcalloc(1, sizeof(*f));
    (void)snprintf(f->root, sizeof(f->root), "/var/tmp/kiln-copy-test-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    f->ctx = kiln_xasprintf("%s/ctx", f->root);
    f->dest = kiln_xasprintf("%s/dest", f->root);
    f->tmp = kiln_xasprintf("%s/tmp", f->root);
    if (mkdir(f->ctx, 0755) < 0 || mkdir(f->dest, 0755) < 0 || mkdir(f->tmp, 0700) < 0)
        return -1;
    f->op.unpack = KILN_DF_UNSET;
    *state = f;
    return 0;
}

/* Runs a tool and fails the test unless it exits 0. */
static void run_tool(const char *const *argv)
{
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = -1;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("'%s' failed (%d)", argv[0], st);
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    run_tool((const char *[]){"rm", "-rf", f->root, NULL});
    kiln_strv_release(&f->op.sources);
    kiln_strv_release(&f->op.excludes);
    kiln_strv_release(&garbage);
    free(f->op.dest);
    kiln_error_free(f->err);
    free(f->ctx);
    free(f->dest);
    free(f->tmp);
    free(f);
    return 0;
}

static char *at(const char *dir, const char *rel)
{
    return kiln_xasprintf("%s/%s", dir, rel);
}

/* mkdir -p of the directories above path. */
static void parents(char *path)
{
    for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            fail_msg("cannot create '%s': %s", path, strerror(errno));
        *s = '/';
    }
}

static void put(const char *dir, const char *rel, const char *data, mode_t mode)
{
    char *p = at(dir, rel);
    parents(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    free(p);
}
