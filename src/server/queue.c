/* SPDX-License-Identifier: Apache-2.0 */
/*
 * queue.c - live builds, per-builder concurrency and the queue
 * (docs/internals/server.md). The runner (runner.c) does the running.
 */
#include "queue.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/human.h"
#include "queue-private.h"

#include "base/banned.h"

int64_t kilnd_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void drop_abandoned(struct kilnd_queue *q, int64_t now_ns);

struct kilnd_queue *kilnd_queue_new(struct kilnd_db *db, const char *self_exe)
{
    struct kilnd_queue *q = kiln_xcalloc(1, sizeof(*q));
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->changed, NULL);
    q->db = db;
    q->self_exe = kiln_xstrdup(self_exe);
    const char *idle = getenv("KILND_UPLOAD_IDLE");
    int64_t s = KILND_UPLOAD_IDLE_S;
    if (idle && (kiln_parse_duration(idle, &s) < 0 || s <= 0)) {
        fprintf(stderr, "level=warn msg=\"KILND_UPLOAD_IDLE is not a duration: using 1h\"\n");
        s = KILND_UPLOAD_IDLE_S;
    }
    q->upload_idle_ns = s * 1000000000LL;
    return q;
}

void kilnd_queue_free(struct kilnd_queue *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++)
        kilnd_build_unref(q->live[i]);
    free(q->live);
    free(q->self_exe);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->changed);
    free(q);
}

struct kilnd_build *kilnd_build_ref(struct kilnd_build *b)
{
    __atomic_add_fetch(&b->refs, 1, __ATOMIC_SEQ_CST);
    return b;
}

void kilnd_build_unref(struct kilnd_build *b)
{
    if (!b || __atomic_sub_fetch(&b->refs, 1, __ATOMIC_SEQ_CST) > 0)
        return;
    free(b->builder);
    free(b->dir);
    free(b->store);
    json_decref(b->job);
    json_decref(b->context);
    kilnd_events_unref(b->events);
    kilnd_build_record_release(&b->rec);
    for (int i = 0; i < 2; i++)
        if (b->wake[i] >= 0)
            close(b->wake[i]);
    free(b->cancel_reason);
    free(b);
}

/* A build id as buildx's refs look: 25 characters of [a-z0-9]. */
static void new_id(char out[32])
{
    static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[25];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        abort();
    for (size_t i = 0; i < sizeof(rnd); i++)
        out[i] = abc[rnd[i] % 36];
    out[sizeof(rnd)] = '\0';
}

int kilnd_queue_create(struct kilnd_queue *q, const char *data_dir, const char *builder,
                       const char *principal, const char *token_id, int64_t timeout_s,
                       unsigned concurrency, struct kilnd_build **ret, struct kiln_error **err)
{
    if (kilnd_queue_draining(q))
        return kiln_error_set(err, KILN_E_UPSTREAM,
                              "kilnd is shutting down and takes no new builds: retry shortly");
    struct kilnd_build *b = kiln_xcalloc(1, sizeof(*b));
    b->refs = 1;
    b->wake[0] = b->wake[1] = -1;
    new_id(b->id);
    b->builder = kiln_xstrdup(builder);
    b->dir = kiln_xasprintf("%s/builds/%s", data_dir, b->id);
    b->store = kiln_xasprintf("%s/builders/%s", data_dir, builder);
    b->timeout_s = timeout_s;
    b->concurrency = concurrency ? concurrency : 1;
    int r = 0;
    if (mkdir(b->dir, 0700) < 0)
        r = kiln_error_set_errno(err, -errno, "cannot create '%s'", b->dir);
    _cleanup_free_ char *log = kiln_xasprintf("%s/events.ndjson", b->dir);
    if (r >= 0)
        r = kilnd_events_open(log, false, &b->events, err);
    if (r >= 0 && pipe2(b->wake, O_CLOEXEC | O_NONBLOCK) < 0)
        r = kiln_error_set_errno(err, -errno, "pipe");
    if (r < 0) {
        kilnd_build_unref(b);
        return r;
    }
    struct kilnd_build_record *rec = &b->rec;
    snprintf(rec->id, sizeof(rec->id), "%s", b->id);
    rec->builder = kiln_xstrdup(builder);
    rec->principal = kiln_xstrdup(principal);
    rec->token_id = kiln_xstrdup(token_id);
    rec->state = kiln_xstrdup("uploading");
    rec->created_ns = kilnd_now_ns();
    atomic_store(&b->seen_ns, rec->created_ns);
    rec->image_digest = kiln_xstrdup("");
    rec->error = kiln_xstrdup("");
    pthread_mutex_lock(&q->lock);
    drop_abandoned(q, rec->created_ns);
    q->live = kiln_xrealloc(q->live, (q->n + 1) * sizeof(*q->live));
    q->live[q->n++] = kilnd_build_ref(b);
    pthread_mutex_unlock(&q->lock);
    *ret = b;
    return 0;
}

