/* SPDX-License-Identifier: Apache-2.0 */
/*
 * progress.c - build progress in BuildKit's plain format, as rawjson lines,
 * or nothing (docs/internals/progress.md).
 */
#include "progress.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/human.h"
#include "progress-private.h"

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

struct kiln_progress *kiln_progress_new(enum kiln_progress_mode mode, FILE *out)
{
    struct kiln_progress *p = kiln_xcalloc(1, sizeof(*p));
    if (mode == KILN_PROGRESS_AUTO)
        mode = isatty(fileno(out)) && !kiln_progress_dumb_terminal() ? KILN_PROGRESS_TTY
                                                                     : KILN_PROGRESS_PLAIN;
    p->mode = mode;
    p->out = out;
    p->last = -1;
    p->begun = kiln_progress_now();
    pthread_mutex_init(&p->lock, NULL);
    if (mode == KILN_PROGRESS_TTY)
        kiln_progress_tty_start(p);
    return p;
}

void kiln_progress_free(struct kiln_progress *p)
{
    if (!p)
        return;
    if (p->mode == KILN_PROGRESS_TTY)
        kiln_progress_tty_stop(p);
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].id);
        free(p->v[i].name);
        for (size_t k = 0; k < KILN_PROGRESS_TAIL; k++)
            free(p->v[i].tail[k]);
    }
    free(p->v);
    free(p->warning);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int64_t kiln_progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct vertex *find(struct kiln_progress *p, const char *id, long *ret_index)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].id, id) == 0) {
            *ret_index = (long)i;
            return &p->v[i];
        }
    KILN_GROW(p->v, p->alloc, p->n + 1);
    p->v[p->n] = (struct vertex){.id = kiln_xstrdup(id), .number = (unsigned)p->n + 1};
    *ret_index = (long)p->n;
    return &p->v[p->n++];
}

/* Starts output for vertex `i`: a blank line when another vertex was printed last. */
static void switch_to(struct kiln_progress *p, long i)
{
    if (p->last != i && p->last != -1)
        fputc('\n', p->out);
    p->last = i;
}

static bool plain(const struct kiln_progress *p)
{
    return p->mode == KILN_PROGRESS_PLAIN;
}

static void json_line(struct kiln_progress *p, const char *fmt, ...) _printf_(2, 3);
static void json_line(struct kiln_progress *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
    fflush(p->out);
}

static void print_json_vertex(struct kiln_progress *p, const struct vertex *v, const char *name,
                              bool cached, bool completed, const char *error)
{
    json_t *vx = json_pack("{s:s}", "digest", v->id);
    if (name)
        json_object_set_new(vx, "name", json_string(name));
    if (cached)
        json_object_set_new(vx, "cached", json_true());
    if (completed)
        json_object_set_new(vx, "completed", json_true());
    if (error)
        json_object_set_new(vx, "error", json_string(error));
    json_t *status = json_pack("{s:[o]}", "vertexes", vx);
    char *text = json_dumps(status, JSON_COMPACT);
    json_decref(status);
    if (text)
        json_line(p, "%s", text);
    free(text);
}

void kiln_progress_start(struct kiln_progress *p, const char *id, const char *name)
{
    if (!p || p->mode == KILN_PROGRESS_QUIET)
        return;
    pthread_mutex_lock(&p->lock);
    long i;
    struct vertex *v = find(p, id, &i);
    v->started = kiln_progress_now();
    if (p->mode == KILN_PROGRESS_TTY) {
        free(v->name);
        v->name = kiln_xstrdup(name);
        v->state = KILN_PROGRESS_RUNNING;
        kiln_progress_tty_draw(p, false);
    } else if (plain(p)) {
        switch_to(p, i);
        fprintf(p->out, "#%u %s\n", v->number, name);
        fflush(p->out);
    } else {
        print_json_vertex(p, v, name, false, false, NULL);
    }
    pthread_mutex_unlock(&p->lock);
}

void kiln_progress_cached(struct kiln_progress *p, const char *id, const char *name)
{
    if (!p || p->mode == KILN_PROGRESS_QUIET)
        return;
    pthread_mutex_lock(&p->lock);
    long i;
    struct vertex *v = find(p, id, &i);
    if (p->mode == KILN_PROGRESS_TTY) {
        free(v->name);
        v->name = kiln_xstrdup(name);
        v->state = KILN_PROGRESS_CACHED;
        kiln_progress_tty_draw(p, false);
    } else if (plain(p)) {
        switch_to(p, i);
        fprintf(p->out, "#%u %s\n#%u CACHED\n", v->number, name, v->number);
        fflush(p->out);
    } else {
        print_json_vertex(p, v, name, true, true, NULL);
    }
    pthread_mutex_unlock(&p->lock);
}

