/* SPDX-License-Identifier: Apache-2.0 */
/*
 * progress.c - the vertices a build reports, kept for the printer of the
 * chosen mode (docs/internals/progress.md).
 */
#include "progress-private.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"

#include "base/banned.h"

int kiln_progress_mode_parse(const char *s, enum kiln_progress_mode *ret, struct kiln_error **err)
{
    static const char *const names[] = {"auto", "plain", "tty", "quiet", "rawjson"};
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
        if (strcmp(s, names[i]) == 0) {
            *ret = (enum kiln_progress_mode)i;
            return 0;
        }
    return kiln_error_set(err, KILN_E_INVALID,
                          "invalid progress mode '%s': use auto, plain, tty, quiet or rawjson", s);
}

static int64_t realtime(void *userdata)
{
    (void)userdata;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct kiln_progress *kiln_progress_new(enum kiln_progress_mode mode, FILE *out)
{
    struct kiln_progress *p = kiln_xcalloc(1, sizeof(*p));
    if (mode == KILN_PROGRESS_AUTO)
        mode = isatty(fileno(out)) ? KILN_PROGRESS_TTY : KILN_PROGRESS_PLAIN;
    p->mode = mode;
    p->out = out;
    p->clock = realtime;
    pthread_mutex_init(&p->lock, NULL);
    p->printer = mode == KILN_PROGRESS_PLAIN     ? &kiln_progress_plain
                 : mode == KILN_PROGRESS_TTY     ? &kiln_progress_tty
                 : mode == KILN_PROGRESS_RAWJSON ? &kiln_progress_json
                                                 : NULL;
    return p;
}

void kiln_progress_set_clock(struct kiln_progress *p, int64_t (*clock)(void *), void *userdata)
{
    p->clock = clock;
    p->clock_data = userdata;
    p->clock_fixed = true;
}

static void strings_free(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

static void vertex_free(struct progress_vertex *v)
{
    free(v->id);
    free(v->name);
    free(v->error);
    for (size_t i = 0; i < v->n_statuses; i++)
        free(v->statuses[i].id);
    free(v->statuses);
    strings_free(v->warnings, v->n_warnings);
    kiln_buf_release(&v->partial);
    for (size_t i = 0; i < KILN_PROGRESS_ERROR_LINES; i++)
        free(v->ring[i]);
    free(v);
}

void kiln_progress_free(struct kiln_progress *p)
{
    if (!p)
        return;
    /* A printer's finish may stop a thread that takes the lock: call it unlocked. */
    if (p->printer && p->printer->finish)
        p->printer->finish(p);
    if (p->printer && p->printer->free)
        p->printer->free(p);
    for (size_t i = 0; i < p->n; i++)
        vertex_free(p->v[i]);
    free(p->v);
    strings_free(p->build_warnings, p->n_build_warnings);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int64_t kiln_progress_vertex_busy(const struct progress_vertex *v, int64_t now)
{
    int64_t busy = v->busy;
    if (v->started)
        busy += (v->completed ? v->completed : now) - v->started;
    return busy;
}

void kiln_progress_bytes(uint64_t n, char out[32])
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    if (n < 1000) {
        snprintf(out, 32, "%" PRIu64 "B", n);
        return;
    }
    size_t u = 0;
    uint64_t base = 1;
    while (n / base >= 1000 && u + 1 < sizeof(units) / sizeof(*units)) {
        base *= 1000;
        u++;
    }
    snprintf(out, 32, "%.2f%s", (double)n / (double)base, units[u]);
}

static struct progress_vertex *vertex_get(struct kiln_progress *p, const char *id)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i]->id, id) == 0)
            return p->v[i];
    KILN_GROW(p->v, p->alloc, p->n + 1);
    struct progress_vertex *v = kiln_xcalloc(1, sizeof(*v));
    v->id = kiln_xstrdup(id);
    v->name = kiln_xstrdup(id);
    kiln_buf_init(&v->partial, KILN_PROGRESS_LINE_MAX + 64);
    p->v[p->n++] = v;
    return v;
}

