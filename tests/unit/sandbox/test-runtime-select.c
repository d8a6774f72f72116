/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-runtime-select.c - the OCI runtime choice: an explicit one probed
 * with a trivial container (runc; a runtime that refuses; one missing), the
 * environment's choice, the answer kept for the process, and crun, run
 * with cgroup2 hidden on hybrid hosts, preferred without a choice (skipped
 * when crun is not installed).
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
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "sandbox/helper-spawn.h"
#include "sandbox/runtime-select.h"
#include "sandbox/runtime.h"

#include "base/banned.h"

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
    struct kiln_sandbox_runtime rt = {0};
    struct kiln_error *e = NULL;
    double t0 = now_s();
    int r = kiln_sandbox_runtime_select("runc", f->dir, &rt, &e);
    double t1 = now_s();
    if (r < 0)
        fail_msg("runc chosen: %s", kiln_error_message(e, r));
    if (!ends_with(rt.path, "/runc"))
        fail_msg("runc chosen gave '%s'", rt.path);
    assert_null(rt.note);
    assert_false(rt.v1_view); /* runc runs on hybrid hosts as they are */
    kiln_sandbox_runtime_release(&rt);
    assert_int_equal(kiln_sandbox_runtime_select("runc", f->dir, &rt, &e), 0);
    double t2 = now_s();
    print_message("runc probe %.1f ms, kept answer %.3f ms\n", (t1 - t0) * 1e3, (t2 - t1) * 1e3);
    if (t2 - t1 > 0.005)
        fail_msg("a second selection took %.1f ms: the answer was not kept", (t2 - t1) * 1e3);
    kiln_sandbox_runtime_release(&rt);
}

static void test_runtime_select__missing_runtime_is_named(void **state)
{
    struct fixture *f = *state;
    struct kiln_sandbox_runtime rt = {0};
    struct kiln_error *e = NULL;
    int r = kiln_sandbox_runtime_select("kiln-no-such-runtime", f->dir, &rt, &e);
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
    r = kiln_sandbox_runtime_select(plain, f->dir, &rt, &e);
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
    struct kiln_sandbox_runtime sel = {0};
    struct kiln_error *e = NULL;
    int r = kiln_sandbox_runtime_select(rt, f->dir, &sel, &e);
    assert_int_equal(r, KILN_E_INVALID);
    if (!strstr(e->message, "cannot run a container on this host") ||
        !strstr(e->message, "no cgroups here") || !strstr(e->message, "--oci-runtime runc"))
        fail_msg("refusing runtime: '%s'", e->message);
    int runs = runs_of(f);
    kiln_error_free(e);
    e = NULL;
    /* the answer is kept: the runtime is not run again, the error is the same */
    assert_int_equal(kiln_sandbox_runtime_select(rt, f->dir, &sel, &e), KILN_E_INVALID);
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
    struct kiln_sandbox_runtime rt = {0};
    struct kiln_error *e = NULL;
    int r = kiln_sandbox_runtime_select(NULL, f->dir, &rt, &e);
    if (r < 0)
        fail_msg("%s=%s: %s", KILN_SANDBOX_RUNTIME_ENV, runc, kiln_error_message(e, r));
    assert_string_equal(rt.path, runc);
    kiln_sandbox_runtime_release(&rt);
    setenv(KILN_SANDBOX_RUNTIME_ENV, "kiln-no-such-runtime", 1);
    r = kiln_sandbox_runtime_select("runc", f->dir, &rt, &e);
    assert_int_equal(r, 0); /* the explicit choice wins over the environment */
    kiln_sandbox_runtime_release(&rt);
    r = kiln_sandbox_runtime_select(NULL, f->dir, &rt, &e);
    assert_int_equal(r, KILN_E_NOTFOUND);
    kiln_error_free(e);
}

