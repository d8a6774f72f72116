/* SPDX-License-Identifier: Apache-2.0 */
/*
 * progress-plain.c - BuildKit's plain printer: "#N" blocks separated by blank
 * lines, "#N ..." when output moves to another vertex, log lines with the
 * seconds since the step started, and "#N DONE 0.4s" (docs/internals/progress.md).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "progress-private.h"

#include "base/banned.h"

/* BuildKit prints an open status again after 5% more progress or 5 s. */
#define STATUS_MIN_DELTA 0.05
#define STATUS_MIN_NS    (5 * INT64_C(1000000000))

struct plain {
    struct progress_vertex *current; /* the vertex whose block is open */
    bool not_first;
    unsigned next_number;
};

static struct plain *state(struct kiln_progress *p)
{
    if (!p->state)
        p->state = kiln_xcalloc(1, sizeof(struct plain));
    return p->state;
}

/* Opens v's block: "#old ..." for the block left open, a blank line, "#N name". */
static void open_block(struct kiln_progress *p, struct plain *s, struct progress_vertex *v)
{
    if (!v->number)
        v->number = ++s->next_number;
    if (s->current == v)
        return;
    if (s->current) {
        if (s->current->partial_shown)
            fputc('\n', p->out);
        s->current->partial_shown = 0;
        fprintf(p->out, "#%u ...\n", s->current->number);
    }
    if (s->not_first)
        fputc('\n', p->out);
    s->not_first = true;
    const char *trunc = getenv("PROGRESS_NO_TRUNC");
    if (trunc && strcmp(trunc, "0") == 0 && strlen(v->name) > 72)
        fprintf(p->out, "#%u %.72s...\n", v->number, v->name);
    else
        fprintf(p->out, "#%u %s\n", v->number, v->name);
    s->current = v;
}

static bool status_due(const struct progress_status *st)
{
    if (!st->printed || st->completed)
        return true;
    double delta =
            st->total ? ((double)st->current - (double)st->printed_current) / (double)st->total : 0;
    return delta >= STATUS_MIN_DELTA || st->timestamp - st->printed_at >= STATUS_MIN_NS;
}

static void print_status(struct kiln_progress *p, const struct progress_vertex *v,
                         struct progress_status *st)
{
    char cur[32], tot[32];
    kiln_progress_bytes(st->current, cur);
    kiln_progress_bytes(st->total, tot);
    fprintf(p->out, "#%u %s", v->number, st->id);
    if (st->total)
        fprintf(p->out, " %s / %s", cur, tot);
    else if (st->current)
        fprintf(p->out, " %s", cur);
    double sec = (double)((st->completed ? st->completed : st->timestamp) - st->started) / 1e9;
    if (sec > 0.01)
        fprintf(p->out, " %.1fs", sec);
    fputs(st->completed ? " done\n" : "\n", p->out);
    st->printed = true;
    st->printed_current = st->current;
    st->printed_at = st->timestamp;
}

/* Complete lines, then the partial one; a line the screen already began goes on from there. */
static void print_logs(struct kiln_progress *p, struct progress_vertex *v,
                       const struct progress_event *ev)
{
    bool first = true;
    for (size_t i = 0; i < ev->n_lines; i++, first = false) {
        const char *l = ev->lines[i];
        if (first && ev->continues && v->partial_shown)
            fprintf(p->out, "%s\n", l + v->partial_shown);
        else
            fprintf(p->out, "#%u %s\n", v->number, l);
        v->partial_shown = 0;
    }
    if (v->partial.len) {
        if (first && v->partial_shown)
            fputs(v->partial.buf + v->partial_shown, p->out);
        else
            fprintf(p->out, "#%u %s", v->number, v->partial.buf);
        v->partial_shown = v->partial.len;
    }
}

static void close_block(struct kiln_progress *p, struct plain *s, struct progress_vertex *v)
{
    s->current = NULL;
    if (v->partial_shown)
        fputc('\n', p->out);
    v->partial_shown = 0;
    if (v->canceled)
        fprintf(p->out, "#%u CANCELED\n", v->number);
    else if (v->error)
        fprintf(p->out, "#%u ERROR: %s\n", v->number, v->error);
    else if (v->cached)
        fprintf(p->out, "#%u CACHED\n", v->number);
    else
        fprintf(p->out, "#%u DONE %.1fs\n", v->number,
                (double)kiln_progress_vertex_busy(v, v->completed) / 1e9);
}

static void plain_event(struct kiln_progress *p, struct progress_vertex *v,
                        const struct progress_event *ev)
{
    struct plain *s = state(p);
    if (!v) /* a warning of the whole build: in the summary at the end */
        return;
    if (ev->kind == PROGRESS_STATUS && !status_due(ev->status))
        return;
    open_block(p, s, v);
    bool open_status = false;
    switch (ev->kind) {
    case PROGRESS_STATUS:
        print_status(p, v, ev->status);
        open_status = !ev->status->completed;
        break;
    case PROGRESS_LOG: print_logs(p, v, ev); break;
    case PROGRESS_WARN: fprintf(p->out, "#%u WARN: %s\n", v->number, ev->message); break;
    default: break;
    }
    if (v->completed && !open_status)
        close_block(p, s, v);
}

static void plain_finish(struct kiln_progress *p)
{
    pthread_mutex_lock(&p->lock);
    kiln_progress_print_summary(p);
    fflush(p->out);
    pthread_mutex_unlock(&p->lock);
}

static void plain_free(struct kiln_progress *p)
{
    free(p->state);
    p->state = NULL;
}

const struct progress_printer kiln_progress_plain = {
        .event = plain_event,
        .finish = plain_finish,
        .free = plain_free,
};
