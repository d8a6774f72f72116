/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-limits.c - a step's pids limit, disk and inode reserves: defaults
 * and the environment, the spec's pids limit, the guard on a small tmpfs,
 * and in a real runtime a fork bomb, a disk fill and a step making empty
 * files stopped with an error naming the limit. The runc cases skip when not root or runc / busybox
 * is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "expect.h"
#include "sandbox-test.h"
#include "sandbox/guard.h"
#include "sandbox/limits.h"
#include "sandbox/runtime.h"
#include "sandbox/sandbox.h"
#include "sandbox/spec.h"

#include "base/banned.h"

#define MIB      (1024LL * 1024)
#define FS_SIZE  "size=64m,nr_inodes=4096"
#define INODES   4096
#define RESERVE  (24 * MIB)
#define BUSYBOX  "/bin/busybox"
#define BOMB_MAX 64

static const char *const applets[] = {"sh", "dd", "sleep", "ls", "cat", "cut"};

/* A directory with a 64 MiB tmpfs at dir/fs (the rootfs) and state directories beside it. */
struct fixture {
    char dir[64];
    char *fs;
    int states;
};

/* Whether the fixture has its tmpfs and the runtime (NULL: the default) and busybox are installed.
 */
static bool can_run(const struct fixture *f, const char *runtime)
{
    if (!f->fs)
        return false;
    char *runc = NULL;
    struct kiln_error *e = NULL;
    bool ok = kiln_sandbox_find_runtime(runtime, &runc, &e) == 0 && access(BUSYBOX, X_OK) == 0;
    kiln_error_free(e);
    free(runc);
    return ok;
}

