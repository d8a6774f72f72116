/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-sandbox.c - RUN in real runc on a busybox rootfs: exit codes, output,
 * env, cwd, user, network modes, timeout and cancel, and a rootfs left as
 * the process left it. Skips when not root or runc / busybox is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/strv.h"
#include "sandbox-test.h"
#include "sandbox/sandbox.h"

#include "base/banned.h"

extern char **environ;

#define HOST_BUSYBOX "/bin/busybox"
/* An arm64 busybox-static; KILN_ARM64_BUSYBOX names another (docs/internals/sandbox.md). */
#define ARM64_BUSYBOX "/usr/local/lib/kiln-test/busybox-arm64"
#define QEMU_BINFMT   "/proc/sys/fs/binfmt_misc/qemu-aarch64"

static const char *const applets[] = {"sh",  "env",  "id",   "pwd",   "sleep", "true",  "ls",
                                      "cat", "echo", "kill", "uname", "touch", "mkdir", "ip"};

struct fixture {
    char dir[64]; /* holds rootfs/ and one state directory per run */
    char *rootfs;
    struct kiln_strv states;
    struct kiln_buf out[2];
};

/* Runs argv on the host and returns its stdout (NULL when it could not run). */
static char *host_output(const char *const *argv)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    pid_t pid;
    int r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (r != 0) {
        close(p[0]);
        return NULL;
    }
    struct kiln_buf b = KILN_BUF_INIT(1 << 20);
    char chunk[4096];
    ssize_t n;
    while ((n = read(p[0], chunk, sizeof(chunk))) > 0)
        assert_int_equal(kiln_buf_add(&b, chunk, (size_t)n), 0);
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    return kiln_buf_detach(&b, NULL);
}

/* Whether runc still lists a container whose bundle lies in `dir`. */
static bool container_left(const char *dir)
{
    _cleanup_free_ char *text =
            host_output((const char *const[]){"runc", "list", "--format", "json", NULL});
    json_t *list = json_loads(text ? text : "null", JSON_DECODE_ANY, NULL);
    bool left = false;
    for (size_t i = 0; i < json_array_size(list); i++)
        left |= strncmp(json_string_value(json_object_get(json_array_get(list, i), "bundle")), dir,
                        strlen(dir)) == 0;
    json_decref(list);
    return left;
}

/* A rootfs of `busybox` alone: /bin/busybox, applet links, nothing else. */
static void make_rootfs(const char *rootfs, const char *busybox)
{
    busybox_rootfs(rootfs, busybox, applets, ELEMENTSOF(applets));
}

static const char *arm64_busybox(void)
{
    const char *p = getenv("KILN_ARM64_BUSYBOX");
    return p && *p ? p : ARM64_BUSYBOX;
}

static int setup(void **state)
{
    struct fixture *f = kiln_xcalloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/kiln-sandbox-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->rootfs = kiln_xasprintf("%s/rootfs", f->dir);
    f->states = (struct kiln_strv)KILN_STRV_INIT;
    assert_int_equal(mkdir(f->rootfs, 0755), 0);
    make_rootfs(f->rootfs, HOST_BUSYBOX);
    kiln_buf_init(&f->out[0], 1 << 20);
    kiln_buf_init(&f->out[1], 1 << 20);
    *state = f;
    return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    bool left = container_left(f->dir);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    kiln_buf_release(&f->out[0]);
    kiln_buf_release(&f->out[1]);
    free(f->rootfs);
    kiln_strv_release(&f->states);
    free(f);
    if (left)
        fail_msg("runc still lists a container of this test");
    return 0;
}

static void collect(void *userdata, int stream, const char *data, size_t len)
{
    struct fixture *f = userdata;
    assert_true(stream == 1 || stream == 2);
    assert_int_equal(kiln_buf_add(&f->out[stream - 1], data, len), 0);
}

static const char *const default_env[] = {"PATH=/bin", NULL};

/* Options for one run, with a fresh state directory of its own. */
static struct kiln_sandbox_opts opts(struct fixture *f, const char *const *argv)
{
    char *state = kiln_xasprintf("%s/state-%zu", f->dir, f->states.n);
    assert_int_equal(mkdir(state, 0700), 0);
    kiln_strv_take(&f->states, state);
    return (struct kiln_sandbox_opts){.rootfs = f->rootfs,
                                      .argv = argv,
                                      .env = default_env,
                                      .cwd = "/",
                                      .network = KILN_SANDBOX_NET_NONE,
                                      .state_dir = state,
                                      .cancel_fd = -1,
                                      .output = collect,
                                      .output_userdata = f};
}

/* Runs o and returns the exit code; fails the test on an error. */
static int run_ok(const struct kiln_sandbox_opts *o)
{
    struct kiln_error *e = NULL;
    int code = -1;
    int r = kiln_sandbox_run(o, &code, &e);
    if (r < 0)
        fail_msg("kiln_sandbox_run: %s", kiln_error_message(e, r));
    return code;
}

