/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-seccomp.c - RUN's system call filter: the linux.seccomp section of
 * the spec, KILN_RUN_SECCOMP, and in real runc a static probe
 * (seccomp-probe.c, built here with cc -static) refused each dangerous call
 * while forks, threads, mmap, files and a shell pipeline still work.
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
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/cleanup.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"
#include "sandbox/spec.h"

#include "base/banned.h"

extern char **environ;

#define HOST_BUSYBOX  "/bin/busybox"
#define ARM64_BUSYBOX "/usr/local/lib/kiln-test/busybox-arm64"
#define QEMU_BINFMT   "/proc/sys/fs/binfmt_misc/qemu-aarch64"

/* A case that cannot run here passes with a # line saying why (a skip would read as a failure). */
#define LEAVE_OUT(...)                             \
    do {                                           \
        print_message("# left out: " __VA_ARGS__); \
        print_message("\n");                       \
        return;                                    \
    } while (0)

static const char *const test_argv[] = {"/bin/sh", "-c", "true", NULL};
static const char *const path_env[] = {"PATH=/bin", NULL};

/* What the probe must see under the filter: the errno of each refused call. */
static const struct {
    const char *name;
    int err;
} refused[] = {
        {"unshare_newuser", EPERM},
        {"unshare_newns", EPERM},
        {"clone_newuser", EPERM},
        {"clone_newns", EPERM},
        {"clone_newnet", EPERM},
        {"clone3", ENOSYS},
        {"setns", EPERM},
        {"keyctl", EPERM},
        {"add_key", EPERM},
        {"request_key", EPERM},
        {"bpf", EPERM},
        {"perf_event_open", EPERM},
        {"userfaultfd", EPERM},
        {"kexec_load", EPERM},
        {"kexec_file_load", EPERM},
        {"init_module", EPERM},
        {"finit_module", EPERM},
        {"delete_module", EPERM},
        {"open_by_handle_at", EPERM},
        {"mount", EPERM},
        {"umount2", EPERM},
        {"pivot_root", EPERM},
        {"fsopen", EPERM},
        {"swapon", EPERM},
        {"swapoff", EPERM},
        {"reboot", EPERM},
        {"acct", EPERM},
        {"settimeofday", EPERM},
        {"clock_settime", EPERM},
        {"adjtimex_set", EPERM}, /* allowed as by Docker; the kernel wants CAP_SYS_TIME */
        {"personality_read_implies_exec", EPERM},
        {"personality_addr_no_randomize", EPERM},
        {"io_uring_setup", EPERM},
        {"socket_vsock", EPERM},
        {"kcmp", EPERM},
        {"pidfd_getfd", EPERM},
        {"process_madvise", EPERM},
        {"syslog", EPERM},
};

/* ...and the work a build does, which must keep working. */
static const char *const works[] = {
        "fork",        "threads",           "posix_spawn",   "mmap",           "file_io",
        "socket_inet", "personality_query", "adjtimex_read", "ptrace_traceme",
};

static json_t *filter_of(json_t *spec)
{
    return json_object_get(json_object_get(spec, "linux"), "seccomp");
}

static json_t *spec_now(void)
{
    struct kiln_sandbox_opts o = {
            .rootfs = "/r", .argv = test_argv, .env = path_env, .cwd = "/", .state_dir = "/s"};
    return kiln_sandbox_spec(&o, "/s/hosts", "/s/resolv.conf");
}

/* The rules naming `name`, as a new array. */
static json_t *rules_for(json_t *filter, const char *name)
{
    json_t *out = json_array(), *rule, *n;
    size_t i, j;
    json_array_foreach (json_object_get(filter, "syscalls"), i, rule) {
        json_array_foreach (json_object_get(rule, "names"), j, n) {
            if (strcmp(json_string_value(n), name) == 0)
                json_array_append(out, rule);
        }
    }
    return out;
}