static int setup(void **state)
{
    struct fixture *f = kiln_xcalloc(1, sizeof(*f));
    *state = f;
    if (getuid() != 0)
        return 0; /* no tmpfs without root: f->fs stays NULL and the cases are left out */
    snprintf(f->dir, sizeof(f->dir), "/tmp/kiln-limits-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->fs = kiln_xasprintf("%s/fs", f->dir);
    assert_int_equal(mkdir(f->fs, 0755), 0);
    assert_int_equal(mount("tmpfs", f->fs, "tmpfs", 0, FS_SIZE), 0);
    return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->fs) {
        umount2(f->fs, MNT_DETACH);
        nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    free(f->fs);
    free(f);
    return 0;
}

static int64_t fs_avail(const char *path)
{
    struct statvfs fs;
    assert_int_equal(statvfs(path, &fs), 0);
    return (int64_t)fs.f_bavail * (int64_t)fs.f_frsize;
}

static void write_file(const char *path, int64_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    static char chunk[1 << 20];
    for (int64_t done = 0; done < size; done += (int64_t)sizeof(chunk))
        assert_int_equal(write(fd, chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
    close(fd);
}

static void test_limits__defaults_and_env(void **state)
{
    struct fixture *f = *state;
    if (!f->fs)
        LEAVE_OUT("a tmpfs needs root");
    struct kiln_sandbox_opts o = {.rootfs = f->fs}, got;
    struct kiln_error *e = NULL;
    unsetenv(KILN_SANDBOX_PIDS_ENV);
    unsetenv(KILN_SANDBOX_RESERVE_ENV);
    expect_ok(kiln_sandbox_limits_resolve(&o, &got, &e), &e);
    assert_int_equal(got.pids_max, KILN_SANDBOX_PIDS_DEFAULT);
    assert_int_equal(got.disk_reserve, KILN_SANDBOX_RESERVE_MIN); /* 5% of 64 MiB is less */

    setenv(KILN_SANDBOX_PIDS_ENV, "100", 1);
    setenv(KILN_SANDBOX_RESERVE_ENV, "25%", 1);
    expect_ok(kiln_sandbox_limits_resolve(&o, &got, &e), &e);
    assert_int_equal(got.pids_max, 100);
    assert_int_equal(got.disk_reserve, 16 * MIB);

    setenv(KILN_SANDBOX_PIDS_ENV, "0", 1);
    setenv(KILN_SANDBOX_RESERVE_ENV, "8MiB", 1);
    expect_ok(kiln_sandbox_limits_resolve(&o, &got, &e), &e);
    assert_int_equal(got.pids_max, -1);
    assert_int_equal(got.disk_reserve, 8 * MIB);

    setenv(KILN_SANDBOX_RESERVE_ENV, "0", 1);
    o.pids_max = 7; /* the caller's value wins over the environment */
    expect_ok(kiln_sandbox_limits_resolve(&o, &got, &e), &e);
    assert_int_equal(got.pids_max, 7);
    assert_int_equal(got.disk_reserve, -1);

    o.pids_max = 0;
    setenv(KILN_SANDBOX_PIDS_ENV, "many", 1);
    expect_fail(kiln_sandbox_limits_resolve(&o, &got, &e), &e, KILN_E_INVALID,
                KILN_SANDBOX_PIDS_ENV "='many'");
    unsetenv(KILN_SANDBOX_PIDS_ENV);
    for (size_t i = 0; i < 3; i++) {
        setenv(KILN_SANDBOX_RESERVE_ENV, (const char *[]){"lots", "150%", "-5%"}[i], 1);
        expect_fail(kiln_sandbox_limits_resolve(&o, &got, &e), &e, KILN_E_INVALID,
                    KILN_SANDBOX_RESERVE_ENV "=");
    }
    unsetenv(KILN_SANDBOX_RESERVE_ENV);

    /* inodes: 5% by default, a count or a percentage, 0 for none */
    unsetenv(KILN_SANDBOX_INODES_ENV);
    expect_ok(kiln_sandbox_limits_resolve(&o, &got, &e), &e);
    assert_int_equal(got.inode_reserve, INODES * 5 / 100);
    setenv(KILN_SANDBOX_INODES_ENV, "1000", 1);
    expect_ok(kiln_sandbox_limits_resolve(&o, &got, &e), &e);
    assert_int_equal(got.inode_reserve, 1000);
    setenv(KILN_SANDBOX_INODES_ENV, "50%", 1);
    expect_ok(kiln_sandbox_limits_resolve(&o, &got, &e), &e);
    assert_int_equal(got.inode_reserve, INODES / 2);
    setenv(KILN_SANDBOX_INODES_ENV, "0", 1);
    expect_ok(kiln_sandbox_limits_resolve(&o, &got, &e), &e);
    assert_int_equal(got.inode_reserve, -1);
    for (size_t i = 0; i < 3; i++) {
        setenv(KILN_SANDBOX_INODES_ENV, (const char *[]){"2GiB", "150%", "-5"}[i], 1);
        expect_fail(kiln_sandbox_limits_resolve(&o, &got, &e), &e, KILN_E_INVALID,
                    KILN_SANDBOX_INODES_ENV "=");
    }
    unsetenv(KILN_SANDBOX_INODES_ENV);

    /* memory: none by default (as BuildKit), a size or a percentage of the machine's */
    unsetenv(KILN_SANDBOX_MEMORY_ENV);
    expect_ok(kiln_sandbox_limits_resolve(&o, &got, &e), &e);
    assert_int_equal(got.memory_max, -1);
    setenv(KILN_SANDBOX_MEMORY_ENV, "64MiB", 1);
    expect_ok(kiln_sandbox_limits_resolve(&o, &got, &e), &e);
    assert_int_equal(got.memory_max, 64 * MIB);
    setenv(KILN_SANDBOX_MEMORY_ENV, "50%", 1);
    expect_ok(kiln_sandbox_limits_resolve(&o, &got, &e), &e);
    int64_t ram = (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    assert_true(got.memory_max >= ram / 2 - 100 && got.memory_max <= ram / 2 + 100);
    setenv(KILN_SANDBOX_MEMORY_ENV, "lots", 1);
    expect_fail(kiln_sandbox_limits_resolve(&o, &got, &e), &e, KILN_E_INVALID,
                KILN_SANDBOX_MEMORY_ENV "='lots'");
    unsetenv(KILN_SANDBOX_MEMORY_ENV);

    /* CPUs: none by default, a decimal count, 0 for none */
    unsetenv(KILN_SANDBOX_CPUS_ENV);
    expect_ok(kiln_sandbox_limits_resolve(&o, &got, &e), &e);
    assert_int_equal(got.cpu_millis, -1);
    setenv(KILN_SANDBOX_CPUS_ENV, "1.5", 1);
    expect_ok(kiln_sandbox_limits_resolve(&o, &got, &e), &e);
    assert_int_equal(got.cpu_millis, 1500);
    setenv(KILN_SANDBOX_CPUS_ENV, "0", 1);
    expect_ok(kiln_sandbox_limits_resolve(&o, &got, &e), &e);
    assert_int_equal(got.cpu_millis, -1);
    for (size_t i = 0; i < 4; i++) {
        setenv(KILN_SANDBOX_CPUS_ENV, (const char *[]){"two", "-1", "0.001", "5000"}[i], 1);
        expect_fail(kiln_sandbox_limits_resolve(&o, &got, &e), &e, KILN_E_INVALID,
                    KILN_SANDBOX_CPUS_ENV "=");
    }
    unsetenv(KILN_SANDBOX_CPUS_ENV);
}

static void test_limits__spec_pids(void **state)
{
    (void)state;
    const char *argv[] = {"true", NULL};
    struct kiln_sandbox_opts o = {.rootfs = "/r", .argv = argv, .cwd = "/", .pids_max = 4096};
    json_t *spec = kiln_sandbox_spec(&o, "/h", "/r");
    json_t *pids =
            json_object_get(json_object_get(json_object_get(spec, "linux"), "resources"), "pids");
    assert_int_equal(json_integer_value(json_object_get(pids, "limit")), 4096);
    json_decref(spec);
    o.pids_max = -1;
    spec = kiln_sandbox_spec(&o, "/h", "/r");
    assert_null(
            json_object_get(json_object_get(json_object_get(spec, "linux"), "resources"), "pids"));
    json_decref(spec);
}

static void test_limits__guard_disk(void **state)
{
    struct fixture *f = *state;
    if (!f->fs)
        LEAVE_OUT("a tmpfs needs root");
    const char *argv[] = {"dd", NULL};
    struct kiln_sandbox_opts o = {
            .rootfs = f->fs, .argv = argv, .pids_max = -1, .disk_reserve = RESERVE};
    struct kiln_sandbox_guard g;
    kiln_sandbox_guard_init(&g, &o, "/nonexistent/init.pid", 1);
    assert_false(kiln_sandbox_guard_check(&g, 1, false));
    _cleanup_free_ char *big = kiln_xasprintf("%s/big", f->fs);
    write_file(big, 48 * MIB);
    assert_false(kiln_sandbox_guard_check(&g, 2, false)); /* not due yet */
    assert_true(kiln_sandbox_guard_check(&g, 2 + KILN_SANDBOX_GUARD_NS, false));
    struct kiln_error *e = NULL;
    expect_fail(kiln_sandbox_guard_error(&g, &e), &e, KILN_E_LIMIT, "under the reserve of 25.17MB");
    kiln_sandbox_guard_release(&g);

    o.disk_reserve = -1; /* nothing to watch */
    kiln_sandbox_guard_init(&g, &o, "/nonexistent/init.pid", 1);
    assert_false(kiln_sandbox_guard_check(&g, 1, true));
    kiln_sandbox_guard_release(&g);
}

/* Options for a run in the tmpfs rootfs, which gets busybox and its applets on the first call. */
/* A step's stdout into a kiln_buf (userdata). */
static void collect(void *userdata, int stream, const char *data, size_t len)
{
    if (stream == 1)
        assert_int_equal(kiln_buf_add(userdata, data, len), 0);
}

static struct kiln_sandbox_opts run_opts(struct fixture *f, const char *const *argv)
{
    _cleanup_free_ char *bin = kiln_xasprintf("%s/bin", f->fs);
    if (access(bin, F_OK) != 0)
        busybox_rootfs(f->fs, BUSYBOX, applets, ELEMENTSOF(applets));
    char *st = kiln_xasprintf("%s/state-%d", f->dir, f->states++);
    assert_int_equal(mkdir(st, 0700), 0);
    static const char *const env[] = {"PATH=/bin", NULL};
    return (struct kiln_sandbox_opts){.rootfs = f->fs,
                                      .argv = argv,
                                      .env = env,
                                      .cwd = "/",
                                      .network = KILN_SANDBOX_NET_NONE,
                                      .state_dir = st,
                                      .cancel_fd = -1,
                                      .timeout_ns = 60 * 1000000000LL,
                                      .disk_reserve = RESERVE};
}

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A fork bomb in `runtime` stopped at a limit of 64; pid 1 stays, so only the limit ends it. */
static void fork_bomb(struct fixture *f, const char *runtime)
{
    const char *argv[] = {"/bin/sh", "-c", "b() { b | b & }; b; sleep 20", NULL};
    struct kiln_sandbox_opts o = run_opts(f, argv);
    o.runtime = runtime;
    o.pids_max = BOMB_MAX;
    o.timeout_ns = 15 * 1000000000LL;
    struct kiln_error *e = NULL;
    int code = -1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = kiln_sandbox_run(&o, &code, &e);
    double took = since(&t0);
    print_message("# fork bomb in %s stopped in %.2fs\n", runtime, took);
    expect_fail(r, &e, KILN_E_LIMIT, "process limit of 64");
    assert_true(took < 10);
    free((char *)o.state_dir);
}

static void test_limits__fork_bomb_runc(void **state)
{
    if (!can_run(*state, "runc"))
        LEAVE_OUT("runc, busybox-static or root is missing");
    fork_bomb(*state, "runc");
}

static void test_limits__fork_bomb_crun(void **state)
{
    struct fixture *f = *state;
    if (!can_run(f, "crun"))
        LEAVE_OUT("crun, busybox-static or root is missing");
    const char *argv[] = {"/bin/sh", "-c", "true", NULL};
    struct kiln_sandbox_opts o = run_opts(f, argv);
    o.runtime = "crun";
    struct kiln_error *e = NULL;
    int code, r = kiln_sandbox_run(&o, &code, &e);
    free((char *)o.state_dir);
    if (r < 0) { /* crun refuses some hosts (cgroup v1 with v2 controllers) */
        print_message("# left out: crun cannot run here: %s\n", kiln_error_message(e, r));
        kiln_error_free(e);
        return;
    }
    fork_bomb(f, "crun");
}

static void test_limits__disk_fill(void **state)
{
    struct fixture *f = *state;
    if (!can_run(f, NULL))
        LEAVE_OUT("runc, busybox-static or root is missing");
    const char *argv[] = {"/bin/sh", "-c", "dd if=/dev/zero of=/big bs=1M", NULL};
    struct kiln_sandbox_opts o = run_opts(f, argv);
    struct kiln_error *e = NULL;
    int code = -1;
    expect_fail(kiln_sandbox_run(&o, &code, &e), &e, KILN_E_LIMIT, "under the reserve of 25.17MB");
    free((char *)o.state_dir);

    /* a writer slower than the guard's look is killed while the disk still has room */
    _cleanup_free_ char *big = kiln_xasprintf("%s/big", f->fs);
    unlink(big);
    const char *slow[] = {"/bin/sh", "-c",
                          "while :; do dd if=/dev/zero bs=1M count=1 2>/dev/null; sleep 0.02; "
                          "done > /big",
                          NULL};
    o = run_opts(f, slow);
    expect_fail(kiln_sandbox_run(&o, &code, &e), &e, KILN_E_LIMIT, "killed");
    int64_t avail = fs_avail(f->fs);
    print_message("# slow writer stopped with %lld MiB free\n", (long long)(avail / MIB));
    assert_true(avail > RESERVE / 2);
    free((char *)o.state_dir);

    /* a step that leaves the space it needs runs as before */
    unlink(big);
    const char *small[] = {"/bin/sh", "-c", "dd if=/dev/zero of=/small bs=1M count=4", NULL};
    o = run_opts(f, small);
    expect_ok(kiln_sandbox_run(&o, &code, &e), &e);
    assert_int_equal(code, 0);
    free((char *)o.state_dir);
}

static void test_limits__inode_fill(void **state)
{
    struct fixture *f = *state;
    if (!can_run(f, NULL))
        LEAVE_OUT("a runtime, busybox-static or root is missing");
    /* empty files until the filesystem's inodes run low: stopped at the reserve (5%: 204) */
    const char *argv[] = {"/bin/sh", "-c", "i=0; while :; do : >/f$i || exit 3; i=$((i + 1)); done",
                          NULL};
    struct kiln_sandbox_opts o = run_opts(f, argv);
    struct kiln_error *e = NULL;
    int code = -1;
    expect_fail(kiln_sandbox_run(&o, &code, &e), &e, KILN_E_LIMIT,
                "inodes (files) free, under the reserve of 204");
    free((char *)o.state_dir);
}

static void test_limits__memory(void **state)
{
    struct fixture *f = *state;
    if (!can_run(f, NULL))
        LEAVE_OUT("a runtime, busybox-static or root is missing");
    /* dd's 128 MiB buffer under a 32 MiB limit: the kernel kills dd; the step fails on it after the
     * guard's look, and its error names the limit */
    const char *argv[] = {"/bin/sh", "-c",
                          "dd if=/dev/zero of=/dev/null bs=128M count=1 || { sleep 0.3; exit 7; }",
                          NULL};
    struct kiln_sandbox_opts o = run_opts(f, argv);
    o.memory_max = 32 * MIB;
    struct kiln_error *e = NULL;
    int code = -1;
    expect_fail(kiln_sandbox_run(&o, &code, &e), &e, KILN_E_LIMIT,
                "ran out of memory: the kernel killed a process of the step at its memory limit "
                "of 33.55MB, and the step failed (exit code: 7)");
    free((char *)o.state_dir);

    /* a step that lives on after the kill passes, as under Docker's limit */
    const char *lives[] = {"/bin/sh", "-c",
                           "dd if=/dev/zero of=/dev/null bs=128M count=1; sleep 0.3; echo on",
                           NULL};
    o = run_opts(f, lives);
    o.memory_max = 32 * MIB;
    expect_ok(kiln_sandbox_run(&o, &code, &e), &e);
    assert_int_equal(code, 0);
    free((char *)o.state_dir);

    const char *small[] = {"/bin/sh", "-c", "dd if=/dev/zero of=/dev/null bs=4M count=1", NULL};
    o = run_opts(f, small);
    o.memory_max = 32 * MIB;
    expect_ok(kiln_sandbox_run(&o, &code, &e), &e);
    assert_int_equal(code, 0);
    free((char *)o.state_dir);
}

/* KILN_RUN_CPUS=0.5: the step's cgroup holds a quota of half of each 100 ms period. */
static void test_limits__cpus(void **state)
{
    struct fixture *f = *state;
    if (!can_run(f, NULL))
        LEAVE_OUT("a runtime, busybox-static or root is missing");
    const char *argv[] = {"/bin/sh", "-c",
                          "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || "
                          "cut -d' ' -f1 /sys/fs/cgroup/cpu.max",
                          NULL};
    struct kiln_sandbox_opts o = run_opts(f, argv);
    o.cpu_millis = 500;
    struct kiln_buf out = KILN_BUF_INIT(4096);
    o.output = collect;
    o.output_userdata = &out;
    struct kiln_error *e = NULL;
    int code = -1;
    expect_ok(kiln_sandbox_run(&o, &code, &e), &e);
    assert_int_equal(code, 0);
    if (strncmp(out.buf ? out.buf : "", "50000\n", 6) != 0)
        fail_msg("the step's CPU quota is '%s', expected 50000", out.buf ? out.buf : "");
    kiln_buf_release(&out);
    free((char *)o.state_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_limits__defaults_and_env, setup, teardown),
            cmocka_unit_test(test_limits__spec_pids),
            cmocka_unit_test_setup_teardown(test_limits__guard_disk, setup, teardown),
            cmocka_unit_test_setup_teardown(test_limits__fork_bomb_runc, setup, teardown),
            cmocka_unit_test_setup_teardown(test_limits__fork_bomb_crun, setup, teardown),
            cmocka_unit_test_setup_teardown(test_limits__disk_fill, setup, teardown),
            cmocka_unit_test_setup_teardown(test_limits__inode_fill, setup, teardown),
            cmocka_unit_test_setup_teardown(test_limits__memory, setup, teardown),
            cmocka_unit_test_setup_teardown(test_limits__cpus, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
