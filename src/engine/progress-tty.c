/* SPDX-License-Identifier: Apache-2.0 */
/*
 * progress-tty.c - the live view of buildx's tty mode: a header with the
 * elapsed time and the count of finished steps, a line per step with its
 * timer, the statuses under it and the last log lines of running steps,
 * redrawn in place; the last frame shows every step (docs/internals/progress.md).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "base/alloc.h"
#include "progress-private.h"

#include "base/banned.h"

#define REDRAW_NS    (100 * 1000000) /* events redraw at most this often */
#define TICK_NS      (150 * 1000000) /* and the timers move at least this often */
#define LINE_MAX_TTY 1024            /* a line of the view, ANSI aside */

#define COLOR_RUN    "\x1b[34m" /* finished: blue */
#define COLOR_ERROR  "\x1b[31m"
#define COLOR_CANCEL "\x1b[33m"
#define FAINT        "\x1b[2m"
#define RESET        "\x1b[0m"

struct tty {
    int width, height; /* fixed size; 0: ask the terminal */
    size_t line_count; /* lines of the last frame below its header */
    bool drawn;
    int64_t last_draw;
    pthread_t thread;
    bool thread_started, stop;
    pthread_cond_t wake;
};

struct line {
    char text[LINE_MAX_TTY];
    const char *color; /* NULL: none */
    bool completed;
};

static struct tty *state(struct kiln_progress *p)
{
    if (!p->state) {
        struct tty *t = kiln_xcalloc(1, sizeof(*t));
        pthread_cond_init(&t->wake, NULL);
        p->state = t;
    }
    return p->state;
}

void kiln_progress_tty_set_size(struct kiln_progress *p, int width, int height)
{
    if (p->printer != &kiln_progress_tty)
        return;
    pthread_mutex_lock(&p->lock);
    state(p)->width = width;
    state(p)->height = height;
    pthread_mutex_unlock(&p->lock);
}

static void size(struct kiln_progress *p, struct tty *t, int *w, int *h)
{
    struct winsize ws;
    *w = 80, *h = 10; /* BuildKit's default when the terminal does not say */
    if (t->width > 0) {
        *w = t->width, *h = t->height;
    } else if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
        *w = ws.ws_col, *h = ws.ws_row;
    }
    if (*w >= LINE_MAX_TTY)
        *w = LINE_MAX_TTY - 1;
}

/* buildx's job line: " => name [status]", the timer at the right edge. */
static bool job_line(struct line *l, int width, const char *name, const char *status, double sec)
{
    char timer[32];
    snprintf(timer, sizeof(timer), " %3.1fs", sec < 0.05 ? 0 : sec);
    int left = width - 4 - (int)strlen(timer) - 2;
    bool show_status = status && *status && left + (int)strlen(status) > 20;
    if (show_status)
        left -= (int)strlen(status) + 1;
    if (left < 12) /* too narrow */
        return false;
    char body[LINE_MAX_TTY];
    snprintf(body, sizeof(body), " => %.*s%s%s", left, name, show_status ? " " : "",
             show_status ? status : "");
    int pad = width - (int)strlen(timer) - 2;
    pad = pad < 0 ? 0 : pad;
    if (snprintf(l->text, sizeof(l->text), "%-*.*s %s", pad, pad, body, timer) < 0)
        return false;
    return true;
}

static void add(struct line **lines, size_t *n, size_t *alloc, const struct line *l)
{
    KILN_GROW(*lines, *alloc, *n + 1);
    (*lines)[(*n)++] = *l;
}

/* The log tail of a running step, without the time prefix the plain view adds. */
static void log_tail(struct line **lines, size_t *n, size_t *alloc, const struct progress_vertex *v,
                     int width)
{
    const char *tail[KILN_PROGRESS_ERROR_LINES + 1];
    size_t k = 0;
    for (size_t i = 0; i < KILN_PROGRESS_ERROR_LINES; i++) {
        const char *s = v->ring[(v->ring_next + i) % KILN_PROGRESS_ERROR_LINES];
        if (s)
            tail[k++] = s;
    }
    if (v->partial.len)
        tail[k++] = v->partial.buf;
    for (size_t i = k > KILN_PROGRESS_TTY_LINES ? k - KILN_PROGRESS_TTY_LINES : 0; i < k; i++) {
        const char *s = strchr(tail[i], ' ');
        struct line l = {.color = FAINT};
        snprintf(l.text, sizeof(l.text), " => => # %.*s", width > 10 ? width - 10 : 1,
                 s ? s + 1 : tail[i]);
        add(lines, n, alloc, &l);
    }
}