int kilnd_queue_record(struct kilnd_queue *q, struct kilnd_build *b, struct kiln_error **err)
{
    pthread_mutex_lock(&q->lock);
    int r = kilnd_build_record_insert(q->db, &b->rec, err);
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* Sets b's state and writes its record; called with the lock held. */
void kilnd_queue_set_state(struct kilnd_queue *q, struct kilnd_build *b, const char *state)
{
    free(b->rec.state);
    b->rec.state = kiln_xstrdup(state);
    struct kiln_error *e = NULL;
    if (kilnd_build_record_update(q->db, &b->rec, &e) < 0)
        fprintf(stderr, "level=error msg=\"cannot record build\" build=%s error=\"%s\"\n", b->id,
                kiln_error_message(e, -EIO));
    kiln_error_free(e);
}

static unsigned count(struct kilnd_queue *q, const char *builder, const char *state)
{
    unsigned n = 0;
    for (size_t i = 0; i < q->n; i++)
        if ((!builder || strcmp(q->live[i]->builder, builder) == 0) &&
            strcmp(q->live[i]->rec.state, state) == 0)
            n++;
    return n;
}

/* Ends a build that never ran (uploading or queued); lock held. */
static void end_unstarted(struct kilnd_queue *q, struct kilnd_build *b, const char *status,
                          const char *reason);

/*
 * Drops the builds still waiting for their context whose client has named
 * them in no request for KILND_UPLOAD_IDLE_S (it went away mid-upload); lock
 * held. Run whenever a build is made, so abandoned ones never pile up.
 */
static void drop_abandoned(struct kilnd_queue *q, int64_t now_ns)
{
    for (size_t i = 0; i < q->n; i++) {
        struct kilnd_build *b = q->live[i];
        if (strcmp(b->rec.state, "uploading") != 0 ||
            now_ns - atomic_load(&b->seen_ns) < q->upload_idle_ns)
            continue;
        kilnd_build_ref(b);
        end_unstarted(q, b, "failed",
                      "the client stopped sending the build's context and the build was "
                      "dropped: run it again");
        kilnd_build_unref(b);
        i--; /* the next build took b's place */
    }
}

static void end_unstarted(struct kilnd_queue *q, struct kilnd_build *b, const char *status,
                          const char *reason)
{
    b->rec.finished_ns = kilnd_now_ns();
    free(b->rec.error);
    b->rec.error = kiln_xstrdup(reason);
    kilnd_queue_set_state(q, b, status);
    q->stats.finished[strcmp(status, "failed") == 0 ? 1 : 2]++;
    kilnd_events_append_json(b->events, json_pack("{s:s, s:s, s:s}", "kiln", "result", "status",
                                                  status, "error", reason));
    kilnd_events_finish(b->events);
    kilnd_queue_remove(q, b);
}

/* Starts the queued builds of `builder` that fit its limit, oldest first; lock held. */
void kilnd_queue_schedule(struct kilnd_queue *q, const char *builder)
{
    unsigned position = 0;
    for (size_t i = 0; i < q->n; i++) {
        struct kilnd_build *b = q->live[i];
        if (strcmp(b->builder, builder) != 0 || strcmp(b->rec.state, "queued") != 0)
            continue;
        if (count(q, builder, "running") < b->concurrency && !q->draining) {
            b->rec.started_ns = kilnd_now_ns();
            kilnd_queue_set_state(q, b, "running");
            if (kilnd_runner_start(q, b) < 0) {
                end_unstarted(q, b, "failed", "kilnd cannot start a thread for the build");
                i--; /* the next build took b's place */
            }
        } else {
            kilnd_events_append_json(
                    b->events, json_pack("{s:s, s:i}", "kiln", "queued", "position", ++position));
        }
    }
}

int kilnd_queue_submit(struct kilnd_queue *q, struct kilnd_build *b, struct kiln_error **err)
{
    pthread_mutex_lock(&q->lock);
    int r = 0;
    if (q->draining)
        r = kiln_error_set(err, KILN_E_UPSTREAM,
                           "kilnd is shutting down and takes no new builds: retry shortly");
    else if (strcmp(b->rec.state, "uploading") != 0)
        r = kiln_error_set(err, KILN_E_CONFLICT, "build %s is %s already", b->id, b->rec.state);
    if (r >= 0) {
        kilnd_queue_set_state(q, b, "queued");
        kilnd_queue_schedule(q, b->builder);
    }
    pthread_mutex_unlock(&q->lock);
    return r;
}

struct kilnd_build *kilnd_queue_find(struct kilnd_queue *q, const char *id)
{
    struct kilnd_build *found = NULL;
    pthread_mutex_lock(&q->lock);
    for (size_t i = 0; i < q->n && !found; i++)
        if (strcmp(q->live[i]->id, id) == 0) {
            found = kilnd_build_ref(q->live[i]);
            atomic_store(&found->seen_ns, kilnd_now_ns());
        }
    pthread_mutex_unlock(&q->lock);
    return found;
}

/* Takes b off the live list; lock held. The caller holds its own reference. */
void kilnd_queue_remove(struct kilnd_queue *q, struct kilnd_build *b)
{
    for (size_t i = 0; i < q->n; i++)
        if (q->live[i] == b) {
            q->live[i] = q->live[--q->n];
            kilnd_build_unref(b);
            break;
        }
    pthread_cond_broadcast(&q->changed);
}

int kilnd_queue_cancel(struct kilnd_queue *q, const char *id, const char *reason,
                       struct kiln_error **err)
{
    pthread_mutex_lock(&q->lock);
    struct kilnd_build *b = NULL;
    for (size_t i = 0; i < q->n && !b; i++)
        if (strcmp(q->live[i]->id, id) == 0)
            b = q->live[i];
    int r = 0;
    if (!b)
        r = kiln_error_set(err, KILN_E_NOTFOUND, "build %s is not running", id);
    else if (strcmp(b->rec.state, "running") == 0) {
        if (!b->cancel_reason)
            b->cancel_reason = kiln_xstrdup(reason);
        if (write(b->wake[1], "x", 1) < 0 && errno != EAGAIN)
            r = kiln_error_set_errno(err, -errno, "cannot wake the build's runner");
    } else {
        char *builder = kiln_xstrdup(b->builder);
        end_unstarted(q, b, "canceled", reason);
        kilnd_queue_schedule(q, builder);
        free(builder);
    }
    pthread_mutex_unlock(&q->lock);
    return r;
}

bool kilnd_queue_draining(struct kilnd_queue *q)
{
    pthread_mutex_lock(&q->lock);
    bool d = q->draining;
    pthread_mutex_unlock(&q->lock);
    return d;
}

static void wait_running(struct kilnd_queue *q, int64_t until_ns)
{
    while (count(q, NULL, "running") > 0) {
        if (until_ns && kilnd_now_ns() >= until_ns)
            return;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&q->changed, &q->lock, &ts);
    }
}

