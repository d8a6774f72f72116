/* SPDX-License-Identifier: Apache-2.0 */
/*
 * queue.h - kilnd's builds while they live: uploading, queued behind the
 * builder's concurrency limit, running in a worker process under the
 * builder's time limit, cancelled (docs/internals/server.md).
 *
 * Each running build has a runner thread: it starts `kilnd worker`, hands it
 * the job on stdin, appends the worker's progress to the event log, enforces
 * the time limit and cancels (SIGTERM to the worker's process group, SIGKILL
 * after a grace period), then records the result and starts the next build
 * queued on the same builder.
 */
#pragma once

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "build-record.h"
#include "events.h"

#define KILND_CANCEL_GRACE_S 10 /* from SIGTERM to SIGKILL */
/*
 * A build whose client names it in no request for this long while it
 * uploads is dropped (the environment's KILND_UPLOAD_IDLE, e.g. "10m", if set).
 */
#define KILND_UPLOAD_IDLE_S 3600

struct kilnd_db;

struct kilnd_build {
    char id[32];
    char *builder; /* "account/name" */
    char *dir;     /* DATA/builds/ID */
    char *store;   /* DATA/builders/ACCOUNT/NAME */
    int64_t timeout_s;
    unsigned concurrency;
    json_t *job; /* the worker's stdin (holds credentials: memory only); NULL once handed over */
    json_t *context;         /* the context's index while its content is uploaded; may be NULL */
    _Atomic int64_t seen_ns; /* the last request naming the build (kilnd_queue_find) */
    struct kilnd_events *events;
    struct kilnd_build_record rec; /* guarded by the queue's lock */
    bool output;                   /* an output streams back from DIR/output */
    /* the runner's */
    pid_t pid;
    int wake[2];
    char *cancel_reason;
    unsigned refs;
};

struct kilnd_queue_stats {
    unsigned running, queued, uploading; /* of the builder asked for, or of all */
    uint64_t finished[3];                /* succeeded, failed, canceled since start */
    uint64_t steps_total, steps_cached;
};

struct kilnd_queue;

/* self_exe: the kilnd binary the workers run. */
struct kilnd_queue *kilnd_queue_new(struct kilnd_db *db, const char *self_exe);
void kilnd_queue_free(struct kilnd_queue *q);

/*
 * A new live build for `builder` in state uploading, with its directory,
 * event log and record; the caller fills b->job and b->rec.summary before
 * kilnd_queue_submit(). Returns a reference (kilnd_build_unref).
 */
int kilnd_queue_create(struct kilnd_queue *q, const char *data_dir, const char *builder,
                       const char *principal, const char *token_id, int64_t timeout_s,
                       unsigned concurrency, struct kilnd_build **ret, struct kiln_error **err);
/* Inserts the record (after the caller filled rec.summary). */
int kilnd_queue_record(struct kilnd_queue *q, struct kilnd_build *b, struct kiln_error **err);
/* Queues b: it starts now when its builder has a free slot, else when one frees. */
int kilnd_queue_submit(struct kilnd_queue *q, struct kilnd_build *b, struct kiln_error **err);
/* The live build `id` (a reference), or NULL when it ended or never was. */
struct kilnd_build *kilnd_queue_find(struct kilnd_queue *q, const char *id);
/* Cancels a live build with `reason` shown to its client. KILN_E_NOTFOUND when not live. */
int kilnd_queue_cancel(struct kilnd_queue *q, const char *id, const char *reason,
                       struct kiln_error **err);
/* Refuses new builds, cancels the queued ones, waits up to timeout_s for the running, then
 * cancels them and waits for their end. */
void kilnd_queue_drain(struct kilnd_queue *q, int64_t timeout_s);
bool kilnd_queue_draining(struct kilnd_queue *q);
/* The counters; running, queued and uploading of `builder` ("account/name"; NULL: all). */
void kilnd_queue_stats(struct kilnd_queue *q, const char *builder, struct kilnd_queue_stats *ret);

struct kilnd_build *kilnd_build_ref(struct kilnd_build *b);
void kilnd_build_unref(struct kilnd_build *b);
