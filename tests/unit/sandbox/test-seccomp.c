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
#include <signal.h>
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
#include "sandbox-test.h"
#include "sandbox/runtime-select.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp-bpf.h"
#include "sandbox/seccomp.h"
#include "sandbox/spec.h"

#include "base/banned.h"

extern char **environ;

#define HOST_BUSYBOX  "/bin/busybox"
#define ARM64_BUSYBOX "/usr/local/lib/kiln-test/busybox-arm64"
#define QEMU_BINFMT   "/proc/sys/fs/binfmt_misc/qemu-aarch64"

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
        {"personality_all_but_one", EPERM},
        {"io_uring_setup", EPERM},
        {"socket_vsock", EPERM},
        {"kcmp", EPERM},
        {"pidfd_getfd", EPERM},
        {"process_madvise", EPERM},
        {"syslog", EPERM},
};

/* ...and the work a build does, which must keep working. */
static const char *const works[] = {
        "fork",          "threads",        "posix_spawn",       "mmap",
        "file_io",       "socket_inet",    "personality_query", "personality_linux32",
        "adjtimex_read", "ptrace_traceme",
};

/* Docker's default profile allows these to a process with the sandbox's capabilities, whatever
   their arguments (chroot for CAP_SYS_CHROOT; ptrace and process_vm_* from kernel 4.8); the
   filter must refuse none of them. */
/* clang-format off */
static const char *const docker_allows[] = {
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
        "capset", "chdir", "chmod", "chown", "chown32", "chroot", "clock_adjtime",
        "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
        "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
        "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
        "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
        "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
        "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark",
        "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl",
        "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
        "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
        "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
        "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
        "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
        "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
        "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
        "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
        "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
        "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy",
        "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set",
        "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
        "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
        "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat",
        "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret",
        "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
        "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
        "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
        "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
        "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2",
        "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
        "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
        "prlimit64", "process_mrelease", "process_vm_readv", "process_vm_writev", "pselect6",
        "pselect6_time64", "ptrace", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
        "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
        "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
        "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
        "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
        "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
        "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
        "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
        "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
        "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
        "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid",
        "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid",
        "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
        "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid",
        "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr",
        "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4",
        "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64",
        "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
        "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
        "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
        "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
        "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat",
        "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid",
        "waitpid", "write", "writev",
        /* x86 */
        "arch_prctl", "modify_ldt",
        /* arm, arm64 */
        "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush",
        "set_tls",
};
/* clang-format on */

/* Decided by argument: the filter names them with conditions. */
static const char *const by_argument[] = {"clone", "clone3", "socket", "personality"};

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

static bool names_has(json_t *rule, const char *name)
{
    json_t *n;
    size_t i;
    json_array_foreach (json_object_get(rule, "names"), i, n) {
        if (strcmp(json_string_value(n), name) == 0)
            return true;
    }
    return false;
}

/* The errno the filter gives `name` called with first argument arg, as the kernel would judge
   it (every rule here compares argument 0 masked); 0 when it lets the call through. */
static int verdict(json_t *filter, const char *name, uint64_t arg)
{
    json_t *rule, *cmp;
    size_t i, j;
    json_array_foreach (json_object_get(filter, "syscalls"), i, rule) {
        if (!names_has(rule, name))
            continue;
        bool match = true;
        json_array_foreach (json_object_get(rule, "args"), j, cmp) {
            uint64_t mask = (uint64_t)json_integer_value(json_object_get(cmp, "value"));
            uint64_t want = (uint64_t)json_integer_value(json_object_get(cmp, "valueTwo"));
            match &= (arg & mask) == want;
        }
        if (match)
            return (int)json_integer_value(json_object_get(rule, "errnoRet"));
    }
    return 0;
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
    assert_string_equal(json_string_value(json_object_get(f, "defaultAction")), "SCMP_ACT_ALLOW");
    static const char *const arches[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                                         "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"};
    json_t *a = json_object_get(f, "architectures");
    assert_int_equal(json_array_size(a), ELEMENTSOF(arches));
    for (size_t i = 0; i < ELEMENTSOF(arches); i++)
        assert_string_equal(json_string_value(json_array_get(a, i)), arches[i]);
    /* each rule as the runtime reads it: names, an errno, args of index, value, valueTwo, op */
    json_t *rule, *arg;
    size_t i, j;
    json_array_foreach (json_object_get(f, "syscalls"), i, rule) {
        assert_true(json_array_size(json_object_get(rule, "names")) > 0);
        assert_string_equal(json_string_value(json_object_get(rule, "action")), "SCMP_ACT_ERRNO");
        assert_true(json_is_integer(json_object_get(rule, "errnoRet")));
        assert_true(json_array_size(json_object_get(rule, "args")) <= 1);
        json_array_foreach (json_object_get(rule, "args"), j, arg) {
            assert_int_equal(json_integer_value(json_object_get(arg, "index")), 0);
            assert_true(json_is_integer(json_object_get(arg, "value")));
            assert_true(json_is_integer(json_object_get(arg, "valueTwo")));
            assert_string_equal(json_string_value(json_object_get(arg, "op")),
                                "SCMP_CMP_MASKED_EQ");
        }
    }
    json_decref(spec);
}

