/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-runtime-select.c - the OCI runtime choice: an explicit one probed
 * with a trivial container (runc; a runtime that refuses; one missing), the
 * environment's choice, the answer kept for the process, and without a
 * choice crun only where it runs (skipped when crun is not installed).
 * Skips when not root or runc / busybox is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "sandbox/runtime-select.h"
#include "sandbox/runtime.h"

#include "base/banned.h"

#define TMPFS_MAGIC 0x01021994

/* A runtime that refuses as a real one does (an error line in its --log), counting its runs. */
static const char refusing_runtime[] = "#!/bin/sh\n"
                                       "echo run >>\"$(dirname \"$0\")/runs\"\n"
                                       "while [ $# -gt 0 ]; do\n"
                                       "  if [ \"$1\" = --log ]; then\n"
                                       "    echo '{\"level\":\"error\",\"msg\":\"no cgroups "
                                       "here\"}' >\"$2\"\n"
                                       "  fi\n"
                                       "  shift\n"
                                       "done\n"
                                       "exit 1\n";

struct fixture {
    char dir[64];   /* the probe's scratch directory */
    char tools[64]; /* the refusing runtime */
};

static bool have(const char *name)
{
    char *path = NULL;
    bool ok = kiln_sandbox_find_runtime(name, &path, NULL) == 0;
    free(path);
    return ok;
}

static int setup(void **state)
{
    if (getuid() != 0 || !have("runc") || access(KILN_SANDBOX_PROBE_BINARY, X_OK) < 0)
        skip(); /* runc needs root; the probe runs busybox */
    struct fixture *f = kiln_xcalloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/kiln-rtsel-XXXXXX");
    snprintf(f->tools, sizeof(f->tools), "/tmp/kiln-rtsel-tools-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_non_null(mkdtemp(f->tools));
    unsetenv(KILN_SANDBOX_RUNTIME_ENV);
    *state = f;
    return 0;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d));)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    /* every probe removed its bundle */
    assert_int_equal(count_entries(f->dir), 0);
    rmdir(f->dir);
    _cleanup_free_ char *rt = kiln_xasprintf("%s/refusing", f->tools);
    _cleanup_free_ char *runs = kiln_xasprintf("%s/runs", f->tools);
    unlink(rt);
    unlink(runs);
    rmdir(f->tools);
    unsetenv(KILN_SANDBOX_RUNTIME_ENV);
    free(f);
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_runtime_select__runc_chosen_is_probed_once(void **state)
{
    struct fixture *f = *state;
    char *path = NULL, *note = NULL;
    struct kiln_error *e = NULL;
    double t0 = now_s();
    int r = kiln_sandbox_runtime_select("runc", f->dir, &path, &note, &e);
    double t1 = now_s();
    if (r < 0)
        fail_msg("runc chosen: %s", kiln_error_message(e, r));
    if (!ends_with(path, "/runc"))
        fail_msg("runc chosen gave '%s'", path);
    assert_null(note);
    free(path);
    assert_int_equal(kiln_sandbox_runtime_select("runc", f->dir, &path, NULL, &e), 0);
    double t2 = now_s();
    print_message("runc probe %.1f ms, kept answer %.3f ms\n", (t1 - t0) * 1e3, (t2 - t1) * 1e3);
    if (t2 - t1 > 0.005)
        fail_msg("a second selection took %.1f ms: the answer was not kept", (t2 - t1) * 1e3);
    free(path);
}

static void test_runtime_select__missing_runtime_is_named(void **state)
{
    struct fixture *f = *state;
    char *path = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_sandbox_runtime_select("kiln-no-such-runtime", f->dir, &path, NULL, &e);
    assert_int_equal(r, KILN_E_NOTFOUND);
    if (!strstr(e->message, "'kiln-no-such-runtime' not found") ||
        !strstr(e->message, "--oci-runtime"))
        fail_msg("missing runtime: '%s'", e->message);
    kiln_error_free(e);
    e = NULL;
    _cleanup_free_ char *plain = kiln_xasprintf("%s/refusing", f->tools);
    int fd = open(plain, O_WRONLY | O_CREAT | O_CLOEXEC, 0644); /* not executable */
    assert_true(fd >= 0);
    close(fd);
    r = kiln_sandbox_runtime_select(plain, f->dir, &path, NULL, &e);
    assert_int_equal(r, KILN_E_NOTFOUND);
    kiln_error_free(e);
}

/* Writes the refusing runtime; returns its path. */
static char *refusing(const struct fixture *f)
{
    char *rt = kiln_xasprintf("%s/refusing", f->tools);
    int fd = open(rt, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, refusing_runtime, sizeof(refusing_runtime) - 1),
                     (ssize_t)sizeof(refusing_runtime) - 1);
    close(fd);
    return rt;
}

