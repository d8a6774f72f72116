/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert-history.c - the history entries instructions add to the image
 * config, and the Go formatting (%q, %v, time.Duration) their text uses
 * (docs/internals/convert.md).
 */
#include <inttypes.h>
#include <string.h>

#include "convert-private.h"
#include "dockerfile/goquote.h"

#include "base/banned.h"

void conv_history(struct conv_stage *s, const char *created_by, bool layer)
{
    json_t *h = json_object_get(s->image, "history");
    if (!json_is_array(h)) {
        h = json_array();
        json_object_set_new(s->image, "history", h);
    }
    json_t *e =
            json_pack("{s:s, s:s}", "created_by", created_by, "comment", "buildkit.dockerfile.v0");
    if (!layer)
        json_object_set_new(e, "empty_layer", json_true());
    json_array_append_new(h, e);
}

void conv_fmt_quoted(struct kiln_buf *b, const struct kiln_strv *words)
{
    kiln_buf_addch(b, '[');
    for (size_t i = 0; i < words->n; i++) {
        if (i)
            kiln_buf_addch(b, ' ');
        kiln_goquote(b, words->v[i], strlen(words->v[i]));
    }
    kiln_buf_addch(b, ']');
}

void conv_fmt_list(struct kiln_buf *b, const struct kiln_strv *words)
{
    kiln_buf_addch(b, '[');
    for (size_t i = 0; i < words->n; i++)
        kiln_buf_addf(b, "%s%s", i ? " " : "", words->v[i]);
    kiln_buf_addch(b, ']');
}

/* Go's fmtFrac: ".ddd" of v's last `prec` digits, trailing zeros dropped; v /= 10^prec. */
static void fmt_frac(struct kiln_buf *b, uint64_t *v, int prec)
{
    char digits[16];
    int n = 0;
    bool print = false;
    for (int i = 0; i < prec; i++) {
        unsigned d = (unsigned)(*v % 10);
        print = print || d != 0;
        if (print)
            digits[n++] = (char)('0' + d);
        *v /= 10;
    }
    if (!n)
        return;
    kiln_buf_addch(b, '.');
    while (n > 0)
        kiln_buf_addch(b, digits[--n]);
}

void conv_fmt_duration(struct kiln_buf *b, int64_t ns)
{
    uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    if (ns < 0)
        kiln_buf_addch(b, '-');
    if (u == 0) {
        kiln_buf_adds(b, "0s");
        return;
    }
    struct kiln_buf frac = KILN_BUF_INIT(64);
    if (u < 1000000000) {
        const char *unit = "ns";
        int prec = 0;
        if (u >= 1000000) {
            unit = "ms";
            prec = 6;
        } else if (u >= 1000) {
            unit = "\xc2\xb5s"; /* U+00B5, as Go writes microseconds */
            prec = 3;
        }
        fmt_frac(&frac, &u, prec);
        kiln_buf_addf(b, "%" PRIu64 "%s%s", u, frac.len ? frac.buf : "", unit);
        kiln_buf_release(&frac);
        return;
    }
    fmt_frac(&frac, &u, 9);
    uint64_t secs = u % 60, mins = (u / 60) % 60, hours = u / 3600;
    if (hours)
        kiln_buf_addf(b, "%" PRIu64 "h", hours);
    if (hours || mins)
        kiln_buf_addf(b, "%" PRIu64 "m", mins);
    kiln_buf_addf(b, "%" PRIu64 "%ss", secs, frac.len ? frac.buf : "");
    kiln_buf_release(&frac);
}