static void test_seccomp__arguments_as_docker_decides(void **state)
{
    unsetenv(KILN_SANDBOX_SECCOMP_ENV);
    json_t *spec = spec_now();
    json_t *f = filter_of(spec);
    /* clone: a process or a thread, never a namespace */
    assert_int_equal(verdict(f, "clone", 0x11 /* SIGCHLD */), 0);
    assert_int_equal(verdict(f, "clone", 0x3d0f00 /* glibc's pthread_create */), 0);
    static const uint64_t ns[] = {0x20000,    0x2000000,  0x4000000, 0x8000000,
                                  0x10000000, 0x20000000, 0x40000000};
    for (size_t i = 0; i < ELEMENTSOF(ns); i++)
        if (verdict(f, "clone", ns[i] | 0x11) != EPERM)
            fail_msg("clone with flag 0x%llx is let through", (unsigned long long)ns[i]);
    assert_int_equal(verdict(f, "clone3", 0), ENOSYS);
    assert_int_equal(verdict(f, "unshare", 0), EPERM);
    assert_int_equal(verdict(f, "socket", 2 /* AF_INET */), 0);
    assert_int_equal(verdict(f, "socket", 40 /* AF_VSOCK */), EPERM);
    /* personality: exactly Docker's five values */
    static const uint64_t ok[] = {0, 0x8, 0x20000, 0x20008, 0xffffffff};
    for (size_t i = 0; i < ELEMENTSOF(ok); i++)
        assert_int_equal(verdict(f, "personality", ok[i]), 0);
    for (uint64_t b = 0; b < 32; b++) {
        uint64_t bit = 1ull << b, v = bit | 0x20008;
        if (v != 0x20008 && verdict(f, "personality", v) != EPERM)
            fail_msg("personality 0x%llx is let through", (unsigned long long)v);
        if (verdict(f, "personality", 0xffffffff & ~bit) != EPERM)
            fail_msg("personality 0x%llx is let through", (unsigned long long)(0xffffffff & ~bit));
    }
    json_decref(spec);
}

/* Each call of the kernel's tables (the system's linux headers: x86_64, i386, the generic
   table of arm64) is refused outright, decided by argument, or one Docker allows; a new
   kernel's call fails this test until it is put on one side. */
