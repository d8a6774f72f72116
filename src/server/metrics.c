/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c - /metrics in Prometheus' text format: builds, the queue, the
 * cache per builder and its hit ratio, bytes in and out
 * (docs/internals/server.md).
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "server.h"
#include "store/store.h"

#include "base/banned.h"

#define METRICS_MAX (4u << 20)

static void metric(struct kiln_buf *b, const char *name, const char *type, const char *help)
{
    kiln_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* kilnd_cache_bytes for every builder that has a store (held open as requests hold them). */
static void cache_sizes(struct kiln_buf *b, struct kilnd *app)
{
    const char *data_dir = app->data_dir;
    _cleanup_free_ char *root = kiln_xasprintf("%s/builders", data_dir);
    DIR *accounts = opendir(root);
    if (!accounts)
        return;
    metric(b, "kilnd_cache_bytes", "gauge", "Disk used by a builder's cache.");
    for (struct dirent *a; (a = readdir(accounts));) {
        if (a->d_name[0] == '.')
            continue;
        _cleanup_free_ char *adir = kiln_xasprintf("%s/%s", root, a->d_name);
        DIR *names = opendir(adir);
        for (struct dirent *n; names && (n = readdir(names));) {
            if (n->d_name[0] == '.')
                continue;
            _cleanup_free_ char *builder = kiln_xasprintf("%s/%s", a->d_name, n->d_name);
            struct kiln_store *s = NULL;
            struct kiln_store_usage u;
            if (kilnd_api_builder_store(app, builder, &s, NULL) >= 0 &&
                kiln_store_du(s, &u, NULL) >= 0)
                kiln_buf_addf(b, "kilnd_cache_bytes{builder=\"%s/%s\"} %" PRIu64 "\n", a->d_name,
                              n->d_name, u.total_bytes);
            kiln_store_close(s);
        }
        if (names)
            closedir(names);
    }
    closedir(accounts);
}

char *kilnd_metrics_text(struct kilnd *app)
{
    struct kilnd_queue_stats st;
    kilnd_queue_stats(app->queue, NULL, &st);
    struct kiln_buf b = KILN_BUF_INIT(METRICS_MAX);
    metric(&b, "kilnd_builds_total", "counter", "Builds that ended, by result.");
    static const char *const results[] = {"succeeded", "failed", "canceled"};
    for (size_t i = 0; i < 3; i++)
        kiln_buf_addf(&b, "kilnd_builds_total{result=\"%s\"} %" PRIu64 "\n", results[i],
                      st.finished[i]);
    metric(&b, "kilnd_builds_running", "gauge", "Builds running now.");
    kiln_buf_addf(&b, "kilnd_builds_running %u\n", st.running);
    metric(&b, "kilnd_queue_depth", "gauge", "Builds waiting for a free slot of their builder.");
    kiln_buf_addf(&b, "kilnd_queue_depth %u\n", st.queued);
    metric(&b, "kilnd_builds_uploading", "gauge", "Builds waiting for their context.");
    kiln_buf_addf(&b, "kilnd_builds_uploading %u\n", st.uploading);
    metric(&b, "kilnd_steps_total", "counter", "Build steps done or found in the cache.");
    kiln_buf_addf(&b, "kilnd_steps_total %" PRIu64 "\n", st.steps_total);
    metric(&b, "kilnd_steps_cached_total", "counter", "Build steps found in the cache.");
    kiln_buf_addf(&b, "kilnd_steps_cached_total %" PRIu64 "\n", st.steps_cached);
    metric(&b, "kilnd_cache_hit_ratio", "gauge", "Cached steps over all steps since start.");
    kiln_buf_addf(&b, "kilnd_cache_hit_ratio %.4f\n",
                  st.steps_total ? (double)st.steps_cached / (double)st.steps_total : 0.0);
    metric(&b, "kilnd_http_requests_total", "counter", "HTTP requests answered.");
    kiln_buf_addf(&b, "kilnd_http_requests_total %" PRIu64 "\n",
                  (uint64_t)atomic_load(&app->http_requests));
    metric(&b, "kilnd_http_received_bytes_total", "counter", "Request body bytes received.");
    kiln_buf_addf(&b, "kilnd_http_received_bytes_total %" PRIu64 "\n",
                  (uint64_t)atomic_load(&app->bytes_in));
    metric(&b, "kilnd_http_sent_bytes_total", "counter", "Response body bytes sent.");
    kiln_buf_addf(&b, "kilnd_http_sent_bytes_total %" PRIu64 "\n",
                  (uint64_t)atomic_load(&app->bytes_out));
    metric(&b, "kilnd_context_bytes_total", "counter", "Build context bytes uploaded.");
    kiln_buf_addf(&b, "kilnd_context_bytes_total %" PRIu64 "\n",
                  (uint64_t)atomic_load(&app->context_bytes));
    cache_sizes(&b, app);
    return kiln_buf_detach(&b, NULL);
}
