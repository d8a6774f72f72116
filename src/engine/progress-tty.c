/* SPDX-License-Identifier: Apache-2.0 */
/*
 * progress-tty.c - the live view: a header with the elapsed time, one line
 * per step with its timer, the last lines of running steps' output, redrawn
 * in place (docs/internals/progress.md).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "progress-private.h"

#include "base/banned.h"

bool kiln_progress_dumb_terminal(void)
{
    const char *t = getenv("TERM");
    return !t || !*t || strcmp(t, "dumb") == 0;
}

void kiln_progress_tail(struct vertex *v, const char *data, size_t len)
{
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) : len;
        free(v->tail[0]);
        memmove(v->tail, v->tail + 1, (KILN_PROGRESS_TAIL - 1) * sizeof(*v->tail));
        v->tail[KILN_PROGRESS_TAIL - 1] = kiln_xstrndup(data, n);
        n += nl ? 1 : 0;
        data += n;
        len -= n;
    }
}

static unsigned columns(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

/* One line, cut to the terminal's width (so the cursor arithmetic holds). */
static void line(struct kiln_progress *p, unsigned width, const char *text, const char *right)
{
    size_t rl = right ? strlen(right) : 0;
    size_t room = width > rl + 1 ? width - rl - 1 : 0;
    size_t tl = strlen(text);
    if (tl > room)
        tl = room;
    fprintf(p->out, "%.*s%*s%s\n", (int)tl, text, (int)(room - tl + (rl ? 1 : 0)), "",
            right ? right : "");
    p->lines++;
}

static double secs(int64_t from, int64_t to)
{
    return from ? (double)(to - from) / 1e9 : 0.0;
}

void kiln_progress_tty_draw(struct kiln_progress *p, bool final)
{
    int64_t now = kiln_progress_now();
    if (!final && now - p->drawn < 100000000)
        return;
    p->drawn = now;
    unsigned width = columns(p->out);
    if (p->lines)
        fprintf(p->out, "\033[%uA\033[J", p->lines);
    p->lines = 0;
    size_t done = 0;
    for (size_t i = 0; i < p->n; i++)
        done += p->v[i].state >= KILN_PROGRESS_CACHED;
    char head[128];
    snprintf(head, sizeof(head), "[+] Building %.1fs (%zu/%zu)%s", secs(p->begun, now), done, p->n,
             final ? " FINISHED" : "");
    line(p, width, head, NULL);
    for (size_t i = 0; i < p->n; i++) {
        const struct vertex *v = &p->v[i];
        if (!v->name)
            continue;
        char text[4096], timer[32] = "";
        const char *prefix = v->state == KILN_PROGRESS_CACHED   ? "CACHED "
                             : v->state == KILN_PROGRESS_FAILED ? "ERROR "
                                                                : "";
        snprintf(text, sizeof(text), " => %s%s", prefix, v->name);
        if (v->state != KILN_PROGRESS_CACHED)
            snprintf(timer, sizeof(timer), "%.1fs", secs(v->started, v->ended ? v->ended : now));
        line(p, width, text, timer);
        if (v->state == KILN_PROGRESS_RUNNING || v->state == KILN_PROGRESS_FAILED)
            for (size_t k = 0; k < KILN_PROGRESS_TAIL; k++)
                if (v->tail[k]) {
                    snprintf(text, sizeof(text), " => => # %s", v->tail[k]);
                    line(p, width, text, NULL);
                }
    }
    if (p->warning) {
        char text[4096];
        snprintf(text, sizeof(text), "WARNING: %s", p->warning);
        line(p, width, text, NULL);
    }
    fflush(p->out);
}

static void *tick(void *arg)
{
    struct kiln_progress *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->wake, &p->lock, &ts);
        if (!p->stop)
            kiln_progress_tty_draw(p, false);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

void kiln_progress_tty_start(struct kiln_progress *p)
{
    pthread_cond_init(&p->wake, NULL);
    p->ticking = pthread_create(&p->ticker, NULL, tick, p) == 0;
}

void kiln_progress_tty_stop(struct kiln_progress *p)
{
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    if (p->ticking)
        pthread_join(p->ticker, NULL);
    pthread_mutex_lock(&p->lock);
    kiln_progress_tty_draw(p, true);
    pthread_mutex_unlock(&p->lock);
    pthread_cond_destroy(&p->wake);
}