void kilnd_queue_drain(struct kilnd_queue *q, int64_t timeout_s)
{
    pthread_mutex_lock(&q->lock);
    q->draining = true;
    for (size_t i = q->n; i > 0; i--)
        if (strcmp(q->live[i - 1]->rec.state, "running") != 0)
            end_unstarted(q, q->live[i - 1], "canceled",
                          "kilnd shut down before the build started");
    wait_running(q, kilnd_now_ns() + timeout_s * 1000000000);
    for (size_t i = 0; i < q->n; i++) {
        struct kilnd_build *b = q->live[i];
        if (!b->cancel_reason)
            b->cancel_reason = kiln_xstrdup("kilnd shut down while the build ran");
        if (write(b->wake[1], "x", 1) < 0) {
            /* the runner is waking already */
        }
    }
    wait_running(q, 0);
    pthread_mutex_unlock(&q->lock);
}

void kilnd_queue_stats(struct kilnd_queue *q, const char *builder, struct kilnd_queue_stats *ret)
{
    pthread_mutex_lock(&q->lock);
    *ret = q->stats;
    ret->running = count(q, builder, "running");
    ret->queued = count(q, builder, "queued");
    ret->uploading = count(q, builder, "uploading");
    pthread_mutex_unlock(&q->lock);
}