static void set_name(struct progress_vertex *v, const char *name)
{
    if (name && strcmp(v->name, name) != 0) {
        free(v->name);
        v->name = kiln_xstrdup(name);
    }
}

/* Takes the lock and the time; NULL when the mode prints nothing. */
static struct progress_vertex *begin(struct kiln_progress *p, const char *id,
                                     struct progress_event *ev, enum progress_event_kind kind)
{
    if (!p || !p->printer)
        return NULL;
    pthread_mutex_lock(&p->lock);
    *ev = (struct progress_event){.kind = kind, .now = p->clock(p->clock_data)};
    if (!p->first_start)
        p->first_start = ev->now;
    return id ? vertex_get(p, id) : NULL;
}

static void end(struct kiln_progress *p, struct progress_vertex *v, const struct progress_event *ev)
{
    p->printer->event(p, v, ev);
    fflush(p->out);
    pthread_mutex_unlock(&p->lock);
}

void kiln_progress_start(struct kiln_progress *p, const char *id, const char *name)
{
    struct progress_event ev;
    struct progress_vertex *v = begin(p, id, &ev, PROGRESS_START);
    if (!v)
        return;
    set_name(v, name);
    if (v->started && !v->completed) { /* already running */
        pthread_mutex_unlock(&p->lock);
        return;
    }
    if (v->completed)
        v->busy += v->completed - v->started;
    v->started = ev.now;
    v->completed = 0;
    end(p, v, &ev);
}

void kiln_progress_cached(struct kiln_progress *p, const char *id, const char *name)
{
    struct progress_event ev;
    struct progress_vertex *v = begin(p, id, &ev, PROGRESS_CACHED);
    if (!v)
        return;
    set_name(v, name);
    if (!v->started)
        v->started = ev.now;
    v->completed = ev.now;
    v->cached = true;
    end(p, v, &ev);
}

static void finish(struct kiln_progress *p, const char *id, enum progress_event_kind kind,
                   const char *message)
{
    struct progress_event ev;
    struct progress_vertex *v = begin(p, id, &ev, kind);
    if (!v)
        return;
    if (!v->started)
        v->started = ev.now;
    if (!v->completed)
        v->completed = ev.now;
    if (kind == PROGRESS_ERROR) {
        free(v->error);
        v->error = kiln_xstrdup(message && *message ? message : "failed");
    }
    v->canceled = kind == PROGRESS_CANCELED;
    end(p, v, &ev);
}

void kiln_progress_done(struct kiln_progress *p, const char *id)
{
    finish(p, id, PROGRESS_DONE, NULL);
}

void kiln_progress_error(struct kiln_progress *p, const char *id, const char *message)
{
    finish(p, id, PROGRESS_ERROR, message);
}

void kiln_progress_canceled(struct kiln_progress *p, const char *id)
{
    finish(p, id, PROGRESS_CANCELED, NULL);
}

static struct progress_status *status_get(struct progress_vertex *v, const char *id, int64_t now)
{
    for (size_t i = 0; i < v->n_statuses; i++)
        if (strcmp(v->statuses[i].id, id) == 0)
            return &v->statuses[i];
    if (v->n_statuses >= KILN_PROGRESS_STATUS_MAX)
        return NULL;
    KILN_GROW(v->statuses, v->alloc_statuses, v->n_statuses + 1);
    struct progress_status *s = &v->statuses[v->n_statuses++];
    *s = (struct progress_status){.id = kiln_xstrdup(id), .started = now};
    return s;
}

void kiln_progress_status(struct kiln_progress *p, const char *id, const char *status,
                          uint64_t current, uint64_t total, bool done)
{
    struct progress_event ev;
    struct progress_vertex *v = begin(p, id, &ev, PROGRESS_STATUS);
    if (!v)
        return;
    struct progress_status *s = status_get(v, status, ev.now);
    if (!s || s->completed) { /* over the cap, or already done */
        pthread_mutex_unlock(&p->lock);
        return;
    }
    s->current = current;
    s->total = total;
    s->timestamp = ev.now;
    if (done)
        s->completed = ev.now;
    ev.status = s;
    end(p, v, &ev);
}

