/* SPDX-License-Identifier: Apache-2.0 */
/*
 * progress-private.h - the state the progress printers share: the vertices
 * seen so far with their statuses, logs and warnings, kept by progress.c and
 * shown by one printer per mode (progress-plain.c, progress-tty.c,
 * progress-json.c). Everything here runs under the printer's lock.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"
#include "progress.h"

#define KILN_PROGRESS_ERROR_LINES 10 /* log lines shown again for a failed step */
#define KILN_PROGRESS_TTY_LINES   6  /* log lines of a running step in the live view */

struct progress_status {
    char *id;
    uint64_t current, total;
    int64_t started, timestamp, completed; /* ns; completed 0 while open */
    bool printed;                          /* plain: printed once */
    uint64_t printed_current;
    int64_t printed_at;
};

struct progress_vertex {
    char *id;
    char *name;
    unsigned number;            /* plain: #N, 0 until printed */
    int64_t started, completed; /* ns of the running interval; 0 when none */
    int64_t busy;               /* ns of the intervals already closed */
    bool cached, canceled;
    char *error;
    struct progress_status *statuses;
    size_t n_statuses, alloc_statuses;
    char **warnings;
    size_t n_warnings, alloc_warnings;
    /* The log line being written (no newline yet), with its time prefix. */
    struct kiln_buf partial;
    size_t partial_shown; /* plain: bytes of `partial` already on screen */
    /* The last complete log lines, a ring of KILN_PROGRESS_ERROR_LINES. */
    char *ring[KILN_PROGRESS_ERROR_LINES];
    size_t ring_next;
    size_t log_bytes; /* how much the step logged */
};

enum progress_event_kind {
    PROGRESS_START,
    PROGRESS_CACHED,
    PROGRESS_DONE,
    PROGRESS_ERROR,
    PROGRESS_CANCELED,
    PROGRESS_STATUS,
    PROGRESS_LOG,
    PROGRESS_WARN,
};

struct progress_event {
    enum progress_event_kind kind;
    int64_t now;
    struct progress_status *status; /* STATUS */
    /* LOG: the data as received, and the lines it completed or extended. */
    int stream;
    const char *data;
    size_t len;
    const char *const *lines; /* complete lines, each with its time prefix */
    size_t n_lines;
    bool continues;      /* the first line continues the partial line shown before */
    const char *message; /* WARN */
};

struct kiln_progress;

/* What a mode does with events; every hook runs under the lock. */
struct progress_printer {
    void (*event)(struct kiln_progress *p, struct progress_vertex *v,
                  const struct progress_event *ev);
    void (*finish)(struct kiln_progress *p); /* unlocked; NULL: nothing */
    void (*free)(struct kiln_progress *p);   /* the printer's state; NULL: none */
};

struct kiln_progress {
    enum kiln_progress_mode mode;
    FILE *out;
    pthread_mutex_t lock;
    const struct progress_printer *printer;
    int64_t (*clock)(void *userdata);
    void *clock_data;
    bool clock_fixed;           /* a test's clock: no timer thread */
    int64_t first_start;        /* ns of the first event */
    struct progress_vertex **v; /* in order of first appearance */
    size_t n, alloc;
    char **build_warnings; /* warnings without a vertex */
    size_t n_build_warnings, alloc_build_warnings;
    void *state; /* the printer's own */
};

extern const struct progress_printer kiln_progress_plain;
extern const struct progress_printer kiln_progress_tty;
extern const struct progress_printer kiln_progress_json;

/*
 * Replaces the clock (CLOCK_REALTIME in ns) by `clock(userdata)`: tests fix
 * the time. The tty view also stops redrawing by itself (frames then come
 * only from events and kiln_progress_tty_redraw). Call before any event.
 */
void kiln_progress_set_clock(struct kiln_progress *p, int64_t (*clock)(void *), void *userdata);

/* The tty view's terminal size when `out` is not a terminal (tests). */
void kiln_progress_tty_set_size(struct kiln_progress *p, int width, int height);
/* Draws a tty frame now, as the timer would. */
void kiln_progress_tty_redraw(struct kiln_progress *p);

/* The time since the vertex's current interval started, and its busy time in all. */
int64_t kiln_progress_vertex_busy(const struct progress_vertex *v, int64_t now);

/* Go-units' and BuildKit's "%.2f" of a byte count: "169B", "2.31MB". */
void kiln_progress_bytes(uint64_t n, char out[32]);

/*
 * What plain and tty print after the build: BuildKit's "------ > step:" block
 * with the last log lines of every failed vertex, then buildx's list of warnings.
 */
void kiln_progress_print_summary(struct kiln_progress *p);