static int runs_of(const struct fixture *f)
{
    _cleanup_free_ char *path = kiln_xasprintf("%s/runs", f->tools);
    struct kiln_buf b = KILN_BUF_INIT(4096);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int n = 0;
    if (fd >= 0 && kiln_buf_read_fd(&b, fd) >= 0)
        for (const char *p = b.buf; (p = strstr(p, "run")); p += 3)
            n++;
    if (fd >= 0)
        close(fd);
    kiln_buf_release(&b);
    return n;
}

static void test_runtime_select__refusing_runtime_fails_with_its_message(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *rt = refusing(f);
    char *path = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_sandbox_runtime_select(rt, f->dir, &path, NULL, &e);
    assert_int_equal(r, KILN_E_INVALID);
    if (!strstr(e->message, "cannot run a container on this host") ||
        !strstr(e->message, "no cgroups here") || !strstr(e->message, "--oci-runtime runc"))
        fail_msg("refusing runtime: '%s'", e->message);
    int runs = runs_of(f);
    kiln_error_free(e);
    e = NULL;
    /* the answer is kept: the runtime is not run again, the error is the same */
    assert_int_equal(kiln_sandbox_runtime_select(rt, f->dir, &path, NULL, &e), KILN_E_INVALID);
    assert_non_null(strstr(e->message, "no cgroups here"));
    kiln_error_free(e);
    if (runs_of(f) != runs)
        fail_msg("the refusing runtime ran %d times, then %d: the answer was not kept", runs,
                 runs_of(f));
}

static void test_runtime_select__environment_chooses_and_flag_wins(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *runc = NULL;
    assert_int_equal(kiln_sandbox_find_runtime("runc", &runc, NULL), 0);
    setenv(KILN_SANDBOX_RUNTIME_ENV, runc, 1);
    char *path = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_sandbox_runtime_select(NULL, f->dir, &path, NULL, &e);
    if (r < 0)
        fail_msg("%s=%s: %s", KILN_SANDBOX_RUNTIME_ENV, runc, kiln_error_message(e, r));
    assert_string_equal(path, runc);
    free(path);
    setenv(KILN_SANDBOX_RUNTIME_ENV, "kiln-no-such-runtime", 1);
    r = kiln_sandbox_runtime_select("runc", f->dir, &path, NULL, &e);
    assert_int_equal(r, 0); /* the explicit choice wins over the environment */
    free(path);
    r = kiln_sandbox_runtime_select(NULL, f->dir, &path, NULL, &e);
    assert_int_equal(r, KILN_E_NOTFOUND);
    kiln_error_free(e);
}

/* crun 1.8 refuses cgroups mounted hybrid: a tmpfs at /sys/fs/cgroup with v2 at unified/. */
static bool cgroups_hybrid(void)
{
    struct statfs fs;
    struct stat st;
    return statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == TMPFS_MAGIC &&
           stat("/sys/fs/cgroup/unified", &st) == 0;
}

static void test_runtime_select__crun_only_where_it_runs(void **state)
{
    struct fixture *f = *state;
    if (!have("crun")) {
        print_message("skipped: crun is not installed (apt-get install crun)\n");
        skip();
    }
    char *chosen = NULL, *path = NULL, *note = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_sandbox_runtime_select("crun", f->dir, &chosen, NULL, &e);
    assert_int_equal(kiln_sandbox_runtime_select(NULL, f->dir, &path, &note, NULL), 0);
    print_message("crun chosen: %s; no choice: %s (%s)\n", r < 0 ? e->message : "works", path,
                  note ? note : "no note");
    if (cgroups_hybrid() && r >= 0)
        fail_msg("crun ran a container on hybrid cgroups: is it newer than 1.8?");
    if (r >= 0) {
        assert_true(ends_with(path, "/crun"));
        assert_null(note);
    } else {
        assert_int_equal(r, KILN_E_INVALID);
        if (!strstr(e->message, "--oci-runtime runc") ||
            (cgroups_hybrid() && !strstr(e->message, "hybrid")))
            fail_msg("crun chosen: '%s' does not say what to do", e->message);
        assert_true(ends_with(path, "/runc"));
        if (!note || !strstr(note, "crun does not work on this host, using runc"))
            fail_msg("no choice: the fallback note is '%s'", note ? note : "(none)");
    }
    free(chosen);
    free(path);
    free(note);
    kiln_error_free(e);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(test_runtime_select__##name, setup, teardown)
    const struct CMUnitTest tests[] = {
            T(runc_chosen_is_probed_once),
            T(missing_runtime_is_named),
            T(refusing_runtime_fails_with_its_message),
            T(environment_chooses_and_flag_wins),
            T(crun_only_where_it_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