static void finish(struct kiln_progress *p, const char *id, const char *word, const char *msg)
{
    if (!p || p->mode == KILN_PROGRESS_QUIET)
        return;
    pthread_mutex_lock(&p->lock);
    long i;
    struct vertex *v = find(p, id, &i);
    if (p->mode == KILN_PROGRESS_TTY) {
        v->ended = kiln_progress_now();
        v->state = strcmp(word, "DONE") == 0    ? KILN_PROGRESS_DONE
                   : strcmp(word, "ERROR") == 0 ? KILN_PROGRESS_FAILED
                                                : KILN_PROGRESS_CANCELED;
        if (msg)
            kiln_progress_tail(v, msg, strlen(msg));
        kiln_progress_tty_draw(p, false);
    } else if (plain(p)) {
        switch_to(p, i);
        if (msg)
            fprintf(p->out, "#%u %s: %s\n", v->number, word, msg);
        else if (strcmp(word, "DONE") == 0)
            fprintf(p->out, "#%u DONE %.1fs\n", v->number,
                    v->started ? (double)(kiln_progress_now() - v->started) / 1e9 : 0.0);
        else
            fprintf(p->out, "#%u %s\n", v->number, word);
        fflush(p->out);
    } else {
        print_json_vertex(p, v, NULL, false, true, msg);
    }
    pthread_mutex_unlock(&p->lock);
}

void kiln_progress_done(struct kiln_progress *p, const char *id)
{
    finish(p, id, "DONE", NULL);
}

void kiln_progress_error(struct kiln_progress *p, const char *id, const char *message)
{
    finish(p, id, "ERROR", message ? message : "failed");
}

void kiln_progress_canceled(struct kiln_progress *p, const char *id)
{
    finish(p, id, "CANCELED", NULL);
}

void kiln_progress_status(struct kiln_progress *p, const char *id, const char *status,
                          uint64_t current, uint64_t total, bool done)
{
    if (!p || p->mode != KILN_PROGRESS_PLAIN || (!done && total == 0 && current == 0))
        return;
    if (!done)
        return; /* plain output shows a status once it is complete */
    pthread_mutex_lock(&p->lock);
    long i;
    struct vertex *v = find(p, id, &i);
    switch_to(p, i);
    char cur[KILN_HUMAN_SIZE_MAX], tot[KILN_HUMAN_SIZE_MAX];
    kiln_human_size(current, cur);
    kiln_human_size(total, tot);
    if (total)
        fprintf(p->out, "#%u %s %s / %s done\n", v->number, status, cur, tot);
    else if (current)
        fprintf(p->out, "#%u %s: %s done\n", v->number, status, cur);
    else
        fprintf(p->out, "#%u %s done\n", v->number, status);
    fflush(p->out);
    pthread_mutex_unlock(&p->lock);
}

void kiln_progress_log(struct kiln_progress *p, const char *id, int stream, const char *data,
                       size_t len)
{
    (void)stream;
    if (!p || (p->mode != KILN_PROGRESS_PLAIN && p->mode != KILN_PROGRESS_TTY))
        return;
    pthread_mutex_lock(&p->lock);
    long i;
    struct vertex *v = find(p, id, &i);
    if (p->mode == KILN_PROGRESS_TTY) {
        kiln_progress_tail(v, data, len);
        kiln_progress_tty_draw(p, false);
        pthread_mutex_unlock(&p->lock);
        return;
    }
    switch_to(p, i);
    double t = v->started ? (double)(kiln_progress_now() - v->started) / 1e9 : 0.0;
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) : len;
        fprintf(p->out, "#%u %.*f %.*s\n", v->number,
                t < 10    ? 3
                : t < 100 ? 2
                          : 1,
                t, (int)n, data);
        n += nl ? 1 : 0;
        data += n;
        len -= n;
    }
    fflush(p->out);
    pthread_mutex_unlock(&p->lock);
}

void kiln_progress_warn(struct kiln_progress *p, const char *id, const char *message)
{
    if (!p || p->mode == KILN_PROGRESS_QUIET)
        return;
    pthread_mutex_lock(&p->lock);
    if (p->mode == KILN_PROGRESS_TTY) {
        free(p->warning);
        p->warning = kiln_xstrdup(message);
    } else if (id) {
        long i;
        struct vertex *v = find(p, id, &i);
        switch_to(p, i);
        fprintf(p->out, "#%u WARN: %s\n", v->number, message);
    } else {
        fprintf(p->out, "WARNING: %s\n", message);
    }
    if (p->mode != KILN_PROGRESS_TTY)
        fflush(p->out);
    pthread_mutex_unlock(&p->lock);
}