/* kilnd's decision reaches its workers: taken without a probe; an explicit choice is probed. */
static void test_runtime_select__known_decision_is_taken_unprobed(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *rt = refusing(f);
    _cleanup_free_ char *known = kiln_xasprintf("v1 %s", rt);
    setenv(KILN_SANDBOX_RUNTIME_ENV, rt, 1);
    setenv(KILN_SANDBOX_RUNTIME_KNOWN_ENV, known, 1);
    struct kiln_sandbox_runtime sel = {0};
    struct kiln_error *e = NULL;
    int r = kiln_sandbox_runtime_select(NULL, f->dir, &sel, &e);
    if (r < 0)
        fail_msg("%s='%s': %s", KILN_SANDBOX_RUNTIME_KNOWN_ENV, known, kiln_error_message(e, r));
    assert_string_equal(sel.path, rt);
    assert_true(sel.v1_view);
    kiln_sandbox_runtime_release(&sel);
    assert_int_equal(runs_of(f), 0); /* not probed */
    /* the same runtime chosen explicitly is probed, and refuses */
    assert_int_equal(kiln_sandbox_runtime_select(rt, f->dir, &sel, &e), KILN_E_INVALID);
    kiln_error_free(e);
    e = NULL;
    assert_int_equal(runs_of(f) > 0, true);
    /* a malformed decision is ignored: the environment's choice is probed as ever */
    setenv(KILN_SANDBOX_RUNTIME_KNOWN_ENV, "bogus", 1);
    assert_int_equal(kiln_sandbox_runtime_select(NULL, f->dir, &sel, &e), KILN_E_INVALID);
    kiln_error_free(e);
    unsetenv(KILN_SANDBOX_RUNTIME_KNOWN_ENV);
    /* export writes what select takes back */
    struct kiln_sandbox_runtime out = {.path = (char *)"/usr/bin/x", .v1_view = false};
    assert_int_equal(kiln_sandbox_runtime_export(&out), 0);
    assert_string_equal(getenv(KILN_SANDBOX_RUNTIME_KNOWN_ENV), "host /usr/bin/x");
    unsetenv(KILN_SANDBOX_RUNTIME_KNOWN_ENV);
}

/*
 * crun 1.8 refuses cgroups mounted hybrid (a tmpfs at /sys/fs/cgroup, v2 at
 * unified/): there it runs with cgroup2 hidden, and is preferred all the same.
 */
static void test_runtime_select__crun_runs_with_cgroup2_hidden_on_hybrid_hosts(void **state)
{
    struct fixture *f = *state;
    if (!have("crun")) {
        print_message("skipped: crun is not installed (apt-get install crun)\n");
        skip();
    }
    struct kiln_sandbox_runtime chosen = {0}, none = {0};
    struct kiln_error *e = NULL;
    int r = kiln_sandbox_runtime_select("crun", f->dir, &chosen, &e);
    if (r < 0)
        fail_msg("crun chosen: %s", kiln_error_message(e, r));
    assert_int_equal(kiln_sandbox_runtime_select(NULL, f->dir, &none, NULL), 0);
    print_message("crun chosen: v1 view %d (%s); no choice: %s\n", chosen.v1_view,
                  chosen.note ? chosen.note : "no note", none.path);
    assert_true(ends_with(chosen.path, "/crun"));
    assert_true(ends_with(none.path, "/crun"));
    assert_int_equal(none.v1_view, chosen.v1_view);
    /* crun 1.8 needs the view exactly where cgroups are hybrid */
    assert_int_equal(chosen.v1_view, kiln_sandbox_cgroups_hybrid());
    if (chosen.v1_view && (!chosen.note || !strstr(chosen.note, "hidden")))
        fail_msg("crun with cgroup2 hidden: the note is '%s'", chosen.note ? chosen.note : "");
    kiln_sandbox_runtime_release(&chosen);
    kiln_sandbox_runtime_release(&none);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(test_runtime_select__##name, setup, teardown)
    const struct CMUnitTest tests[] = {
            T(runc_chosen_is_probed_once),
            T(missing_runtime_is_named),
            T(refusing_runtime_fails_with_its_message),
            T(environment_chooses_and_flag_wins),
            T(known_decision_is_taken_unprobed),
            T(crun_runs_with_cgroup2_hidden_on_hybrid_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