static void test_seccomp__every_kernel_call_is_decided(void **state)
{
    static const char *const tables[] = {"/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
                                         "/usr/include/x86_64-linux-gnu/asm/unistd_32.h",
                                         "/usr/include/aarch64-linux-gnu/asm/unistd.h",
                                         "/usr/include/asm-generic/unistd.h"};
    unsetenv(KILN_SANDBOX_SECCOMP_ENV);
    json_t *spec = spec_now();
    json_t *f = filter_of(spec);
    size_t seen = 0, files = 0;
    char line[512];
    for (size_t t = 0; t < ELEMENTSOF(tables); t++) {
        FILE *in = fopen(tables[t], "re");
        if (!in)
            continue;
        files++;
        while (fgets(line, sizeof(line), in)) {
            char name[128];
            if (sscanf(line, "#define __NR_%127[A-Za-z0-9_] ", name) != 1 ||
                strcmp(name, "syscalls") == 0 || strcmp(name, "arch_specific_syscall") == 0)
                continue;
            const char *n = strcmp(name, "llseek") == 0 ? "_llseek" : name; /* libseccomp's */
            bool allowed = false, argued = false;
            for (size_t i = 0; i < ELEMENTSOF(docker_allows); i++)
                allowed |= strcmp(n, docker_allows[i]) == 0;
            for (size_t i = 0; i < ELEMENTSOF(by_argument); i++)
                argued |= strcmp(n, by_argument[i]) == 0;
            int v = verdict(f, n, 0);
            if (allowed && v)
                fail_msg("'%s' is refused, where Docker allows it", n);
            if (!allowed && !argued && v != EPERM)
                fail_msg("'%s' (%s) is let through: refuse it or list it as allowed", n, tables[t]);
            seen++;
        }
        fclose(in);
    }
    json_decref(spec);
    if (!files)
        LEAVE_OUT("no linux headers (apt-get install linux-libc-dev)");
    print_message("# %zu calls of %zu tables decided\n", seen, files);
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
    assert_int_equal(verdict(filter_of(spec), "chroot", 0), 0); /* CAP_SYS_CHROOT's call */
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
    const char *runtime; /* NULL: the default choice */
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
    _cleanup_free_ char *tmp = kiln_xasprintf("%s/tmp", rootfs);
    busybox_rootfs(rootfs, busybox, applets, ELEMENTSOF(applets));
    assert_int_equal(mkdir(tmp, 01777), 0);
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
                                  .runtime = f->runtime,
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

/* The probe's every verdict under f->runtime. */
static void refuses_in(struct fixture *f)
{
    assert_int_equal(run_in(f, f->rootfs, (const char *const[]){"/bin/probe", NULL}), 0);
    assert_int_equal(probe_result(f, "seccomp_mode"), 2);
    for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
        int got = probe_result(f, refused[i].name);
        if (got != refused[i].err)
            fail_msg("%s: errno %d (%s), expected %d (%s)", refused[i].name, got, strerror(got),
                     refused[i].err, strerror(refused[i].err));
    }
#ifdef __x86_64__
    int i386 = probe_result(f, "unshare_newuser_i386"); /* the filter's X86 architecture */
    if (i386 == -SIGSEGV)
        print_message("# the kernel runs no i386 code: unshare through int 0x80 left out\n");
    else if (i386 != EPERM)
        fail_msg("unshare through the i386 ABI: errno %d (%s), expected EPERM", i386,
                 strerror(i386));
#endif
    for (size_t i = 0; i < ELEMENTSOF(works); i++) {
        int got = probe_result(f, works[i]);
        if (got != 0)
            fail_msg("%s failed under the filter: errno %d (%s)", works[i], got, strerror(got));
    }
}

/* runc compiles linux.seccomp itself */
static void test_seccomp__refuses_in_runc(void **state)
{
    struct fixture *f = *state;
    if (!f->runnable)
        LEAVE_OUT("%s", f->why);
    f->runtime = "runc";
    refuses_in(f);
}

/* crun loads kiln's own compilation of it (seccomp-bpf.h) */
static void test_seccomp__refuses_in_crun(void **state)
{
    struct fixture *f = *state;
    if (!f->runnable)
        LEAVE_OUT("%s", f->why);
    struct kiln_sandbox_runtime rt = {0};
    if (kiln_sandbox_runtime_select("crun", f->dir, &rt, NULL) < 0)
        LEAVE_OUT("crun is missing or cannot run here");
    kiln_sandbox_runtime_release(&rt);
    assert_non_null(kiln_sandbox_seccomp_bpf());
    f->runtime = "crun";
    refuses_in(f);
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
#ifdef __x86_64__
    int i386 = probe_result(f, "unshare_newuser_i386");
    assert_true(i386 == 0 || i386 == -SIGSEGV);
#endif
    assert_int_not_equal(probe_result(f, "clone3"), ENOSYS);
}

/* The builder's own toolchain, bound read-only into a rootfs of symlinks as on Debian 12
   (/bin -> usr/bin, ...): gcc, make, go, python, perl and dpkg work under the filter. */
