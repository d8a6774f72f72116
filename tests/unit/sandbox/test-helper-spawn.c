/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-helper-spawn.c - helpers started alike: fds placed and others
 * closed, default signals, a process group of their own; the runtime's view
 * (a mount namespace where its binary is read-only, and on hybrid hosts the
 * v1 view without cgroup2) seen from inside and gone from the host after.
 * A missing binary is -ENOENT with nothing left. The views need root and
 * busybox-static; skipped otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "sandbox/helper-spawn.h"

#include "base/banned.h"

#define BUSYBOX "/bin/busybox"

/* Runs argv with `view`, its stdout into a pipe; returns what it wrote, its exit status in *code.
 */
static char *run(const char *const *argv, enum kiln_sandbox_view view, int *code)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid;
    int r = kiln_sandbox_spawn(argv, (const int[]){p[1], p[1]}, 2, view, &pid);
    close(p[1]);
    if (r < 0)
        fail_msg("spawn %s: %s", argv[0], strerror(-r));
    struct kiln_buf b = KILN_BUF_INIT(1 << 20);
    assert_true(kiln_buf_read_fd(&b, p[0]) >= 0);
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    char *out = kiln_xstrdup(b.buf ? b.buf : "");
    kiln_buf_release(&b);
    return out;
}

/* The mountinfo line whose mount point is `path`, or NULL. */
static const char *mount_of(const char *mountinfo, const char *path)
{
    size_t n = strlen(path);
    for (const char *l = mountinfo; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *f = l;
        for (int i = 0; i < 4 && f; i++) /* the fifth field is the mount point */
            f = strchr(f, ' ') ? strchr(f, ' ') + 1 : NULL;
        if (f && strncmp(f, path, n) == 0 && f[n] == ' ')
            return l;
    }
    return NULL;
}

static bool mount_read_only(const char *line)
{
    const char *f = line;
    for (int i = 0; i < 5 && f; i++) /* the sixth field is the mount's options */
        f = strchr(f, ' ') ? strchr(f, ' ') + 1 : NULL;
    return f && strncmp(f, "ro", 2) == 0 && (f[2] == ',' || f[2] == ' ');
}

static char *host_mountinfo(void)
{
    struct kiln_buf b = KILN_BUF_INIT(1 << 20);
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0 && kiln_buf_read_fd(&b, fd) >= 0);
    close(fd);
    char *s = kiln_xstrdup(b.buf);
    kiln_buf_release(&b);
    return s;
}

static void test_helper_spawn__fds_signals_and_group(void **state)
{
    (void)state;
    /* SIGTERM ignored here must be the default there; fd 3 exists there, fd 4 does not */
    signal(SIGTERM, SIG_IGN);
    int extra = open("/dev/null", O_RDONLY); /* not close-on-exec: closed all the same */
    assert_true(extra >= 0);
    const char *const argv[] = {"sh", "-c",
                                "grep -E '^(SigIgn|SigBlk)' /proc/self/status; "
                                "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; "
                                "[ \"$(cut -d' ' -f5 /proc/self/stat)\" = $$ ] && echo own-group",
                                NULL};
    int code;
    _cleanup_free_ char *out = run(argv, KILN_SANDBOX_VIEW_HOST, &code);
    signal(SIGTERM, SIG_DFL);
    close(extra);
    assert_int_equal(code, 0);
    assert_non_null(strstr(out, "SigBlk:\t0000000000000000"));
    const char *ign = strstr(out, "SigIgn:\t");
    assert_non_null(ign);
    unsigned long long ignored = strtoull(ign + 8, NULL, 16);
    assert_int_equal(ignored & (1ULL << (SIGTERM - 1)), 0);
    assert_non_null(strstr(out, "0 1 2 3 \n")); /* stdin, the pipe twice, ls's own directory */
    assert_non_null(strstr(out, "own-group"));
}

static void test_helper_spawn__missing_binary_is_enoent(void **state)
{
    (void)state;
    const char *const argv[] = {"/nonexistent/kiln-helper", NULL};
    pid_t pid = 0;
    int r = kiln_sandbox_spawn(argv, (const int[]){1, 2}, 2, KILN_SANDBOX_VIEW_RUNTIME, &pid);
    assert_int_equal(r, -ENOENT);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* the child was reaped */
    assert_int_equal(errno, ECHILD);
}

static void test_helper_spawn__runtime_view(void **state)
{
    (void)state;
    if (getuid() != 0 || access(BUSYBOX, X_OK) < 0)
        skip(); /* a mount namespace needs root; the child is busybox */
    char dir[] = "/tmp/kiln-spawn-XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *bin = kiln_xasprintf("%s/busybox", dir);
    assert_int_equal(symlink(BUSYBOX, bin), 0); /* bound where it leads, as mount does */
    _cleanup_free_ char *real = realpath(BUSYBOX, NULL);
    assert_non_null(real);
    const char *const argv[] = {bin, "cat", "/proc/self/mountinfo", NULL};
    _cleanup_free_ char *before = host_mountinfo();
    for (int v = KILN_SANDBOX_VIEW_RUNTIME; v <= KILN_SANDBOX_VIEW_V1; v++) {
        int code;
        _cleanup_free_ char *inside = run(argv, (enum kiln_sandbox_view)v, &code);
        assert_int_equal(code, 0);
        const char *line = mount_of(inside, real);
        if (!line || !mount_read_only(line))
            fail_msg("view %d: %s is not bound read-only: '%.200s'", v, real,
                     line ? line : "(no mount)");
        bool unified = mount_of(inside, KILN_SANDBOX_CGROUP2_HYBRID) != NULL;
        bool hybrid = kiln_sandbox_cgroups_hybrid();
        if (v == KILN_SANDBOX_VIEW_V1 ? unified : unified != hybrid)
            fail_msg("view %d: %s is %smounted inside (hybrid host: %d)", v,
                     KILN_SANDBOX_CGROUP2_HYBRID, unified ? "" : "not ", hybrid);
    }
    _cleanup_free_ char *after = host_mountinfo();
    assert_null(mount_of(after, real)); /* the bind stayed in the child's namespace */
    assert_string_equal(before, after);
    unlink(bin);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_helper_spawn__fds_signals_and_group),
            cmocka_unit_test(test_helper_spawn__missing_binary_is_enoent),
            cmocka_unit_test(test_helper_spawn__runtime_view),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
