/* SPDX-License-Identifier: Apache-2.0 */
/*
 * progress.h - what a build shows while it runs, in the modes of buildx's
 * --progress: plain (BuildKit's plain printer, so CI logs look familiar),
 * tty (a live view redrawn in place), rawjson (one SolveStatus JSON object per
 * line), quiet (nothing).
 *
 *   struct kiln_progress *p = kiln_progress_new(KILN_PROGRESS_PLAIN, stderr);
 *   kiln_progress_start(p, "v1", "[1/2] FROM docker.io/library/alpine:3.19");
 *   kiln_progress_status(p, "v1", "sha256:ab12...", 1024, 4096, false);
 *   kiln_progress_done(p, "v1");
 *   kiln_progress_free(p);
 *
 * Vertices are named by an id of the caller's (a digest); the printer numbers
 * them #1, #2, ... in order of first appearance. Every function is safe to
 * call from several threads at once.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/cleanup.h"
#include "base/error.h"

/* Caps on what a build's steps can make the printer keep. */
#define KILN_PROGRESS_LINE_MAX   (64 * 1024) /* a log line longer than this is broken there */
#define KILN_PROGRESS_STATUS_MAX 256         /* statuses kept per vertex; later ones are dropped */

enum kiln_progress_mode {
    KILN_PROGRESS_AUTO, /* tty when the stream is a terminal, else plain */
    KILN_PROGRESS_PLAIN,
    KILN_PROGRESS_TTY,
    KILN_PROGRESS_QUIET,
    KILN_PROGRESS_RAWJSON,
};

/* Parses "auto", "plain", "tty", "quiet" or "rawjson". Errors: KILN_E_INVALID naming the choices.
 */
int kiln_progress_mode_parse(const char *s, enum kiln_progress_mode *ret, struct kiln_error **err);

struct kiln_progress;

/*
 * A printer writing to `out` (not closed by the printer). Never fails.
 * AUTO is decided here: tty when `out` is a terminal, else plain. The tty
 * mode redraws from a thread of its own every 150 ms until freed.
 */
struct kiln_progress *kiln_progress_new(enum kiln_progress_mode mode, FILE *out);

/*
 * Finishes the output and frees; NULL is fine. Plain and tty end as BuildKit
 * does: the tty view's last frame, then for every failed vertex its last log
 * lines between "------" rules, then buildx's list of the warnings.
 */
void kiln_progress_free(struct kiln_progress *p);
KILN_DEFINE_CLEANUP(struct kiln_progress, kiln_progress_free)

/* A vertex started running ("#3 [2/5] COPY src /app"). */
void kiln_progress_start(struct kiln_progress *p, const char *id, const char *name);
/* A vertex was a cache hit ("#3 CACHED"), whether or not it was started. */
void kiln_progress_cached(struct kiln_progress *p, const char *id, const char *name);
/* A started vertex finished ("#3 DONE 0.4s"). */
void kiln_progress_done(struct kiln_progress *p, const char *id);
/* A started vertex failed ("#3 ERROR: msg"). */
void kiln_progress_error(struct kiln_progress *p, const char *id, const char *message);
/* A started vertex was cancelled ("#3 CANCELED"). */
void kiln_progress_canceled(struct kiln_progress *p, const char *id);

/*
 * A status line of a vertex: `status` names it ("transferring context:",
 * "sha256:ab12..."), `current` and `total` are bytes (total 0: unknown),
 * `done` ends it (later reports of it are ignored). Plain mode prints
 * "#1 transferring context: 2.31MB" or "#6 sha256:ab... 4.19MB / 4.19MB 2.1s
 * done"; as BuildKit, an open status is printed again only after 5% more of
 * its total or 5 s. At most KILN_PROGRESS_STATUS_MAX statuses per vertex.
 */
void kiln_progress_status(struct kiln_progress *p, const char *id, const char *status,
                          uint64_t current, uint64_t total, bool done);

/*
 * Output of a vertex's process: stream 1 stdout, 2 stderr ("#6 0.215 compiling...":
 * seconds since the vertex started). A line may come in pieces; one longer
 * than KILN_PROGRESS_LINE_MAX is broken there.
 */
void kiln_progress_log(struct kiln_progress *p, const char *id, int stream, const char *data,
                       size_t len);

/*
 * A warning attached to a vertex ("#3 WARN: msg"); id may be NULL for the
 * build (then it shows only in the list at the end).
 */
void kiln_progress_warn(struct kiln_progress *p, const char *id, const char *message);

/*
 * Feeds one --progress=rawjson line (a parsed SolveStatus, as this printer's
 * rawjson mode writes them) into p, whatever p's mode: how a remote build's
 * progress is shown. Unknown keys and malformed entries are skipped.
 */
struct json_t;
void kiln_progress_replay(struct kiln_progress *p, struct json_t *line);
