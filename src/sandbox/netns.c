/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netns.c - a network namespace per RUN and the slirp4netns that connects
 * it (docs/internals/sandbox.md, "Network").
 */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "helper-spawn.h"
#include "netns-egress.h"

#include "base/banned.h"

extern char **environ;

#define SLIRP "slirp4netns"

struct new_ns {
    const struct kiln_sandbox_egress *deny;
    int fd;     /* the namespace, or -errno */
    int routes; /* 0, or -errno of the denied ranges' routes */
};

/* A thread's own network namespace is switched, and the denied ranges routed nowhere; the fd
 * outlives the thread. */
static void *unshare_thread(void *arg)
{
    struct new_ns *n = arg;
    if (unshare(CLONE_NEWNET) < 0) {
        n->fd = -errno;
        return NULL;
    }
    n->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (n->fd < 0)
        n->fd = -errno;
    else
        n->routes = kiln_sandbox_egress_routes(n->deny);
    return NULL;
}

/* A new network namespace as an fd, made in a short-lived thread so the caller stays where it is,
 * with no way to the ranges $KILN_RUN_EGRESS_DENY names. */
static int new_netns(struct kiln_error **err)
{
    struct kiln_sandbox_egress deny;
    int r = kiln_sandbox_egress_get(&deny, err);
    if (r < 0)
        return r;
    struct new_ns n = {.deny = &deny, .fd = -EINVAL};
    pthread_t t;
    r = pthread_create(&t, NULL, unshare_thread, &n);
    if (r != 0)
        return kiln_error_set_errno(err, -r, "start a thread to create a network namespace");
    pthread_join(t, NULL);
    if (n.fd < 0)
        return kiln_error_set_errno(err, n.fd, "create a network namespace for RUN (needs root)");
    if (n.routes < 0) {
        close(n.fd);
        return kiln_error_set_errno(err, n.routes,
                                    "route the ranges of %s nowhere in the step's network",
                                    KILN_SANDBOX_EGRESS_ENV);
    }
    return n.fd;
}

/*
 * Starts slirp4netns on the namespace at `path`: fd 3 its exit pipe, fd 4
 * its ready pipe, stdout and stderr into logfd, in a process group of its
 * own with default signals.
 */
