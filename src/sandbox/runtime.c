/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime.c - the OCI runtime's run, kill and delete (docs/internals/sandbox.md,
 * "Running and killing").
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "guard.h"
#include "helper-spawn.h"
#include "sandbox-limits.h"

#include "base/banned.h"

extern char **environ;

#define DEFAULT_PATH   "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define KILL_REPEAT_NS (200 * 1000000LL)  /* a kill is repeated until the runtime exits */
#define KILL_GRACE_NS  (5 * 1000000000LL) /* then the runtime's own group is killed */

int kiln_sandbox_find_runtime(const char *name, char **ret_path, struct kiln_error **err)
{
    if (!name)
        name = "runc";
    if (strchr(name, '/')) {
        if (access(name, X_OK) < 0)
            return kiln_error_set(err, KILN_E_NOTFOUND,
                                  "OCI runtime '%s' is not an executable file; install runc "
                                  "(apt-get install runc) or fix the runtime path",
                                  name);
        *ret_path = kiln_xstrdup(name);
        return 0;
    }
    const char *path = getenv("PATH");
    for (const char *p = path && *path ? path : DEFAULT_PATH;; p++) {
        size_t len = strcspn(p, ":");
        if (len > 0) {
            char *cand = kiln_xasprintf("%.*s/%s", (int)len, p, name);
            if (access(cand, X_OK) == 0) {
                *ret_path = cand;
                return 0;
            }
            free(cand);
        }
        p += len;
        if (!*p)
            break;
    }
    return kiln_error_set(err, KILN_E_NOTFOUND,
                          "OCI runtime '%s' not found in PATH; install it (apt-get install %s) or "
                          "choose another with --oci-runtime",
                          name, name);
}

/* Starts c's runtime with argv in a process group of its own, stdout and stderr to outfd and
 * errfd, in a mount namespace of its own (kiln_sandbox_spawn). */
static int spawn(const struct kiln_sandbox_container *c, const char *const *argv, int outfd,
                 int errfd, pid_t *ret_pid)
{
    return kiln_sandbox_spawn(argv, (const int[]){outfd, errfd}, 2,
                              c->v1_view ? KILN_SANDBOX_VIEW_V1 : KILN_SANDBOX_VIEW_RUNTIME,
                              ret_pid);
}

