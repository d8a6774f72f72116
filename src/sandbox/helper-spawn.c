/* SPDX-License-Identifier: Apache-2.0 */
/*
 * helper-spawn.c - the sandbox's helper processes, started alike: a
 * vfork whose child sets itself up with system calls only, then execs (docs/internals/sandbox.md,
 * "Helpers").
 */
#include "helper-spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/banned.h"

extern char **environ;

#define TMPFS_MAGIC_   0x01021994
#define CGROUP2_MAGIC_ 0x63677270

bool kiln_sandbox_cgroups_hybrid(void)
{
    struct statfs fs;
    return statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == TMPFS_MAGIC_ &&
           statfs(KILN_SANDBOX_CGROUP2_HYBRID, &fs) == 0 && fs.f_type == CGROUP2_MAGIC_;
}

struct child {
    const char *const *argv;
    const int *fds;
    size_t n_fds;
    enum kiln_sandbox_view view;
    int error; /* set by the child when it cannot exec (vfork: our memory) */
};

/* Signals whose handling the child resets even when they are ignored here. */
static const int reset[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD};

/* Handlers become the default; the signals of `reset` too. */
static void default_signals(void)
{
    for (int s = 1; s < NSIG; s++) {
        struct sigaction sa;
        if (s == SIGKILL || s == SIGSTOP || sigaction(s, NULL, &sa) < 0)
            continue;
        bool dfl = sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN;
        for (size_t i = 0; !dfl && i < sizeof(reset) / sizeof(reset[0]); i++)
            dfl = reset[i] == s;
        if (dfl) {
            sa.sa_handler = SIG_DFL;
            sa.sa_flags = 0;
            (void)sigaction(s, &sa, NULL);
        }
    }
}

static int place_fds(const struct child *c)
{
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || (null == 0 ? fcntl(0, F_SETFD, 0) : dup2(null, 0)) < 0)
        return -1;
    for (size_t i = 0; i < c->n_fds; i++) {
        int to = (int)i + 1;
        if (c->fds[i] == to ? fcntl(to, F_SETFD, 0) < 0 : dup2(c->fds[i], to) < 0)
            return -1;
    }
    return close_range((unsigned)c->n_fds + 1, ~0U, 0);
}

/* A mount namespace for the runtime `binary`; a binary that cannot be bound is copied by the
 * runtime itself, as without the namespace. */
static int runtime_view(const char *binary, enum kiln_sandbox_view view)
{
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        return -1;
    if (binary[0] == '/' && mount(binary, binary, NULL, MS_BIND, NULL) == 0)
        (void)mount(NULL, binary, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
    return view == KILN_SANDBOX_VIEW_V1 ? umount2(KILN_SANDBOX_CGROUP2_HYBRID, MNT_DETACH) : 0;
}

/* The child: it shares our memory and stack until exec, so it makes system calls and nothing
 * else. */
static _Noreturn void child_main(struct child *c)
{
    default_signals();
    if (setpgid(0, 0) == 0 && place_fds(c) == 0 &&
        (c->view == KILN_SANDBOX_VIEW_HOST || runtime_view(c->argv[0], c->view) == 0)) {
        sigset_t none;
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        execvpe(c->argv[0], (char *const *)c->argv, environ);
    }
    c->error = errno ? errno : EIO;
    _exit(127);
}

int kiln_sandbox_spawn(const char *const *argv, const int *fds, size_t n_fds,
                       enum kiln_sandbox_view view, pid_t *ret_pid)
{
    struct child c = {.argv = argv, .fds = fds, .n_fds = n_fds, .view = view};
    /* no handler of ours may run in the child while it shares our memory */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int errno_saved = errno;
    pid_t pid = vfork();
    if (pid == 0)
        child_main(&c);
    int r = pid < 0 ? -errno : 0;
    errno = errno_saved;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r < 0)
        return r;
    if (c.error) { /* it exited: reap it */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return -c.error;
    }
    *ret_pid = pid;
    return 0;
}
