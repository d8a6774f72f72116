/* SPDX-License-Identifier: Apache-2.0 */
/*
 * progress-private.h - the state the progress printers share.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "progress.h"

/* Last lines of output kept per vertex for the tty view. */
#define KILN_PROGRESS_TAIL 6

enum kiln_progress_state {
    KILN_PROGRESS_WAITING,
    KILN_PROGRESS_RUNNING,
    KILN_PROGRESS_CACHED,
    KILN_PROGRESS_DONE,
    KILN_PROGRESS_FAILED,
    KILN_PROGRESS_CANCELED,
};

struct vertex {
    char *id;
    unsigned number;
    int64_t started, ended; /* ns; 0 when not */
    char *name;             /* tty */
    enum kiln_progress_state state;
    char *tail[KILN_PROGRESS_TAIL]; /* tty: last output lines, oldest first */
};

struct kiln_progress {
    enum kiln_progress_mode mode;
    FILE *out;
    pthread_mutex_t lock;
    struct vertex *v;
    size_t n, alloc;
    long last;     /* plain: index of the vertex printed last; -1 none */
    int64_t begun; /* ns */
    char *warning; /* tty: shown under the view */
    /* tty */
    pthread_t ticker;
    bool ticking, stop;
    pthread_cond_t wake;
    unsigned lines; /* lines the last frame took */
    int64_t drawn;  /* ns of the last frame */
};

int64_t kiln_progress_now(void);
/* Whether TERM says the terminal cannot move the cursor. */
bool kiln_progress_dumb_terminal(void);
/* Appends output to a vertex's tail, line by line. */
void kiln_progress_tail(struct vertex *v, const char *data, size_t len);
/* Redraws the tty view (at most ten times a second unless `final`); lock held. */
void kiln_progress_tty_draw(struct kiln_progress *p, bool final);
/* The ticker that keeps timers moving between events. */
void kiln_progress_tty_start(struct kiln_progress *p);
void kiln_progress_tty_stop(struct kiln_progress *p);