#define SH(...) ((const char *const[]){"/bin/sh", "-c", __VA_ARGS__, NULL})

static void test_sandbox__exit_codes(void **state)
{
    struct fixture *f = *state;
    struct kiln_sandbox_opts o = opts(f, SH("exit 0"));
    assert_int_equal(run_ok(&o), 0);
    o = opts(f, SH("exit 3"));
    assert_int_equal(run_ok(&o), 3);
    /* The container's pid 1 ignores signals sent from inside: kill a child of it. */
    o = opts(f, SH("sleep 1000 & kill -9 $!; wait $!"));
    assert_int_equal(run_ok(&o), 128 + 9);
}

static void test_sandbox__output_streams(void **state)
{
    struct fixture *f = *state;
    struct kiln_sandbox_opts o = opts(f, SH("echo out; echo err >&2; echo more"));
    assert_int_equal(run_ok(&o), 0);
    assert_string_equal(f->out[0].buf, "out\nmore\n");
    assert_string_equal(f->out[1].buf, "err\n");
}

static void test_sandbox__env_exactly_as_given(void **state)
{
    struct fixture *f = *state;
    static const char *const env[] = {"PATH=/bin", "A=1 2", "HOME=/nowhere", NULL};
    struct kiln_sandbox_opts o = opts(f, (const char *const[]){"/bin/env", NULL});
    o.env = env;
    assert_int_equal(run_ok(&o), 0);
    assert_string_equal(f->out[0].buf, "PATH=/bin\nA=1 2\nHOME=/nowhere\n");
}

static void test_sandbox__cwd_created_for_user(void **state)
{
    struct fixture *f = *state;
    struct kiln_sandbox_opts o = opts(f, SH("pwd; id -u; id -g; id -G"));
    static const uint32_t groups[] = {10, 20};
    o.cwd = "/work/dir";
    o.uid = 1000;
    o.gid = 1001;
    o.groups = groups;
    o.n_groups = 2;
    assert_int_equal(run_ok(&o), 0);
    assert_string_equal(f->out[0].buf, "/work/dir\n1000\n1001\n1001 10 20\n");
    _cleanup_free_ char *dir = kiln_xasprintf("%s/work/dir", f->rootfs);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_gid, 1001);
    assert_int_equal(st.st_mode & 07777, 0755);
}

static void test_sandbox__network_none_has_only_loopback(void **state)
{
    struct fixture *f = *state;
    struct kiln_sandbox_opts o =
            opts(f, SH("ls /sys/class/net; cat /etc/hosts; uname -n; ip -o link show lo >&2"));
    assert_int_equal(run_ok(&o), 0);
    if (!strstr(f->out[1].buf, ",UP"))
        fail_msg("loopback is not up: %s", f->out[1].buf);
    assert_string_equal(f->out[0].buf, "lo\n"
                                       "127.0.0.1\tlocalhost buildkitsandbox\n"
                                       "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                       "buildkitsandbox\n");
}

static void test_sandbox__no_fd_beyond_stdio_and_readonly_sys(void **state)
{
    struct fixture *f = *state;
    struct kiln_sandbox_opts o = opts(f, SH("ls /proc/$$/fd; touch /sys/x 2>/dev/null || echo ro; "
                                            "ls /sys/fs/cgroup >/dev/null && echo cg"));
    assert_int_equal(run_ok(&o), 0);
    assert_string_equal(f->out[0].buf, "0\n1\n2\nro\ncg\n");
}

static void test_sandbox__network_host_sees_host_interfaces(void **state)
{
    struct fixture *f = *state;
    struct kiln_sandbox_opts o = opts(f, SH("ls /sys/class/net"));
    o.network = KILN_SANDBOX_NET_HOST;
    assert_int_equal(run_ok(&o), 0);
    _cleanup_free_ char *host = host_output((const char *const[]){"ls", "/sys/class/net", NULL});
    assert_non_null(host);
    assert_string_equal(f->out[0].buf, host);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* How many processes on the host run `sleep <arg>`. */
static int sleepers(const char *arg)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        _cleanup_free_ char *path = kiln_xasprintf("/proc/%s/cmdline", e->d_name);
        char cmd[256] = {0};
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t len = fd >= 0 ? read(fd, cmd, sizeof(cmd) - 1) : -1;
        if (fd >= 0)
            close(fd);
        size_t first = len > 0 ? strlen(cmd) + 1 : 0;
        n += first > 0 && first < (size_t)len && strstr(cmd, "sleep") &&
             strcmp(cmd + first, arg) == 0;
    }
    closedir(d);
    return n;
}

