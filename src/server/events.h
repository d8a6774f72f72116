/* SPDX-License-Identifier: Apache-2.0 */
/*
 * events.h - a build's event log: NDJSON lines appended by kilnd as the
 * worker reports them, kept in full on disk, and read by any number of
 * followers that block for the next line until the build ends
 * (docs/internals/server.md).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

#define KILND_EVENT_LINE_MAX    (1u << 20) /* longer lines from a worker are cut */
#define KILND_EVENT_HEARTBEAT_S 5          /* an empty line when nothing happened for this */

struct kilnd_events;

/* Opens (creating, 0600) the log at path for appending; `done`: a finished build's log. */
int kilnd_events_open(const char *path, bool done, struct kilnd_events **ret,
                      struct kiln_error **err);
struct kilnd_events *kilnd_events_ref(struct kilnd_events *ev);
void kilnd_events_unref(struct kilnd_events *ev);

/* Appends one line (a '\n' is added) and wakes the followers. */
void kilnd_events_append(struct kilnd_events *ev, const char *line, size_t len);
/* Appends the JSON object `j` (taking the reference) as one line. */
void kilnd_events_append_json(struct kilnd_events *ev, void *j);
/* No more lines will come: followers end at the end of the log. */
void kilnd_events_finish(struct kilnd_events *ev);

/*
 * A follower: reads the log from its start, blocking at its end until more
 * is appended (an empty line every KILND_EVENT_HEARTBEAT_S while nothing is);
 * 0 once the log is finished and read. -1 on a read error.
 */
struct kilnd_events_reader;
struct kilnd_events_reader *kilnd_events_follow(struct kilnd_events *ev);
ssize_t kilnd_events_read(struct kilnd_events_reader *rd, char *buf, size_t max);
void kilnd_events_reader_free(struct kilnd_events_reader *rd);
