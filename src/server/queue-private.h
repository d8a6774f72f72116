/* SPDX-License-Identifier: Apache-2.0 */
/*
 * queue-private.h - what queue.c and runner.c share.
 */
#pragma once

#include <pthread.h>

#include "queue.h"

struct kilnd_queue {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a build ended */
    struct kilnd_db *db;
    char *self_exe;
    struct kilnd_build **live; /* uploading, queued and running builds */
    size_t n;
    bool draining;
    int64_t upload_idle_ns;         /* KILND_UPLOAD_IDLE_S, or $KILND_UPLOAD_IDLE */
    struct kilnd_queue_stats stats; /* the counters (finished, steps) */
};

int64_t kilnd_now_ns(void);

/* With q->lock held: */
void kilnd_queue_set_state(struct kilnd_queue *q, struct kilnd_build *b, const char *state);
void kilnd_queue_schedule(struct kilnd_queue *q, const char *builder);
void kilnd_queue_remove(struct kilnd_queue *q, struct kilnd_build *b);

/* Starts b's runner thread (b is running); lock held. -errno when no thread can start. */
int kilnd_runner_start(struct kilnd_queue *q, struct kilnd_build *b);
