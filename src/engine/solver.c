/* SPDX-License-Identifier: Apache-2.0 */
/*
 * solver.c - runs the build graph on a pool of workers: a vertex runs once
 * its inputs are done; its cache key decides between reuse and work
 * (docs/internals/engine.md, "Solver").
 */
#include "solver.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "store/cache.h"

#include "base/banned.h"

#define WORKERS_DEFAULT 4u

enum vstate { V_PENDING, V_RUNNING, V_DONE };

struct sched {
    struct kiln_solver *sv;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    enum vstate *st;
    size_t remaining;
    int code; /* the first failure; 0 while none */
    struct kiln_error *error;
};

static const struct kiln_vertex *from_input(const struct kiln_vertex *v)
{
    if (v->kind == KILN_VERTEX_COPY && v->copy.from_kind == KILN_COPY_FROM_STATE)
        return v->copy.from;
    return NULL;
}

static bool is_ready(const struct sched *s, size_t i)
{
    struct kiln_vertex *v = s->sv->graph->v[i], **in;
    if (s->st[i] != V_PENDING || (v->base && s->st[v->base->index] != V_DONE))
        return false;
    for (size_t k = 0; (in = kiln_vertex_input(v, k)); k++)
        if (*in && s->st[(*in)->index] != V_DONE)
            return false;
    return true;
}

static int run_op(struct kiln_op_ctx *ctx, const struct kiln_vertex *v, const char *base,
                  const char *from, char snap[KILN_SNAPSHOT_ID_SIZE], struct kiln_error **err)
{
    switch (v->kind) {
    case KILN_VERTEX_IMAGE: return kiln_op_image(ctx, v, snap, err);
    case KILN_VERTEX_COPY:
    case KILN_VERTEX_MKDIR: return kiln_op_file(ctx, v, base, from, snap, err);
    case KILN_VERTEX_EXEC: return kiln_op_exec(ctx, v, base, snap, err);
    }
    return kiln_error_set(err, KILN_E_INVALID, "unknown vertex kind %d", (int)v->kind);
}

static int record(struct kiln_op_ctx *ctx, const char *key, const char *snap,
                  struct kiln_error **err)
{
    struct kiln_cache_entry e = {
            .builder = ctx->sv->builder, .key = key, .snapshot = *snap ? snap : NULL};
    int64_t id;
    if (!*snap)
        return 0; /* scratch: nothing to remember */
    int r = kiln_cache_insert(ctx->store, &e, &id, err);
    return r < 0 ? r : 0;
}

bool kiln_solve_cancelled(const struct kiln_solver *sv)
{
    struct pollfd p = {.fd = sv->cancel_fd, .events = POLLIN};
    return sv->cancel_fd > 0 && poll(&p, 1, 0) > 0;
}

static int solve_one(struct kiln_op_ctx *ctx, const struct kiln_vertex *v, struct kiln_error **err)
{
    struct kiln_solver *sv = ctx->sv;
    struct kiln_solve_result *res = &sv->results[v->index];
    const struct kiln_solve_result *base = v->base ? &sv->results[v->base->index] : NULL;
    const struct kiln_vertex *fromv = from_input(v);
    const struct kiln_solve_result *from = fromv ? &sv->results[fromv->index] : NULL;

    char content[KILN_OCI_DIGEST_MAX] = "";
    int r = kiln_op_content(ctx, v, content, err);
    if (r < 0)
        return r;
    kiln_solve_key(v, base ? base->key : "", from ? from->key : "", content, res->key);
    ctx->progress_id = res->key;

    _cleanup_(kiln_lease_freep) struct kiln_lease *flight = NULL;
    if (!v->no_cache) {
        _cleanup_(kiln_cache_record_freep) struct kiln_cache_record *hit = NULL;
        r = kiln_cache_begin(ctx->store, sv->builder, res->key, &hit, &flight, err);
        if (r < 0)
            return r;
        if (r == 1 && hit->snapshot) {
            snprintf(res->snapshot, sizeof(res->snapshot), "%s", hit->snapshot);
            res->cached = true;
            kiln_progress_cached(sv->progress, res->key, v->name);
            return 0;
        }
    }
    if (kiln_solve_cancelled(sv))
        return kiln_error_set(err, KILN_E_CANCELLED, "the build was cancelled");
    kiln_progress_start(sv->progress, res->key, v->name);
    r = run_op(ctx, v, base ? base->snapshot : "", from ? from->snapshot : "", res->snapshot, err);
    if (r >= 0)
        r = record(ctx, res->key, res->snapshot, err);
    if (r < 0) {
        kiln_progress_error(sv->progress, res->key, kiln_error_message(err ? *err : NULL, r));
        return r;
    }
    kiln_progress_done(sv->progress, res->key);
    return 0;
}

