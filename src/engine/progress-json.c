/* SPDX-License-Identifier: Apache-2.0 */
/*
 * progress-json.c - --progress=rawjson: every event as one line holding the
 * JSON of BuildKit's client.SolveStatus, as Go's encoder writes it
 * (docs/internals/progress.md).
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "oci/json.h"
#include "progress-private.h"

#include "base/banned.h"

#define JSON_LINE_MAX (4 * KILN_PROGRESS_LINE_MAX)

/* Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped. */
static void json_time(struct kiln_oci_jw *w, const char *key, int64_t ns)
{
    time_t sec = (time_t)(ns / 1000000000);
    long frac = (long)(ns % 1000000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char s[64], f[16] = "";
    if (frac) {
        snprintf(f, sizeof(f), ".%09ld", frac);
        size_t n = strlen(f);
        while (f[n - 1] == '0')
            f[--n] = '\0';
    }
    snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, f);
    kiln_oci_jw_key(w, key);
    kiln_oci_jw_string(w, s);
}

static void json_str(struct kiln_oci_jw *w, const char *key, const char *value)
{
    kiln_oci_jw_key(w, key);
    kiln_oci_jw_string(w, value);
}

static void vertex(struct kiln_oci_jw *w, const struct progress_vertex *v)
{
    json_str(w, "digest", v->id);
    json_str(w, "name", v->name);
    if (v->started)
        json_time(w, "started", v->started);
    if (v->completed)
        json_time(w, "completed", v->completed);
    if (v->cached) {
        kiln_oci_jw_key(w, "cached");
        kiln_oci_jw_bool(w, true);
    }
    if (v->canceled)
        json_str(w, "error", "context canceled");
    else if (v->error)
        json_str(w, "error", v->error);
}

static void status(struct kiln_oci_jw *w, const struct progress_vertex *v,
                   const struct progress_status *s)
{
    json_str(w, "id", s->id);
    json_str(w, "vertex", v->id);
    if (s->total) {
        kiln_oci_jw_key(w, "total");
        kiln_oci_jw_int(w, (int64_t)s->total);
    }
    kiln_oci_jw_key(w, "current");
    kiln_oci_jw_int(w, (int64_t)s->current);
    json_time(w, "timestamp", s->timestamp);
    json_time(w, "started", s->started);
    if (s->completed)
        json_time(w, "completed", s->completed);
}

static void json_line(struct kiln_progress *p, struct progress_vertex *v,
                      const struct progress_event *ev)
{
    static const char *const lists[] = {
            [PROGRESS_START] = "vertexes",    [PROGRESS_CACHED] = "vertexes",
            [PROGRESS_DONE] = "vertexes",     [PROGRESS_ERROR] = "vertexes",
            [PROGRESS_CANCELED] = "vertexes", [PROGRESS_STATUS] = "statuses",
            [PROGRESS_LOG] = "logs",          [PROGRESS_WARN] = "warnings",
    };
    struct kiln_buf b = KILN_BUF_INIT(JSON_LINE_MAX);
    struct kiln_oci_jw w;
    kiln_oci_jw_init(&w, &b, false);
    kiln_oci_jw_open(&w, '{');
    kiln_oci_jw_key(&w, lists[ev->kind]);
    kiln_oci_jw_open(&w, '[');
    kiln_oci_jw_open(&w, '{');
    switch (ev->kind) {
    case PROGRESS_STATUS: status(&w, v, ev->status); break;
    case PROGRESS_LOG:
        json_str(&w, "vertex", v->id);
        kiln_oci_jw_key(&w, "stream");
        kiln_oci_jw_int(&w, ev->stream);
        kiln_oci_jw_key(&w, "data");
        kiln_oci_jw_base64(&w, (const uint8_t *)ev->data, ev->len);
        json_time(&w, "timestamp", ev->now);
        break;
    case PROGRESS_WARN:
        if (v)
            json_str(&w, "vertex", v->id);
        kiln_oci_jw_key(&w, "level");
        kiln_oci_jw_int(&w, 1);
        kiln_oci_jw_key(&w, "short");
        kiln_oci_jw_base64(&w, (const uint8_t *)ev->message, strlen(ev->message));
        break;
    default: vertex(&w, v); break;
    }
    kiln_oci_jw_close(&w, '}');
    kiln_oci_jw_close(&w, ']');
    kiln_oci_jw_close(&w, '}');
    if (w.r == 0)
        fprintf(p->out, "%s\n", b.buf);
    kiln_buf_release(&b);
}

/* A log chunk larger than a line may hold goes out as several log events. */
static void json_event(struct kiln_progress *p, struct progress_vertex *v,
                       const struct progress_event *ev)
{
    if (ev->kind != PROGRESS_LOG || ev->len <= KILN_PROGRESS_LINE_MAX) {
        json_line(p, v, ev);
        return;
    }
    struct progress_event part = *ev;
    for (size_t off = 0; off < ev->len; off += KILN_PROGRESS_LINE_MAX) {
        part.data = ev->data + off;
        part.len = ev->len - off < KILN_PROGRESS_LINE_MAX ? ev->len - off : KILN_PROGRESS_LINE_MAX;
        json_line(p, v, &part);
    }
}

const struct progress_printer kiln_progress_json = {
        .event = json_event,
};