static void test_seccomp__spec_has_the_filter(void **state)
{
    unsetenv(KILN_SANDBOX_SECCOMP_ENV);
    json_t *spec = spec_now();
    json_t *f = filter_of(spec);
    assert_non_null(f);
    /* well-formed: it survives a round trip through text */
    char *text = json_dumps(f, JSON_COMPACT);
    json_t *again = json_loads(text, 0, NULL);
    assert_non_null(again);
    assert_true(json_equal(f, again));
    print_message("# linux.seccomp: %zu bytes, %zu rules\n", strlen(text),
                  json_array_size(json_object_get(f, "syscalls")));
    free(text);
    json_decref(again);
    assert_string_equal(json_string_value(json_object_get(f, "defaultAction")), "SCMP_ACT_ERRNO");
    assert_int_equal(json_integer_value(json_object_get(f, "defaultErrnoRet")), EPERM);
    static const char *const arches[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                                         "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"};
    json_t *a = json_object_get(f, "architectures");
    assert_int_equal(json_array_size(a), ELEMENTSOF(arches));
    for (size_t i = 0; i < ELEMENTSOF(arches); i++)
        assert_string_equal(json_string_value(json_array_get(a, i)), arches[i]);
    /* each rule as the runtime reads it: names, a known action, args with index, value, op */
    json_t *rule, *arg;
    size_t i, j;
    json_array_foreach (json_object_get(f, "syscalls"), i, rule) {
        assert_true(json_array_size(json_object_get(rule, "names")) > 0);
        const char *action = json_string_value(json_object_get(rule, "action"));
        assert_non_null(action);
        if (strcmp(action, "SCMP_ACT_ALLOW") != 0) {
            assert_string_equal(action, "SCMP_ACT_ERRNO");
            assert_true(json_is_integer(json_object_get(rule, "errnoRet")));
        }
        json_array_foreach (json_object_get(rule, "args"), j, arg) {
            assert_true(json_is_integer(json_object_get(arg, "index")));
            assert_true(json_is_integer(json_object_get(arg, "value")));
            assert_non_null(strstr(json_string_value(json_object_get(arg, "op")), "SCMP_CMP_"));
        }
    }
    json_decref(spec);
}

/* The refused calls are named by no rule, or only by a rule on their arguments. */
static void test_seccomp__rules_of_the_refused_calls(void **state)
{
    unsetenv(KILN_SANDBOX_SECCOMP_ENV);
    json_t *spec = spec_now();
    json_t *f = filter_of(spec);
    static const char *const never[] = {
            "unshare",
            "setns",
            "keyctl",
            "add_key",
            "request_key",
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "kexec_load",
            "kexec_file_load",
            "init_module",
            "finit_module",
            "delete_module",
            "open_by_handle_at",
            "mount",
            "umount2",
            "umount",
            "pivot_root",
            "fsopen",
            "fsmount",
            "move_mount",
            "open_tree",
            "swapon",
            "swapoff",
            "reboot",
            "acct",
            "settimeofday",
            "stime",
            "clock_settime",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "syslog",
            "sethostname",
            "quotactl",
            "lookup_dcookie",
            "iopl",
            "ioperm",
            "vhangup",
            "mbind",
            "set_mempolicy",
    };
    for (size_t i = 0; i < ELEMENTSOF(never); i++) {
        json_t *r = rules_for(f, never[i]);
        if (json_array_size(r) != 0)
            fail_msg("'%s' is named by a rule of the filter", never[i]);
        json_decref(r);
    }
    json_t *r = rules_for(f, "clone");
    assert_int_equal(json_array_size(r), 1);
    json_t *arg = json_array_get(json_object_get(json_array_get(r, 0), "args"), 0);
    assert_string_equal(json_string_value(json_object_get(arg, "op")), "SCMP_CMP_MASKED_EQ");
    assert_int_equal(json_integer_value(json_object_get(arg, "index")), 0);
    assert_int_equal(json_integer_value(json_object_get(arg, "value")), 0x7E020000);
    assert_int_equal(json_integer_value(json_object_get(arg, "valueTwo")), 0);
    json_decref(r);
    r = rules_for(f, "clone3");
    assert_int_equal(json_array_size(r), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 0), "errnoRet")), ENOSYS);
    json_decref(r);
    r = rules_for(f, "personality");
    assert_int_equal(json_array_size(r), 5); /* one value each */
    json_decref(r);
    r = rules_for(f, "socket");
    assert_int_equal(json_array_size(r), 1);
    arg = json_array_get(json_object_get(json_array_get(r, 0), "args"), 0);
    assert_string_equal(json_string_value(json_object_get(arg, "op")), "SCMP_CMP_NE");
    assert_int_equal(json_integer_value(json_object_get(arg, "value")), 40);
    json_decref(r);
    json_decref(spec);
}