static void test_sandbox__timeout_kills_the_tree(void **state)
{
    struct fixture *f = *state;
    struct kiln_sandbox_opts o = opts(f, SH("sleep 987654 & sleep 987654 & echo started; wait"));
    o.timeout_ns = 500 * 1000000LL;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct kiln_error *e = NULL;
    int code = -1;
    assert_int_equal(kiln_sandbox_run(&o, &code, &e), KILN_E_TIMEOUT);
    double took = seconds_since(&t0);
    print_message("# timeout 0.5s: returned after %.3fs\n", took);
    assert_true(took < 1.5);
    assert_int_equal(code, -1);
    assert_non_null(strstr(e->message, "time limit"));
    assert_string_equal(f->out[0].buf, "started\n");
    assert_int_equal(sleepers("987654"), 0);
    kiln_error_free(e);
}

static void *cancel_later(void *arg)
{
    struct timespec d = {0, 300 * 1000000L};
    nanosleep(&d, NULL);
    assert_int_equal(write(*(int *)arg, "x", 1), 1);
    return NULL;
}

static void test_sandbox__cancel_kills_the_tree(void **state)
{
    struct fixture *f = *state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    struct kiln_sandbox_opts o = opts(f, SH("sleep 987655 & sleep 987655"));
    o.cancel_fd = p[0];
    pthread_t t;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &p[1]), 0);
    struct kiln_error *e = NULL;
    int code = -1;
    assert_int_equal(kiln_sandbox_run(&o, &code, &e), KILN_E_CANCELLED);
    double took = seconds_since(&t0);
    pthread_join(t, NULL);
    print_message("# cancel after 0.3s: returned after %.3fs\n", took);
    assert_true(took < 1.3);
    assert_int_equal(sleepers("987655"), 0);
    kiln_error_free(e);
    close(p[0]);
    close(p[1]);
}

/* Every entry under root with its type, mode, owner, size and mtime, one a line, sorted. */
static void listing(const char *root, const char *rel, struct kiln_strv *out)
{
    _cleanup_free_ char *path = kiln_xasprintf("%s%s", root, rel);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    kiln_strv_take(out, kiln_xasprintf("%s %o %u:%u %lld %lld.%09ld", *rel ? rel : "/", st.st_mode,
                                       st.st_uid, st.st_gid, (long long)st.st_size,
                                       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec));
    if (!S_ISDIR(st.st_mode))
        return;
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
            _cleanup_free_ char *child = kiln_xasprintf("%s/%s", rel, names[i]->d_name);
            listing(root, child, out);
        }
        free(names[i]);
    }
    free(names);
}

static void assert_same_listing(const struct kiln_strv *a, const struct kiln_strv *b)
{
    for (size_t i = 0; i < a->n || i < b->n; i++)
        if (i >= a->n || i >= b->n || strcmp(a->v[i], b->v[i]) != 0)
            fail_msg("rootfs differs after the run: before '%s', after '%s'",
                     i < a->n ? a->v[i] : "(none)", i < b->n ? b->v[i] : "(none)");
}

static void test_sandbox__rootfs_keeps_nothing_of_the_sandbox(void **state)
{
    struct fixture *f = *state;
    struct timespec old[2] = {{1000000, 0}, {1000000, 0}};
    assert_int_equal(utimensat(AT_FDCWD, f->rootfs, old, 0), 0);
    struct kiln_strv before = KILN_STRV_INIT, after = KILN_STRV_INIT;
    listing(f->rootfs, "", &before);
    struct kiln_sandbox_opts o = opts(f, (const char *const[]){"/bin/true", NULL});
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(run_ok(&o), 0);
    print_message("# one 'true' in the sandbox: %.3fs\n", seconds_since(&t0));
    listing(f->rootfs, "", &after);
    assert_same_listing(&before, &after);
    kiln_strv_release(&before);
    kiln_strv_release(&after);
}

static void test_sandbox__rootfs_shows_what_the_process_wrote(void **state)
{
    struct fixture *f = *state;
    struct kiln_sandbox_opts o = opts(f, SH("echo hi > /etc/made && touch /dev/x"));
    assert_int_equal(run_ok(&o), 0);
    _cleanup_free_ char *made = kiln_xasprintf("%s/etc/made", f->rootfs);
    _cleanup_free_ char *hosts = kiln_xasprintf("%s/etc/hosts", f->rootfs);
    _cleanup_free_ char *dev = kiln_xasprintf("%s/dev", f->rootfs);
    assert_int_equal(access(made, F_OK), 0);
    assert_int_equal(access(hosts, F_OK), -1); /* the stub went, /etc stayed */
    assert_int_equal(access(dev, F_OK), -1);   /* /dev/x went into the tmpfs */
}