static void test_seccomp__host_toolchain_works(void **state)
{
    struct fixture *f = *state;
    if (!f->runnable)
        LEAVE_OUT("%s", f->why);
    struct stat st;
    if (lstat("/bin", &st) < 0 || !S_ISLNK(st.st_mode) || access("/usr/bin/gcc", X_OK) < 0 ||
        access("/usr/bin/make", X_OK) < 0 || access("/usr/bin/python3", X_OK) < 0)
        LEAVE_OUT("the host is not a merged-/usr system with gcc, make and python3");
    _cleanup_free_ char *root = kiln_xasprintf("%s/host", f->dir);
    assert_int_equal(mkdir(root, 0755), 0);
    static const char *const links[][2] = {
            {"bin", "usr/bin"}, {"sbin", "usr/sbin"}, {"lib", "usr/lib"}, {"lib64", "usr/lib64"}};
    for (size_t i = 0; i < ELEMENTSOF(links); i++) {
        _cleanup_free_ char *l = kiln_xasprintf("%s/%s", root, links[i][0]);
        assert_int_equal(symlink(links[i][1], l), 0);
    }
    _cleanup_free_ char *tmp = kiln_xasprintf("%s/tmp", root);
    assert_int_equal(mkdir(tmp, 01777), 0);
    const struct kiln_sandbox_mount mounts[] = {
            {.source = "/usr", .target = "/usr", .readonly = true},
            {.source = "/var/lib/dpkg", .target = "/var/lib/dpkg", .readonly = true},
            {.source = "/etc/alternatives", .target = "/etc/alternatives", .readonly = true},
    };
    static const char *const env[] = {"PATH=/usr/local/bin:/usr/bin:/bin",
                                      "HOME=/tmp",
                                      "GOCACHE=/tmp/gocache",
                                      "GOPATH=/tmp/go",
                                      "GOFLAGS=",
                                      "GO111MODULE=off",
                                      NULL};
    const char *const script[] = {
            "/bin/sh", "-ec",
            "cd /tmp\n"
            "printf '#include <pthread.h>\\nstatic void *t(void *a){return a;}\\n"
            "int main(void){pthread_t p; pthread_create(&p,0,t,0); return pthread_join(p,0);}\\n'"
            " > t.c\n"
            "printf 'all: t\\nt: t.c\\n\\tgcc -O2 -pthread -o t t.c\\n' > Makefile\n"
            "make -s && ./t && echo gcc-make-ok\n"
            "python3 -c 'import concurrent.futures as f, subprocess, multiprocessing as m\n"
            "with f.ThreadPoolExecutor(4) as e: assert sum(e.map(abs, [-1, -2])) == 3\n"
            "with m.Pool(2) as p: assert p.map(abs, [-1]) == [1]\n"
            "subprocess.run([\"true\"], check=True); print(\"python-ok\")'\n"
            "perl -e 'my $p = fork; if ($p) { waitpid($p, 0); print \"perl-ok\\n\" } else { exit 0 "
            "}'\n"
            "dpkg -s dpkg | grep -q '^Status: install ok installed' && echo dpkg-ok\n"
            "if command -v go >/dev/null; then printf 'package main\\nfunc main() { "
            "println(\"go-ok\") }\\n'"
            " > h.go && go build -o h h.go && ./h 2>&1; fi\n",
            NULL};
    _cleanup_free_ char *state_dir = kiln_xasprintf("%s/state-%u", f->dir, f->runs++);
    assert_int_equal(mkdir(state_dir, 0700), 0);
    kiln_buf_reset(&f->out[0]);
    kiln_buf_reset(&f->out[1]);
    struct kiln_sandbox_opts o = {.rootfs = root,
                                  .argv = script,
                                  .env = env,
                                  .cwd = "/tmp",
                                  .mounts = mounts,
                                  .n_mounts = access("/etc/alternatives", F_OK) == 0 ? 3 : 2,
                                  .network = KILN_SANDBOX_NET_NONE,
                                  .state_dir = state_dir,
                                  .cancel_fd = -1,
                                  .output = collect,
                                  .output_userdata = f};
    struct kiln_error *e = NULL;
    int code = -1;
    int r = kiln_sandbox_run(&o, &code, &e);
    if (r < 0)
        fail_msg("kiln_sandbox_run: %s", kiln_error_message(e, r));
    const char *want = access("/usr/bin/go", X_OK) == 0
                               ? "gcc-make-ok\npython-ok\nperl-ok\ndpkg-ok\ngo-ok\n"
                               : "gcc-make-ok\npython-ok\nperl-ok\ndpkg-ok\n";
    _cleanup_free_ char *said = kiln_xstrdup(f->out[0].buf);
    for (char *c = said; (c = strchr(c, '\n'));)
        *c = ' ';
    print_message("# host toolchain under the filter: %s\n", said);
    if (code != 0 || strcmp(f->out[0].buf, want) != 0)
        fail_msg("exit %d; stdout:\n%s\nstderr:\n%s", code, f->out[0].buf, f->out[1].buf);
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
            T(arguments_as_docker_decides),
            T(every_kernel_call_is_decided),
            T(made_for_the_spec_capabilities),
            T(unconfined_for_the_operator),
            R(refuses_in_runc),
            R(refuses_in_crun),
            R(shell_work_and_busybox_unshare),
            R(unconfined_runs_without_it),
            R(host_toolchain_works),
            R(arm64_under_qemu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