static int wait_pid(pid_t pid, int *ret_status)
{
    while (waitpid(pid, ret_status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

/* Runs a runtime subcommand to its end, its output discarded; errors are ignored by design. */
static void runtime_cmd(const struct kiln_sandbox_container *c, const char *const *args)
{
    const char *argv[8] = {c->runtime};
    for (size_t i = 0; args[i] && i + 2 < ELEMENTSOF(argv); i++)
        argv[i + 1] = args[i];
    _cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid_t pid;
    int status;
    if (devnull >= 0 && spawn(c, argv, devnull, devnull, &pid) == 0)
        (void)wait_pid(pid, &status);
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

struct watch {
    const struct kiln_sandbox_container *c;
    const struct kiln_sandbox_opts *o;
    pid_t pid;
    int pidfd;
    int pipes[2]; /* stdout, stderr read ends; -1 once at EOF */
    bool exited;
    int status;
    int killed; /* 0, KILN_E_TIMEOUT, KILN_E_CANCELLED or KILN_E_LIMIT */
    int64_t next_kill, give_up;
    struct kiln_sandbox_guard guard; /* the pids limit and the disk reserve */
};

/* Forwards what one pipe holds; closes it at its end. */
static void drain(struct watch *w, int i)
{
    char chunk[16384];
    ssize_t n = read(w->pipes[i], chunk, sizeof(chunk));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close(w->pipes[i]);
        w->pipes[i] = -1;
    } else if (w->o->output) {
        w->o->output(w->o->output_userdata, i + 1, chunk, (size_t)n);
    }
}

/* Kills the container's every process, again and again until the runtime exits. */
static void kill_tree(struct watch *w, int64_t now)
{
    if (now < w->next_kill || w->exited)
        return;
    runtime_cmd(w->c, (const char *const[]){"kill", "--all", w->c->id, "KILL", NULL});
    if (now >= w->give_up)
        (void)kill(-w->pid, SIGKILL);
    w->next_kill = now + KILL_REPEAT_NS;
}

static void start_kill(struct watch *w, int why, int64_t now)
{
    w->killed = why;
    w->next_kill = now;
    w->give_up = now + KILL_GRACE_NS;
}

static int wake_ms(const struct watch *w, int64_t deadline, int64_t now)
{
    int64_t at = !w->killed ? deadline : w->exited ? w->give_up : w->next_kill;
    if (!w->killed && !w->exited && w->guard.next_ns && (!at || w->guard.next_ns < at))
        at = w->guard.next_ns;
    if (at == 0)
        return -1;
    return at <= now ? 0 : (int)((at - now + 999999) / 1000000);
}

static int watch(struct watch *w)
{
    const struct kiln_sandbox_opts *o = w->o;
    int64_t deadline = o->timeout_ns > 0 ? now_ns() + o->timeout_ns : 0;
    while (!w->exited || w->pipes[0] >= 0 || w->pipes[1] >= 0) {
        struct pollfd p[4] = {{w->pipes[0], POLLIN, 0},
                              {w->pipes[1], POLLIN, 0},
                              {w->exited ? -1 : w->pidfd, POLLIN, 0},
                              {w->killed ? -1 : o->cancel_fd, POLLIN, 0}};
        int64_t now = now_ns();
        if (poll(p, 4, wake_ms(w, deadline, now)) < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < 2; i++)
            if (p[i].revents)
                drain(w, i);
        if (p[2].revents) {
            int r = wait_pid(w->pid, &w->status);
            if (r < 0)
                return r;
            w->exited = true;
        }
        now = now_ns();
        if (!w->killed && (p[3].revents || (deadline && now >= deadline)))
            start_kill(w, p[3].revents ? KILN_E_CANCELLED : KILN_E_TIMEOUT, now);
        if (!w->killed && !w->exited && kiln_sandbox_guard_check(&w->guard, now, false))
            start_kill(w, KILN_E_LIMIT, now);
        if (w->killed && w->exited && now >= w->give_up)
            break; /* pipes held open past the container's end: stop reading */
        if (w->killed)
            kill_tree(w, now);
    }
    return 0;
}

/* The last error the runtime logged (its JSON lines), or NULL. */
static char *logged_error(const char *path)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    _cleanup_buf_ struct kiln_buf b = KILN_BUF_INIT(KILN_SANDBOX_LOG_MAX);
    char chunk[4096];
    ssize_t n;
    while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0 &&
           kiln_buf_add(&b, chunk, (size_t)n) >= 0)
        ;
    char *msg = NULL;
    for (char *line = b.buf; *line;) {
        size_t len = strcspn(line, "\n");
        json_t *j = json_loadb(line, len, 0, NULL);
        const char *level = json_string_value(json_object_get(j, "level"));
        const char *text = json_string_value(json_object_get(j, "msg"));
        if (level && text && strcmp(level, "error") == 0) {
            free(msg);
            msg = kiln_xstrdup(text);
        }
        json_decref(j);
        line += len + (line[len] == '\n');
    }
    return msg;
}

/*
 * Whether the runtime left the container's state behind. `run` deletes the
 * container when its process ends, so a step that ran its course needs no
 * `delete` (a second start of the runtime, ~10 ms of a step); runc and crun
 * keep their state in /run/runc and /run/crun for root.
 */
static bool state_left(const struct kiln_sandbox_container *c)
{
    static const char *const roots[] = {"/run/runc", "/run/crun"};
    for (size_t i = 0; i < ELEMENTSOF(roots); i++) {
        _cleanup_free_ char *state = kiln_xasprintf("%s/%s", roots[i], c->id);
        if (access(state, F_OK) == 0)
            return true;
    }
    return false;
}

static int finish(struct watch *w, int *ret_exit_code, struct kiln_error **err)
{
    /* a step that filled the disk before a look saw it fails the same way */
    if (w->killed == KILN_E_LIMIT || (!w->killed && kiln_sandbox_guard_check(&w->guard, 0, true)))
        return kiln_sandbox_guard_error(&w->guard, err);
    if (w->killed == KILN_E_TIMEOUT)
        return kiln_error_set(err, KILN_E_TIMEOUT,
                              "'%s' ran past its time limit of %.3fs and was killed; raise the "
                              "limit or make the step faster",
                              w->o->argv[0], (double)w->o->timeout_ns / 1e9);
    if (w->killed)
        return kiln_error_set(err, KILN_E_CANCELLED,
                              "'%s' was killed because the build was cancelled", w->o->argv[0]);
    int code = WIFEXITED(w->status) ? WEXITSTATUS(w->status) : 128 + WTERMSIG(w->status);
    if (code != 0 && w->guard.oom_kills > 0)
        return kiln_sandbox_guard_oom_error(&w->guard, code, err);
    if (code != 0) {
        _cleanup_free_ char *msg = logged_error(w->c->log);
        if (msg)
            return kiln_error_set(err, KILN_E_INVALID, "run '%s' in the sandbox: %s", w->o->argv[0],
                                  msg);
    }
    *ret_exit_code = code;
    return 0;
}

int kiln_sandbox_runtime_run(const struct kiln_sandbox_container *c,
                             const struct kiln_sandbox_opts *o, int *ret_exit_code,
                             struct kiln_error **err)
{
    int out[2], errp[2];
    if (pipe2(out, O_CLOEXEC) < 0)
        return kiln_error_set_errno(err, -errno, "create the sandbox's output pipe");
    if (pipe2(errp, O_CLOEXEC) < 0) {
        int r = -errno;
        close(out[0]);
        close(out[1]);
        return kiln_error_set_errno(err, r, "create the sandbox's output pipe");
    }
    _cleanup_free_ char *pid_file = kiln_xasprintf("%s/init.pid", c->bundle);
    const char *argv[] = {c->runtime,   "--log",  c->log,     "--log-format", "json", "run",
                          "--pid-file", pid_file, "--bundle", c->bundle,      c->id,  NULL};
    struct watch w = {.c = c, .o = o, .pidfd = -1, .pipes = {out[0], errp[0]}};
    int r = spawn(c, argv, out[1], errp[1], &w.pid);
    close(out[1]);
    close(errp[1]);
    if (r < 0) {
        close(out[0]);
        close(errp[0]);
        return kiln_error_set_errno(err, r, "start the OCI runtime '%s'", c->runtime);
    }
    kiln_sandbox_guard_init(&w.guard, o, pid_file, now_ns());
    w.pidfd = (int)syscall(SYS_pidfd_open, w.pid, 0);
    r = w.pidfd < 0 ? -errno : watch(&w);
    if (r < 0) { /* cannot watch it: make sure it is gone */
        runtime_cmd(c, (const char *const[]){"kill", "--all", c->id, "KILL", NULL});
        if (!w.exited) {
            (void)kill(-w.pid, SIGKILL);
            (void)wait_pid(w.pid, &w.status);
        }
    }
    for (int i = 0; i < 2; i++)
        if (w.pipes[i] >= 0)
            close(w.pipes[i]);
    if (w.pidfd >= 0)
        close(w.pidfd);
    if (r < 0 || w.killed || !WIFEXITED(w.status) || state_left(c))
        runtime_cmd(c, (const char *const[]){"delete", "--force", c->id, NULL});
    if (r >= 0)
        r = finish(&w, ret_exit_code, err);
    else
        r = kiln_error_set_errno(err, r, "watch the OCI runtime '%s'", c->runtime);
    kiln_sandbox_guard_release(&w.guard);
    return r;
}
