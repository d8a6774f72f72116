/* SPDX-License-Identifier: Apache-2.0 */
/*
 * progress-replay.c - a rawjson line (BuildKit's SolveStatus, as
 * progress-json.c writes it) fed back into a printer: how the cloud driver
 * shows a remote build's progress in any mode (docs/internals/progress.md).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "oci/json.h"
#include "progress.h"

#include "base/banned.h"

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void vertex(struct kiln_progress *p, json_t *v)
{
    const char *id = str(v, "digest"), *name = str(v, "name"), *error = str(v, "error");
    if (!id || !name)
        return;
    if (json_is_true(json_object_get(v, "cached"))) {
        kiln_progress_cached(p, id, name);
        return;
    }
    if (!json_object_get(v, "started"))
        return;
    kiln_progress_start(p, id, name);
    if (error && strcmp(error, "context canceled") == 0)
        kiln_progress_canceled(p, id);
    else if (error)
        kiln_progress_error(p, id, error);
    else if (json_object_get(v, "completed"))
        kiln_progress_done(p, id);
}

static void status(struct kiln_progress *p, json_t *s)
{
    const char *id = str(s, "id"), *v = str(s, "vertex");
    if (!id || !v)
        return;
    json_int_t cur = json_integer_value(json_object_get(s, "current"));
    json_int_t total = json_integer_value(json_object_get(s, "total"));
    kiln_progress_status(p, v, id, cur > 0 ? (uint64_t)cur : 0, total > 0 ? (uint64_t)total : 0,
                         json_object_get(s, "completed") != NULL);
}

static void log_line(struct kiln_progress *p, json_t *l)
{
    const char *v = str(l, "vertex"), *data = str(l, "data");
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (!v || !data || !kiln_oci_base64_decode(data, &bytes, &n))
        return;
    kiln_progress_log(p, v, (int)json_integer_value(json_object_get(l, "stream")),
                      (const char *)bytes, n);
    free(bytes);
}

static void warning(struct kiln_progress *p, json_t *w)
{
    const char *s = str(w, "short");
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (!s || !kiln_oci_base64_decode(s, &bytes, &n))
        return;
    char *msg = strndup((const char *)bytes, n);
    if (msg)
        kiln_progress_warn(p, str(w, "vertex"), msg);
    free(msg);
    free(bytes);
}

void kiln_progress_replay(struct kiln_progress *p, json_t *line)
{
    static const struct {
        const char *key;
        void (*each)(struct kiln_progress *p, json_t *item);
    } lists[] = {
            {"vertexes", vertex},
            {"statuses", status},
            {"logs", log_line},
            {"warnings", warning},
    };
    for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
        json_t *a = json_object_get(line, lists[k].key), *item;
        size_t i;
        json_array_foreach (a, i, item)
            lists[k].each(p, item);
    }
}