static void *worker(void *arg)
{
    struct sched *s = arg;
    struct kiln_op_ctx ctx = {.sv = s->sv};
    struct kiln_error *error = NULL;
    int r = kiln_store_open(s->sv->data_dir, &ctx.store, &error);
    if (r >= 0)
        r = kiln_store_lease_new(ctx.store, &ctx.lease, &error);
    pthread_mutex_lock(&s->lock);
    while (r >= 0 && s->code == 0 && s->remaining > 0) {
        size_t i, n = s->sv->graph->n;
        for (i = 0; i < n && !is_ready(s, i); i++)
            ;
        if (i == n) {
            pthread_cond_wait(&s->cond, &s->lock);
            continue;
        }
        s->st[i] = V_RUNNING;
        pthread_mutex_unlock(&s->lock);
        r = solve_one(&ctx, s->sv->graph->v[i], &error);
        pthread_mutex_lock(&s->lock);
        if (r >= 0) {
            s->st[i] = V_DONE;
            s->remaining--;
        }
        pthread_cond_broadcast(&s->cond);
    }
    if (r < 0 && s->code == 0) {
        s->code = r;
        s->error = error;
        error = NULL;
    }
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    kiln_error_free(error);
    kiln_lease_free(ctx.lease);
    kiln_store_close(ctx.store);
    return NULL;
}

/*
 * How many vertices can run at once: the most vertices on one level of the
 * graph (a vertex's level is one more than its inputs'). Workers beyond it
 * would only open store handles and contend for the database.
 */
static unsigned width(const struct kiln_graph *g)
{
    _cleanup_free_ size_t *level = kiln_xcalloc(g->n ? g->n : 1, sizeof(*level));
    _cleanup_free_ unsigned *count = kiln_xcalloc(g->n + 1, sizeof(*count));
    unsigned most = 1;
    for (size_t i = 0; i < g->n; i++) {
        struct kiln_vertex *v = g->v[i], **in;
        size_t l = 0;
        if (v->base && level[v->base->index] + 1 > l)
            l = level[v->base->index] + 1;
        for (size_t k = 0; (in = kiln_vertex_input(v, k)); k++)
            if (*in && level[(*in)->index] + 1 > l)
                l = level[(*in)->index] + 1;
        level[i] = l;
        if (++count[l] > most)
            most = count[l];
    }
    return most;
}

int kiln_solve(struct kiln_solver *sv, struct kiln_error **err)
{
    const struct kiln_graph *g = sv->graph;
    sv->results = kiln_xcalloc(g->n ? g->n : 1, sizeof(*sv->results));
    struct sched s = {.sv = sv, .remaining = g->n};
    s.st = kiln_xcalloc(g->n ? g->n : 1, sizeof(*s.st));
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);

    unsigned n = sv->workers ? sv->workers : WORKERS_DEFAULT;
    if (n > width(g))
        n = width(g);
    pthread_t *t = kiln_xcalloc(n, sizeof(*t));
    unsigned started = 0;
    for (; started < n; started++)
        if (pthread_create(&t[started], NULL, worker, &s) != 0)
            break;
    if (started == 0)
        worker(&s);
    for (unsigned i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    free(t);

    int r = s.code;
    if (r < 0) {
        if (err && !*err)
            *err = s.error;
        else
            kiln_error_free(s.error);
    }
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    free(s.st);
    return r;
}