/* The filter is Docker's for these capabilities: a change to them must revisit seccomp.c. */
static void test_seccomp__made_for_the_spec_capabilities(void **state)
{
    json_t *spec = spec_now();
    json_t *caps = json_object_get(
            json_object_get(json_object_get(spec, "process"), "capabilities"), "bounding");
    static const char *const expected[] = {
            "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
            "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
            "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
            "CAP_KILL",    "CAP_AUDIT_WRITE",
    };
    assert_int_equal(json_array_size(caps), ELEMENTSOF(expected));
    for (size_t i = 0; i < ELEMENTSOF(expected); i++)
        assert_string_equal(json_string_value(json_array_get(caps, i)), expected[i]);
    json_t *r = rules_for(filter_of(spec), "chroot"); /* CAP_SYS_CHROOT's call */
    assert_int_equal(json_array_size(r), 1);
    json_decref(r);
    json_decref(spec);
}

static void test_seccomp__unconfined_for_the_operator(void **state)
{
    struct kiln_error *e = NULL;
    setenv(KILN_SANDBOX_SECCOMP_ENV, "unconfined", 1);
    json_t *spec = spec_now();
    assert_null(filter_of(spec));
    assert_non_null(json_object_get(spec, "linux"));
    json_decref(spec);
    assert_int_equal(kiln_sandbox_seccomp_check(&e), 0);
    static const char *const on[] = {"", "default"};
    for (size_t i = 0; i < ELEMENTSOF(on); i++) {
        setenv(KILN_SANDBOX_SECCOMP_ENV, on[i], 1);
        assert_int_equal(kiln_sandbox_seccomp_check(&e), 0);
        spec = spec_now();
        assert_non_null(filter_of(spec));
        json_decref(spec);
    }
    setenv(KILN_SANDBOX_SECCOMP_ENV, "unconfine", 1);
    spec = spec_now(); /* a misspelt way out filters all the same */
    assert_non_null(filter_of(spec));
    json_decref(spec);
    assert_int_equal(kiln_sandbox_seccomp_check(&e), KILN_E_INVALID);
    assert_non_null(strstr(kiln_error_message(e, KILN_E_INVALID), "KILN_RUN_SECCOMP='unconfine'"));
    assert_non_null(strstr(kiln_error_message(e, KILN_E_INVALID), "'unconfined'"));
    /* and a run refuses it before anything starts */
    struct kiln_sandbox_opts o = {.rootfs = "/nonexistent",
                                  .argv = test_argv,
                                  .env = path_env,
                                  .cwd = "/",
                                  .state_dir = "/nonexistent",
                                  .cancel_fd = -1};
    int code;
    assert_int_equal(kiln_sandbox_run(&o, &code, &e), KILN_E_INVALID);
    assert_non_null(strstr(kiln_error_message(e, KILN_E_INVALID), "KILN_RUN_SECCOMP"));
    kiln_error_free(e);
    unsetenv(KILN_SANDBOX_SECCOMP_ENV);
}

/* --- in runc ---------------------------------------------------------------------------- */

struct fixture {
    char dir[64];
    char *rootfs;
    unsigned runs;
    struct kiln_buf out[2];
    bool runnable;
    char why[128];
};

