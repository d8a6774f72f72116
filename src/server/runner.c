/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner.c - one running build: its worker process, its event relay, its
 * time limit and cancellation (docs/internals/server.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/human.h"
#include "base/strv.h"
#include "queue-private.h"

#include "base/banned.h"

extern char **environ;

struct run {
    struct kilnd_queue *q;
    struct kilnd_build *b;
    int out; /* the worker's stdout */
    struct kiln_buf line;
    struct kiln_strv seen; /* vertices counted as steps */
    int64_t steps, cached;
};

/* Starts `kilnd worker DIR` in a process group of its own; *ret_in takes the job. */
static int spawn(struct run *run, int *ret_in, struct kiln_error **err)
{
    struct kilnd_build *b = run->b;
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return kiln_error_set_errno(err, -errno, "pipe");
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return kiln_error_set_errno(err, -errno, "pipe");
    }
    _cleanup_free_ char *log = kiln_xasprintf("%s/worker.log", b->dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawnattr_t sa;
    posix_spawnattr_init(&sa);
    posix_spawnattr_setpgroup(&sa, 0);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGINT);
    posix_spawnattr_setsigmask(&sa, &none);
    posix_spawnattr_setsigdefault(&sa, &dfl);
    posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                          POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {run->q->self_exe, (char *)"worker", b->dir, NULL};
    int rc = posix_spawn(&b->pid, run->q->self_exe, &fa, &sa, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&sa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        return kiln_error_set_errno(err, -rc, "cannot start the build worker '%s'",
                                    run->q->self_exe);
    }
    *ret_in = in[1];
    run->out = out[0];
    return 0;
}

/* Hands the job over and forgets it: the credentials in it live on only in the worker. */
static int send_job(struct run *run, int fd)
{
    pthread_mutex_lock(&run->q->lock);
    json_t *job = run->b->job;
    run->b->job = NULL;
    pthread_mutex_unlock(&run->q->lock);
    char *text = job ? json_dumps(job, JSON_COMPACT) : NULL;
    json_decref(job);
    size_t len = text ? strlen(text) : 0, off = 0;
    int r = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = -errno;
            break;
        }
        off += (size_t)n;
    }
    if (text)
        explicit_bzero(text, len);
    free(text);
    close(fd);
    return r;
}

/* Counts a vertex event as a step: once per vertex, not BuildKit's [internal] ones. */
static void count_step(struct run *run, json_t *line)
{
    json_t *vs = json_object_get(line, "vertexes"), *v;
    size_t i;
    json_array_foreach (vs, i, v) {
        const char *digest = json_string_value(json_object_get(v, "digest"));
        const char *name = json_string_value(json_object_get(v, "name"));
        bool cached = json_is_true(json_object_get(v, "cached"));
        bool completed = json_object_get(v, "completed") != NULL;
        if (!digest || !name || strncmp(name, "[internal]", 10) == 0 || (!cached && !completed))
            continue;
        if (kiln_strv_find(&run->seen, digest) >= 0)
            continue;
        kiln_strv_push(&run->seen, digest);
        run->steps++;
        run->cached += cached;
    }
}

static void relay(struct run *run, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] != '\n') {
            if (kiln_buf_addch(&run->line, data[i]) < 0)
                kiln_buf_reset(&run->line); /* a line past the cap is dropped */
            continue;
        }
        json_t *j = json_loadb(run->line.buf, run->line.len, 0, NULL);
        if (j) {
            count_step(run, j);
            kilnd_events_append(run->b->events, run->line.buf, run->line.len);
            json_decref(j);
        }
        kiln_buf_reset(&run->line);
    }
}

static void signal_group(struct kilnd_build *b, int sig)
{
    if (b->pid > 0)
        kill(-b->pid, sig);
}

static int poll_timeout(int64_t now, int64_t deadline, int64_t kill_at)
{
    int64_t next = kill_at ? kill_at : deadline;
    if (!next)
        return -1;
    int64_t ms = (next - now) / 1000000;
    return ms < 0 ? 0 : ms > 1000 ? 1000 : (int)ms;
}