static void vertex_lines(struct line **lines, size_t *n, size_t *alloc,
                         const struct progress_vertex *v, int64_t now, int width, bool all)
{
    char name[LINE_MAX_TTY], st[80], cur[32], tot[32];
    snprintf(name, sizeof(name), "%s%s",
             v->canceled ? "CANCELED "
             : v->error  ? "ERROR "
             : v->cached ? "CACHED "
                         : "",
             v->name);
    struct line l = {.completed = v->completed != 0};
    l.color = !v->completed ? NULL
              : v->canceled ? COLOR_CANCEL
              : v->error    ? COLOR_ERROR
                            : COLOR_RUN;
    if (job_line(&l, width, name, NULL, (double)kiln_progress_vertex_busy(v, now) / 1e9))
        add(lines, n, alloc, &l);
    for (size_t i = 0; i < v->n_statuses; i++) {
        const struct progress_status *s = &v->statuses[i];
        kiln_progress_bytes(s->current, cur);
        kiln_progress_bytes(s->total, tot);
        if (s->total)
            snprintf(st, sizeof(st), "%s / %s", cur, tot);
        else
            snprintf(st, sizeof(st), "%s", s->current ? cur : "");
        snprintf(name, sizeof(name), "=> %s", s->id);
        l = (struct line){.completed = s->completed != 0, .color = s->completed ? COLOR_RUN : NULL};
        if (job_line(&l, width, name, st,
                     (double)((s->completed ? s->completed : now) - s->started) / 1e9))
            add(lines, n, alloc, &l);
    }
    for (size_t i = 0; i < v->n_warnings; i++) {
        snprintf(name, sizeof(name), "WARN: %s", v->warnings[i]);
        l = (struct line){.completed = true, .color = COLOR_CANCEL};
        if (job_line(&l, width, name, NULL, 0))
            add(lines, n, alloc, &l);
    }
    if (!all && !v->completed)
        log_tail(lines, n, alloc, v, width);
}

/* Keeps at most `limit` lines: finished ones from the top go first. */
static void fit(struct line *lines, size_t *n, size_t limit)
{
    for (size_t i = 0; *n > limit && i < *n;) {
        if (lines[i].completed) {
            memmove(&lines[i], &lines[i + 1], (*n - i - 1) * sizeof(*lines));
            (*n)--;
        } else {
            i++;
        }
    }
    if (*n > limit) {
        memmove(lines, lines + (*n - limit), limit * sizeof(*lines));
        *n = limit;
    }
}

static void draw(struct kiln_progress *p, bool all)
{
    struct tty *t = state(p);
    int width, height;
    size(p, t, &width, &height);
    int64_t now = p->clock(p->clock_data);
    struct line *lines = NULL;
    size_t n = 0, alloc = 0, done = 0, total = 0;
    for (size_t i = 0; i < p->n; i++) {
        const struct progress_vertex *v = p->v[i];
        total++;
        done += v->completed != 0;
        if (v->started)
            vertex_lines(&lines, &n, &alloc, v, now, width, all);
    }
    if (!all)
        fit(lines, &n, height > 2 ? (size_t)height - 2 : 0);
    if (t->drawn)
        fprintf(p->out, "\x1b[%zuA\r", t->line_count + 1);
    fputs("\x1b[?25l", p->out);
    char head[LINE_MAX_TTY];
    snprintf(head, sizeof(head), "[+] Building %.1fs (%zu/%zu)%s",
             (double)(now - p->first_start) / 1e9, done, total,
             all && done == total && total ? " FINISHED" : "");
    fprintf(p->out, "%-*.*s\n", width, width, head);
    for (size_t i = 0; i < n; i++)
        fprintf(p->out, "%s%s%s\n", lines[i].color ? lines[i].color : "", lines[i].text,
                lines[i].color ? RESET : "");
    if (t->line_count > n) { /* blank what the last frame had below */
        for (size_t i = n; i < t->line_count; i++)
            fprintf(p->out, "%*s\n", width, "");
        fprintf(p->out, "\x1b[%zuA\r", t->line_count - n);
    }
    fputs("\x1b[?25h", p->out);
    fflush(p->out);
    t->line_count = n;
    t->drawn = true;
    t->last_draw = now;
    free(lines);
}

void kiln_progress_tty_redraw(struct kiln_progress *p)
{
    if (p->printer != &kiln_progress_tty)
        return;
    pthread_mutex_lock(&p->lock);
    draw(p, false);
    pthread_mutex_unlock(&p->lock);
}

/* Moves the timers while no event comes. */
static void *ticker(void *arg)
{
    struct kiln_progress *p = arg;
    struct tty *t = p->state;
    pthread_mutex_lock(&p->lock);
    while (!t->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += TICK_NS;
        ts.tv_sec += ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&t->wake, &p->lock, &ts);
        if (!t->stop)
            draw(p, false);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void tty_event(struct kiln_progress *p, struct progress_vertex *v,
                      const struct progress_event *ev)
{
    (void)v;
    struct tty *t = state(p);
    if (!t->thread_started && !p->clock_fixed)
        t->thread_started = pthread_create(&t->thread, NULL, ticker, p) == 0;
    if (!t->drawn || ev->now - t->last_draw >= REDRAW_NS)
        draw(p, false);
}

static void tty_finish(struct kiln_progress *p)
{
    struct tty *t = state(p);
    pthread_mutex_lock(&p->lock);
    t->stop = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&p->lock);
    if (t->thread_started)
        pthread_join(t->thread, NULL);
    pthread_mutex_lock(&p->lock);
    if (p->n)
        draw(p, true);
    kiln_progress_print_summary(p);
    fflush(p->out);
    pthread_mutex_unlock(&p->lock);
}

static void tty_free(struct kiln_progress *p)
{
    struct tty *t = p->state;
    if (t)
        pthread_cond_destroy(&t->wake);
    free(t);
    p->state = NULL;
}

const struct progress_printer kiln_progress_tty = {
        .event = tty_event,
        .finish = tty_finish,
        .free = tty_free,
};