/* Seconds since the vertex started, with BuildKit's precision: "0.215", "12.34", "123.4". */
static void log_prefix(struct kiln_buf *b, const struct progress_vertex *v, int64_t now)
{
    double sec = v->started ? (double)(now - v->started) / 1e9 : 0;
    kiln_buf_addf(b, "%.*f ", sec < 10 ? 3 : sec < 100 ? 2 : 1, sec);
}

static void ring_add(struct progress_vertex *v, const char *line)
{
    free(v->ring[v->ring_next]);
    v->ring[v->ring_next] = kiln_xstrdup(line);
    v->ring_next = (v->ring_next + 1) % KILN_PROGRESS_ERROR_LINES;
}

void kiln_progress_log(struct kiln_progress *p, const char *id, int stream, const char *data,
                       size_t len)
{
    struct progress_event ev;
    if (len == 0)
        return;
    struct progress_vertex *v = begin(p, id, &ev, PROGRESS_LOG);
    if (!v)
        return;
    ev.stream = stream;
    ev.data = data;
    ev.len = len;
    ev.continues = v->partial.len > 0;
    v->log_bytes += len;
    /* Lines complete after this chunk, then what stays partial in v->partial. */
    char **lines = NULL;
    size_t n = 0, alloc = 0;
    while (len) {
        if (v->partial.len == 0)
            log_prefix(&v->partial, v, ev.now);
        const char *nl = memchr(data, '\n', len);
        size_t k = nl ? (size_t)(nl - data) : len;
        size_t room = KILN_PROGRESS_LINE_MAX > v->partial.len
                              ? KILN_PROGRESS_LINE_MAX - v->partial.len
                              : 0;
        bool broken = k > room;
        if (broken)
            k = room;
        kiln_buf_add(&v->partial, data, k);
        data += k;
        len -= k;
        if (nl && !broken) {
            data++;
            len--;
        }
        if (nl || broken) {
            KILN_GROW(lines, alloc, n + 1);
            lines[n++] = kiln_buf_detach(&v->partial, NULL);
            ring_add(v, lines[n - 1]);
        }
    }
    ev.lines = (const char *const *)lines;
    ev.n_lines = n;
    end(p, v, &ev);
    strings_free(lines, n);
}

void kiln_progress_warn(struct kiln_progress *p, const char *id, const char *message)
{
    struct progress_event ev;
    struct progress_vertex *v = begin(p, id, &ev, PROGRESS_WARN);
    if (!p || !p->printer)
        return;
    if (v) {
        KILN_GROW(v->warnings, v->alloc_warnings, v->n_warnings + 1);
        v->warnings[v->n_warnings++] = kiln_xstrdup(message);
    } else {
        KILN_GROW(p->build_warnings, p->alloc_build_warnings, p->n_build_warnings + 1);
        p->build_warnings[p->n_build_warnings++] = kiln_xstrdup(message);
    }
    ev.message = message;
    end(p, v, &ev);
}

void kiln_progress_print_summary(struct kiln_progress *p)
{
    for (size_t i = 0; i < p->n; i++) {
        struct progress_vertex *v = p->v[i];
        if (!v->error || v->canceled)
            continue;
        fprintf(p->out, "------\n > %s:\n", v->name);
        for (size_t k = 0; k < KILN_PROGRESS_ERROR_LINES; k++) {
            const char *l = v->ring[(v->ring_next + k) % KILN_PROGRESS_ERROR_LINES];
            if (l)
                fprintf(p->out, "%s\n", l);
        }
        if (v->partial.len)
            fprintf(p->out, "%s\n", v->partial.buf);
        fputs("------\n", p->out);
    }
    size_t n = p->n_build_warnings;
    for (size_t i = 0; i < p->n; i++)
        n += p->v[i]->n_warnings;
    if (!n)
        return;
    fprintf(p->out, "\n %zu warning%s found:\n", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < p->n; i++)
        for (size_t k = 0; k < p->v[i]->n_warnings; k++)
            fprintf(p->out, " - %s\n", p->v[i]->warnings[k]);
    for (size_t i = 0; i < p->n_build_warnings; i++)
        fprintf(p->out, " - %s\n", p->build_warnings[i]);
}