/* Relays the worker's output until it ends, enforcing the time limit and cancels. */
static void watch(struct run *run)
{
    struct kilnd_build *b = run->b;
    int64_t deadline = b->timeout_s > 0 ? kilnd_now_ns() + b->timeout_s * 1000000000 : 0;
    int64_t kill_at = 0;
    char buf[65536];
    for (;;) {
        struct pollfd p[2] = {{run->out, POLLIN, 0}, {b->wake[0], POLLIN, 0}};
        int64_t now = kilnd_now_ns();
        int n = poll(p, 2, poll_timeout(now, deadline, kill_at));
        now = kilnd_now_ns();
        if (n < 0 && errno != EINTR)
            break;
        if (p[1].revents & POLLIN) {
            while (read(b->wake[0], buf, sizeof(buf)) > 0)
                ;
            signal_group(b, SIGTERM);
            if (!kill_at)
                kill_at = now + (int64_t)KILND_CANCEL_GRACE_S * 1000000000;
        }
        if (deadline && now >= deadline && !kill_at) {
            char limit[KILN_HUMAN_DURATION_MAX];
            kiln_human_duration(b->timeout_s, limit);
            pthread_mutex_lock(&run->q->lock);
            if (!b->cancel_reason)
                b->cancel_reason = kiln_xasprintf(
                        "build exceeded the builder's time limit of %s and was cancelled", limit);
            pthread_mutex_unlock(&run->q->lock);
            signal_group(b, SIGTERM);
            kill_at = now + (int64_t)KILND_CANCEL_GRACE_S * 1000000000;
        }
        if (kill_at && now >= kill_at)
            signal_group(b, SIGKILL);
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t got = read(run->out, buf, sizeof(buf));
            if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
                break;
            if (got > 0)
                relay(run, buf, (size_t)got);
        }
    }
}

static json_t *read_result(struct kilnd_build *b, int status)
{
    _cleanup_free_ char *path = kiln_xasprintf("%s/result.json", b->dir);
    json_t *res = json_load_file(path, 0, NULL);
    if (!json_is_object(res)) {
        json_decref(res);
        char why[64];
        if (WIFSIGNALED(status))
            snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
        else
            snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));
        res = json_pack("{s:s, s:s++}", "status", "failed", "error",
                        "the build worker ended without a result (", why,
                        "): see the server's log");
    }
    if (b->cancel_reason) {
        json_object_set_new(res, "status", json_string("canceled"));
        json_object_set_new(res, "error", json_string(b->cancel_reason));
    }
    _cleanup_free_ char *out = kiln_xasprintf("%s/output", b->dir);
    bool ok = strcmp(json_string_value(json_object_get(res, "status")), "succeeded") == 0;
    json_object_set_new(res, "output", json_boolean(ok && b->output && access(out, F_OK) == 0));
    json_object_set_new(res, "kiln", json_string("result"));
    return res;
}

static void finish(struct run *run, json_t *res)
{
    struct kilnd_queue *q = run->q;
    struct kilnd_build *b = run->b;
    const char *status = json_string_value(json_object_get(res, "status"));
    const char *error = json_string_value(json_object_get(res, "error"));
    const char *digest = json_string_value(json_object_get(res, "image_digest"));
    pthread_mutex_lock(&q->lock);
    b->rec.finished_ns = kilnd_now_ns();
    b->rec.steps_total = run->steps;
    b->rec.steps_cached = run->cached;
    free(b->rec.error);
    b->rec.error = kiln_xstrdup(error ? error : "");
    free(b->rec.image_digest);
    b->rec.image_digest = kiln_xstrdup(digest ? digest : "");
    kilnd_queue_set_state(q, b, status);
    q->stats.finished[strcmp(status, "succeeded") == 0 ? 0
                      : strcmp(status, "failed") == 0  ? 1
                                                       : 2]++;
    q->stats.steps_total += (uint64_t)run->steps;
    q->stats.steps_cached += (uint64_t)run->cached;
    kilnd_events_append_json(b->events, res);
    kilnd_events_finish(b->events);
    kilnd_queue_remove(q, b);
    kilnd_queue_schedule(q, b->builder);
    pthread_mutex_unlock(&q->lock);
}

static void *runner(void *arg)
{
    struct run *run = arg;
    struct kilnd_build *b = run->b;
    struct kiln_error *e = NULL;
    int in = -1, status = 0;
    kilnd_events_append_json(b->events, json_pack("{s:s}", "kiln", "started"));
    if (spawn(run, &in, &e) < 0) {
        finish(run, json_pack("{s:s, s:s, s:s}", "kiln", "result", "status", "failed", "error",
                              kiln_error_message(e, -EIO)));
        kiln_error_free(e);
    } else {
        send_job(run, in);
        watch(run);
        close(run->out);
        while (waitpid(b->pid, &status, 0) < 0 && errno == EINTR)
            ;
        finish(run, read_result(b, status));
    }
    kiln_buf_release(&run->line);
    kiln_strv_release(&run->seen);
    kilnd_build_unref(b);
    free(run);
    return NULL;
}

int kilnd_runner_start(struct kilnd_queue *q, struct kilnd_build *b)
{
    struct run *run = kiln_xcalloc(1, sizeof(*run));
    run->q = q;
    run->b = kilnd_build_ref(b);
    run->out = -1;
    run->line = (struct kiln_buf)KILN_BUF_INIT(KILND_EVENT_LINE_MAX);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, runner, run);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        kilnd_build_unref(b);
        free(run);
        return -rc;
    }
    return 0;
}
