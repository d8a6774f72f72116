/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jobs.c - a small pool for independent jobs (docs/internals/engine.md).
 */
#include "jobs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "base/alloc.h"

#include "base/banned.h"

/* Threads at most, whatever the caller asks. */
#define JOBS_WORKERS_MAX 16u

struct pool {
    size_t n, next;
    const bool *skip;
    kiln_job_init_fn *init;
    kiln_job_fini_fn *fini;
    kiln_job_fn *fn;
    void *shared;
    pthread_mutex_t lock;
    int code;
    struct kiln_error *error;
};

static void *worker(void *arg)
{
    struct pool *p = arg;
    void *local = NULL;
    struct kiln_error *error = NULL;
    int r = p->init ? p->init(p->shared, &local, &error) : 0;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next;
        while (i < p->n && p->skip && p->skip[i])
            i++;
        p->next = i + 1;
        bool stop = r < 0 || p->code < 0 || i >= p->n;
        pthread_mutex_unlock(&p->lock);
        if (stop)
            break;
        r = p->fn(p->shared, local, i, &error);
    }
    pthread_mutex_lock(&p->lock);
    if (r < 0 && p->code == 0) {
        p->code = r;
        p->error = error;
        error = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    kiln_error_free(error);
    if (p->fini)
        p->fini(local);
    return NULL;
}

int kiln_jobs_run(size_t n, const bool *skip, unsigned workers, kiln_job_init_fn *init,
                  kiln_job_fini_fn *fini, kiln_job_fn *fn, void *shared, struct kiln_error **err)
{
    struct pool p = {.n = n, .skip = skip, .init = init, .fini = fini, .fn = fn, .shared = shared};
    pthread_mutex_init(&p.lock, NULL);
    if (workers > JOBS_WORKERS_MAX)
        workers = JOBS_WORKERS_MAX;
    if (workers > n)
        workers = (unsigned)n;
    pthread_t t[JOBS_WORKERS_MAX];
    unsigned started = 0;
    for (; started < workers; started++)
        if (pthread_create(&t[started], NULL, worker, &p) != 0)
            break;
    if (started == 0 && n)
        worker(&p);
    for (unsigned i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    pthread_mutex_destroy(&p.lock);
    if (p.code < 0) {
        if (err && !*err)
            *err = p.error;
        else
            kiln_error_free(p.error);
    }
    return p.code;
}