static int spawn_slirp(const char *path, int exit_r, int ready_w, int logfd, pid_t *ret_pid)
{
    const char *const argv[] = {SLIRP,
                                "--configure",
                                "--mtu=" KILN_SANDBOX_NETNS_MTU,
                                "--disable-host-loopback",
                                "--enable-sandbox",
                                "--enable-seccomp",
                                "--exit-fd=3",
                                "--ready-fd=4",
                                "--netns-type=path",
                                path,
                                "tap0",
                                NULL};
    return kiln_sandbox_spawn(argv, (const int[]){logfd, logfd, exit_r, ready_w}, 4,
                              KILN_SANDBOX_VIEW_HOST, ret_pid);
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits for slirp4netns's ready byte on ready_r. */
static int wait_ready(int ready_r, int cancel_fd, int logfd, struct kiln_error **err)
{
    int64_t deadline = now_ms() + KILN_SANDBOX_NETNS_START_MS;
    for (;;) {
        struct pollfd p[2] = {{ready_r, POLLIN, 0}, {cancel_fd, POLLIN, 0}};
        int64_t left = deadline - now_ms();
        int n = poll(p, 2, left > 0 ? (int)left : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_error_set_errno(err, -errno, "wait for " SLIRP);
        if (p[1].revents)
            return kiln_error_set(err, KILN_E_CANCELLED,
                                  "the build was cancelled while the step's network was set up");
        if (p[0].revents) {
            char c;
            ssize_t got = read(ready_r, &c, 1);
            if (got < 0 && errno == EINTR)
                continue;
            if (got == 1)
                return 0;
            char said[KILN_SANDBOX_NETNS_LOG_MAX];
            kiln_last_line(logfd, said, sizeof(said)); /* what slirp4netns wrote */
            return kiln_error_set(err, KILN_E_UPSTREAM,
                                  SLIRP " could not set up the step's network: %s; build with "
                                        "RUN --network=none if the step needs no network",
                                  said[0] ? said : "it exited without a message");
        }
        if (n == 0)
            return kiln_error_set(err, KILN_E_TIMEOUT,
                                  SLIRP " did not bring the step's network up within %d ms; "
                                        "check the host's load, or build with RUN --network=none",
                                  KILN_SANDBOX_NETNS_START_MS);
    }
}

/* A pipe whose ends are fd 10 or above, so dup2 onto 3 and 4 in the child never overwrites one. */
static int high_pipe(int p[2])
{
    int low[2];
    if (pipe2(low, O_CLOEXEC) < 0)
        return -errno;
    p[0] = fcntl(low[0], F_DUPFD_CLOEXEC, 10);
    p[1] = p[0] < 0 ? -1 : fcntl(low[1], F_DUPFD_CLOEXEC, 10);
    int r = p[1] < 0 ? -errno : 0;
    close(low[0]);
    close(low[1]);
    if (r < 0 && p[0] >= 0)
        close(p[0]);
    return r;
}

static int start_slirp(struct kiln_sandbox_netns *ns, int cancel_fd, struct kiln_error **err)
{
    int exitp[2], readyp[2];
    int r = high_pipe(exitp);
    if (r < 0)
        return kiln_error_set_errno(err, r, "create a pipe for " SLIRP);
    ns->exit_fd = exitp[1];
    _cleanup_close_ int exit_r = exitp[0];
    r = high_pipe(readyp);
    if (r < 0)
        return kiln_error_set_errno(err, r, "create a pipe for " SLIRP);
    _cleanup_close_ int ready_r = readyp[0];
    _cleanup_close_ int ready_w = readyp[1];
    _cleanup_close_ int logfd = memfd_create(SLIRP "-log", MFD_CLOEXEC);
    if (logfd < 0)
        return kiln_error_set_errno(err, -errno, "create the log of " SLIRP);
    r = spawn_slirp(ns->path, exit_r, ready_w, logfd, &ns->slirp);
    if (r == -ENOENT)
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              SLIRP " not found in PATH: RUN's default network needs it; install "
                                    "it (apt-get install " SLIRP
                                    "), or build with RUN --network=none (no network) or "
                                    "--network=host (with --allow network.host)");
    if (r < 0)
        return kiln_error_set_errno(err, r, "start " SLIRP);
    close(TAKE_FD(ready_w)); /* EOF on ready_r when slirp4netns dies */
    return wait_ready(ready_r, cancel_fd, logfd, err);
}

int kiln_sandbox_netns_open(struct kiln_sandbox_netns *ret, int cancel_fd, struct kiln_error **err)
{
    struct kiln_sandbox_netns ns = KILN_SANDBOX_NETNS_INIT;
    ns.fd = new_netns(err);
    if (ns.fd < 0)
        return ns.fd;
    snprintf(ns.path, sizeof(ns.path), "/proc/%d/fd/%d", (int)getpid(), ns.fd);
    int r = start_slirp(&ns, cancel_fd, err);
    if (r < 0) {
        kiln_sandbox_netns_close(&ns);
        return r;
    }
    *ret = ns;
    return 0;
}

/* Reaps one slirp4netns: its exit waits for the kernel to remove tap0 (tens of ms). */
static void *reap_thread(void *arg)
{
    pid_t pid = (pid_t)(intptr_t)arg;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return NULL;
}

void kiln_sandbox_netns_close(struct kiln_sandbox_netns *ns)
{
    if (ns->slirp > 0) {
        (void)kill(ns->slirp, SIGKILL);
        pthread_attr_t at;
        pthread_t t;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, reap_thread, (void *)(intptr_t)ns->slirp) != 0)
            reap_thread((void *)(intptr_t)ns->slirp);
        pthread_attr_destroy(&at);
        ns->slirp = 0;
    }
    if (ns->exit_fd >= 0)
        close(ns->exit_fd);
    if (ns->fd >= 0)
        close(ns->fd);
    ns->exit_fd = ns->fd = -1;
}