/* Runs argv on the host; 0 when it exited 0. */
static int host_run(const char *const *argv)
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int status;
    if (r != 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* seccomp-probe.c beside this file: __FILE__ is relative to the build directory under meson. */
static char *probe_source(void)
{
    const char *root = getenv("KILN_BUILD_ROOT");
    _cleanup_free_ char *self = __FILE__[0] == '/' || !root
                                        ? kiln_xstrdup(__FILE__)
                                        : kiln_xasprintf("%s/%s", root, __FILE__);
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    return kiln_xasprintf("%s/seccomp-probe.c", slash ? self : ".");
}

static void install_busybox(const char *rootfs, const char *busybox)
{
    static const char *const applets[] = {"sh", "true", "echo", "tr", "sort", "wc", "unshare"};
    _cleanup_free_ char *bin = kiln_xasprintf("%s/bin", rootfs);
    _cleanup_free_ char *tmp = kiln_xasprintf("%s/tmp", rootfs);
    assert_int_equal(mkdir(bin, 0755), 0);
    assert_int_equal(mkdir(tmp, 01777), 0);
    _cleanup_free_ char *bb = kiln_xasprintf("%s/busybox", bin);
    assert_int_equal(host_run((const char *const[]){"cp", busybox, bb, NULL}), 0);
    for (size_t i = 0; i < ELEMENTSOF(applets); i++) {
        _cleanup_free_ char *link = kiln_xasprintf("%s/%s", bin, applets[i]);
        assert_int_equal(symlink("busybox", link), 0);
    }
}

static int setup(void **state)
{
    struct fixture *f = kiln_xcalloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/kiln-seccomp-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->rootfs = kiln_xasprintf("%s/rootfs", f->dir);
    assert_int_equal(mkdir(f->rootfs, 0755), 0);
    kiln_buf_init(&f->out[0], 1 << 20);
    kiln_buf_init(&f->out[1], 1 << 20);
    unsetenv(KILN_SANDBOX_SECCOMP_ENV);
    *state = f;
    if (geteuid() != 0 || host_run((const char *const[]){"runc", "--version", NULL}) < 0 ||
        access(HOST_BUSYBOX, X_OK) < 0) {
        snprintf(f->why, sizeof(f->why), "root, runc or busybox-static is missing");
        return 0;
    }
    install_busybox(f->rootfs, HOST_BUSYBOX);
    _cleanup_free_ char *src = probe_source();
    _cleanup_free_ char *probe = kiln_xasprintf("%s/bin/probe", f->rootfs);
    const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
    if (host_run((const char *const[]){cc, "-static", "-O1", "-pthread", "-o", probe, src, NULL}) <
        0) {
        snprintf(f->why, sizeof(f->why), "'%s -static' cannot build %s", cc, src);
        return 0;
    }
    f->runnable = true;
    return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    kiln_buf_release(&f->out[0]);
    kiln_buf_release(&f->out[1]);
    free(f->rootfs);
    free(f);
    unsetenv(KILN_SANDBOX_SECCOMP_ENV);
    return 0;
}

static void collect(void *userdata, int stream, const char *data, size_t len)
{
    struct fixture *f = userdata;
    assert_int_equal(kiln_buf_add(&f->out[stream - 1], data, len), 0);
}

/* Runs argv in the sandbox with a fresh state directory; returns its exit code. */
static int run_in(struct fixture *f, const char *rootfs, const char *const *argv)
{
    _cleanup_free_ char *state = kiln_xasprintf("%s/state-%u", f->dir, f->runs++);
    assert_int_equal(mkdir(state, 0700), 0);
    kiln_buf_reset(&f->out[0]);
    kiln_buf_reset(&f->out[1]);
    struct kiln_sandbox_opts o = {.rootfs = rootfs,
                                  .argv = argv,
                                  .env = path_env,
                                  .cwd = "/",
                                  .network = KILN_SANDBOX_NET_NONE,
                                  .state_dir = state,
                                  .cancel_fd = -1,
                                  .output = collect,
                                  .output_userdata = f};
    struct kiln_error *e = NULL;
    int code = -1;
    int r = kiln_sandbox_run(&o, &code, &e);
    if (r < 0)
        fail_msg("kiln_sandbox_run: %s", kiln_error_message(e, r));
    return code;
}

/* The errno the probe printed for `name`; fails when it printed none. */
static int probe_result(struct fixture *f, const char *name)
{
    _cleanup_free_ char *key = kiln_xasprintf("%s ", name);
    for (const char *p = f->out[0].buf; p && *p;) {
        if (strncmp(p, key, strlen(key)) == 0)
            return (int)strtol(p + strlen(key), NULL, 10);
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    fail_msg("the probe printed no '%s': %s%s", name, f->out[0].buf, f->out[1].buf);
    return -1;
}

static void test_seccomp__refuses_in_runc(void **state)
{
    struct fixture *f = *state;
    if (!f->runnable)
        LEAVE_OUT("%s", f->why);
    assert_int_equal(run_in(f, f->rootfs, (const char *const[]){"/bin/probe", NULL}), 0);
    assert_int_equal(probe_result(f, "seccomp_mode"), 2);
    for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
        int got = probe_result(f, refused[i].name);
        if (got != refused[i].err)
            fail_msg("%s: errno %d (%s), expected %d (%s)", refused[i].name, got, strerror(got),
                     refused[i].err, strerror(refused[i].err));
    }
    for (size_t i = 0; i < ELEMENTSOF(works); i++) {
        int got = probe_result(f, works[i]);
        if (got != 0)
            fail_msg("%s failed under the filter: errno %d (%s)", works[i], got, strerror(got));
    }
}

static void test_seccomp__shell_work_and_busybox_unshare(void **state)
{
    struct fixture *f = *state;
    if (!f->runnable)
        LEAVE_OUT("%s", f->why);
    const char *const pipeline[] = {
            "/bin/sh", "-c", "echo c b a | tr ' ' '\\n' | sort | tr -d '\\n'; (true &); wait",
            NULL};
    assert_int_equal(run_in(f, f->rootfs, pipeline), 0);
    assert_string_equal(f->out[0].buf, "abc");
    int code = run_in(f, f->rootfs, (const char *const[]){"/bin/unshare", "-U", "true", NULL});
    print_message("# unshare -U true: exit %d: %s", code, f->out[1].buf);
    assert_int_not_equal(code, 0);
    assert_non_null(strstr(f->out[1].buf, "not permitted"));
}

/* Without the filter the same probe makes a user namespace: the filter is what refuses. */
static void test_seccomp__unconfined_runs_without_it(void **state)
{
    struct fixture *f = *state;
    if (!f->runnable)
        LEAVE_OUT("%s", f->why);
    setenv(KILN_SANDBOX_SECCOMP_ENV, "unconfined", 1);
    assert_int_equal(run_in(f, f->rootfs, (const char *const[]){"/bin/probe", NULL}), 0);
    assert_int_equal(probe_result(f, "seccomp_mode"), 0);
    assert_int_equal(probe_result(f, "unshare_newuser"), 0);
    assert_int_not_equal(probe_result(f, "clone3"), ENOSYS);
}

/* arm64 under qemu-user: the filter sees qemu's host calls and refuses the guest's unshare. */
static void test_seccomp__arm64_under_qemu(void **state)
{
    struct fixture *f = *state;
    const char *bb = getenv("KILN_ARM64_BUSYBOX") && *getenv("KILN_ARM64_BUSYBOX")
                             ? getenv("KILN_ARM64_BUSYBOX")
                             : ARM64_BUSYBOX;
    if (!f->runnable)
        LEAVE_OUT("%s", f->why);
    if (access(bb, R_OK) < 0 || access(QEMU_BINFMT, F_OK) < 0)
        LEAVE_OUT("no arm64 busybox at %s or no qemu-aarch64 in binfmt_misc", bb);
    _cleanup_free_ char *arm = kiln_xasprintf("%s/arm64", f->dir);
    assert_int_equal(mkdir(arm, 0755), 0);
    install_busybox(arm, bb);
    const char *const pipeline[] = {"/bin/sh", "-c", "echo c b a | tr ' ' '\\n' | sort | wc -l",
                                    NULL};
    assert_int_equal(run_in(f, arm, pipeline), 0);
    assert_string_equal(f->out[0].buf, "3\n");
    int code = run_in(f, arm, (const char *const[]){"/bin/unshare", "-U", "true", NULL});
    print_message("# arm64 unshare -U true: exit %d: %s", code, f->out[1].buf);
    assert_int_not_equal(code, 0);
    assert_non_null(strstr(f->out[1].buf, "not permitted"));
}

int main(void)
{
#define T(name) cmocka_unit_test(test_seccomp__##name)
#define R(name) cmocka_unit_test_setup_teardown(test_seccomp__##name, setup, teardown)
    const struct CMUnitTest tests[] = {
            T(spec_has_the_filter),
            T(rules_of_the_refused_calls),
            T(made_for_the_spec_capabilities),
            T(unconfined_for_the_operator),
            R(refuses_in_runc),
            R(shell_work_and_busybox_unshare),
            R(unconfined_runs_without_it),
            R(arm64_under_qemu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