static void test_sandbox__hosts_symlink_out_of_the_rootfs(void **state)
{
    struct fixture *f = *state;
    struct stat host_before, host_after;
    assert_int_equal(stat("/etc/shadow", &host_before), 0);
    _cleanup_free_ char *etc = kiln_xasprintf("%s/etc", f->rootfs);
    assert_int_equal(mkdir(etc, 0755), 0);
    _cleanup_free_ char *hosts = kiln_xasprintf("%s/hosts", etc);
    _cleanup_free_ char *resolv = kiln_xasprintf("%s/resolv.conf", etc);
    assert_int_equal(symlink("/etc/shadow", hosts), 0);
    assert_int_equal(symlink("../../../../../../../../etc/passwd", resolv), 0);
    struct kiln_sandbox_opts o =
            opts(f, SH("cat /etc/hosts; echo x >> /etc/hosts; echo y >> /etc/shadow"));
    assert_int_equal(run_ok(&o), 1);
    assert_string_equal(f->out[0].buf, "127.0.0.1\tlocalhost buildkitsandbox\n"
                                       "::1\tlocalhost ip6-localhost ip6-loopback\n");
    assert_int_equal(stat("/etc/shadow", &host_after), 0);
    assert_int_equal(host_before.st_size, host_after.st_size);
    assert_int_equal(host_before.st_mtim.tv_sec, host_after.st_mtim.tv_sec);
    assert_int_equal(host_before.st_mtim.tv_nsec, host_after.st_mtim.tv_nsec);
    _cleanup_free_ char *stub = kiln_xasprintf("%s/shadow", etc);
    _cleanup_free_ char *stub2 = kiln_xasprintf("%s/passwd", etc);
    assert_int_equal(access(stub, F_OK), -1);
    assert_int_equal(access(stub2, F_OK), -1);
    struct stat st;
    assert_int_equal(lstat(hosts, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
}

static void test_sandbox__proc_symlink_is_refused(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *proc = kiln_xasprintf("%s/proc", f->rootfs);
    assert_int_equal(symlink("/tmp/x", proc), 0);
    struct kiln_strv before = KILN_STRV_INIT, after = KILN_STRV_INIT;
    listing(f->rootfs, "", &before);
    struct kiln_sandbox_opts o = opts(f, SH("true"));
    struct kiln_error *e = NULL;
    int code = -1;
    int r = kiln_sandbox_run(&o, &code, &e);
    print_message("# /proc -> /tmp/x: %s\n", r < 0 ? e->message : "ran");
    assert_int_equal(r, KILN_E_INVALID);
    listing(f->rootfs, "", &after);
    assert_same_listing(&before, &after);
    kiln_strv_release(&before);
    kiln_strv_release(&after);
    kiln_error_free(e);
}

static void test_sandbox__missing_runtime_says_what_to_install(void **state)
{
    struct fixture *f = *state;
    struct kiln_sandbox_opts o = opts(f, SH("true"));
    o.runtime = "kiln-no-such-runtime";
    struct kiln_error *e = NULL;
    int code = -1;
    assert_int_equal(kiln_sandbox_run(&o, &code, &e), KILN_E_NOTFOUND);
    assert_non_null(strstr(e->message, "install"));
    kiln_error_free(e);
}

static void test_sandbox__missing_program_is_an_error(void **state)
{
    struct fixture *f = *state;
    struct kiln_sandbox_opts o = opts(f, (const char *const[]){"/bin/nope", NULL});
    struct kiln_error *e = NULL;
    int code = -1;
    assert_int_equal(kiln_sandbox_run(&o, &code, &e), KILN_E_INVALID);
    print_message("# %s\n", e->message);
    assert_non_null(strstr(e->message, "/bin/nope"));
    kiln_error_free(e);
}

static void test_sandbox__arm64_under_binfmt(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *arm = kiln_xasprintf("%s/arm64", f->dir);
    assert_int_equal(mkdir(arm, 0755), 0);
    make_rootfs(arm, arm64_busybox());
    struct kiln_sandbox_opts o = opts(f, (const char *const[]){"/bin/uname", "-m", NULL});
    o.rootfs = arm;
    assert_int_equal(run_ok(&o), 0);
    assert_string_equal(f->out[0].buf, "aarch64\n");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(test_sandbox__##name, setup, teardown)
    const struct CMUnitTest tests[] = {
            T(exit_codes),
            T(output_streams),
            T(env_exactly_as_given),
            T(cwd_created_for_user),
            T(network_none_has_only_loopback),
            T(network_host_sees_host_interfaces),
            T(no_fd_beyond_stdio_and_readonly_sys),
            T(timeout_kills_the_tree),
            T(cancel_kills_the_tree),
            T(rootfs_keeps_nothing_of_the_sandbox),
            T(rootfs_shows_what_the_process_wrote),
            T(hosts_symlink_out_of_the_rootfs),
            T(proc_symlink_is_refused),
            T(missing_runtime_says_what_to_install),
            T(missing_program_is_an_error),
            T(arm64_under_binfmt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
