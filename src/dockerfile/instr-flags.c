/* SPDX-License-Identifier: Apache-2.0 */
/*
 * instr-flags.c - the `--name=value` flags of an instruction, checked as
 * BuildKit's BFlags.Parse checks them, with messages that say what to write
 * instead; BuildKit's "did you mean" suggestions; and the Go syntax of flag
 * values (CSV records, booleans, integers, durations, sizes).
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "goquote.h"
#include "instructions.h"

#include "base/banned.h"

int kiln_df__fail(const struct kiln_df__req *rq, struct kiln_error **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = kiln_xvasprintf(fmt, ap);
    va_end(ap);
    return kiln_error_set_line(err, KILN_E_INVALID, rq->node->start_line, "%s: %s", rq->name, msg);
}

/* Longest word compared: longer ones are more than 2 edits from any option. */
#define SUGGEST_RUNES_MAX 64

static size_t decode_runes(const char *s, uint32_t *out, size_t max)
{
    size_t n = 0, len = strlen(s);
    for (size_t i = 0; i < len; n++) {
        if (n == max)
            return max + 1;
        i += kiln_utf8_decode(s + i, len - i, &out[n]);
    }
    return n;
}

/* Levenshtein distance over runes (agext/levenshtein with default costs). */
static size_t distance(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    size_t row[SUGGEST_RUNES_MAX + 2];
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

static char *lower(const char *s)
{
    struct kiln_buf b = KILN_BUF_INIT((size_t)-1 / 4);
    (void)kiln_go_tolower(&b, s, strlen(s));
    return kiln_buf_detach(&b, NULL);
}

const char *kiln_df__suggest(const char *word, const char *const *options, size_t n,
                             bool case_sensitive)
{
    uint32_t w[SUGGEST_RUNES_MAX + 1], o[SUGGEST_RUNES_MAX + 1];
    _cleanup_free_ char *lw = case_sensitive ? NULL : lower(word);
    size_t nw = decode_runes(case_sensitive ? word : lw, w, SUGGEST_RUNES_MAX);
    if (nw > SUGGEST_RUNES_MAX)
        return NULL;
    const char *match = NULL;
    size_t best = 3; /* as BuildKit (and HCL): at most two edits */
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *lo = case_sensitive ? NULL : lower(options[i]);
        size_t no = decode_runes(case_sensitive ? options[i] : lo, o, SUGGEST_RUNES_MAX);
        if (no > SUGGEST_RUNES_MAX)
            continue;
        size_t d = distance(w, nw, o, no);
        if (d == 0)
            return NULL; /* an exact match: the error is about something else */
        if (d < best) {
            best = d;
            match = options[i];
        }
    }
    return match;
}

static const struct kiln_df__flag_spec *find_spec(const struct kiln_df__flag_spec *specs, size_t n,
                                                  const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(specs[i].name) == len && memcmp(specs[i].name, name, len) == 0)
            return &specs[i];
    return NULL;
}

static int unknown_flag(const struct kiln_df__req *rq, const struct kiln_df__flag_spec *specs,
                        size_t n, const char *name, struct kiln_error **err)
{
    if (n == 0)
        return kiln_df__fail(rq, err, "unknown flag --%s; %s takes no flags", name, rq->name);
    const char *names[16];
    size_t k = n < ELEMENTSOF(names) ? n : ELEMENTSOF(names);
    for (size_t i = 0; i < k; i++)
        names[i] = specs[i].name;
    const char *match = kiln_df__suggest(name, names, k, true);
    if (match)
        return kiln_df__fail(rq, err, "unknown flag --%s (did you mean --%s?)", name, match);
    _cleanup_buf_ struct kiln_buf all = KILN_BUF_INIT(4096);
    for (size_t i = 0; i < k; i++)
        (void)kiln_buf_addf(&all, "%s--%s", i ? ", " : "", names[i]);
    return kiln_df__fail(rq, err, "unknown flag --%s; %s takes %s", name, rq->name, all.buf);
}

/* Stores one `--name[=value]` word into *f after BuildKit's checks. */
static int set_flag(const struct kiln_df__req *rq, const struct kiln_df__flag_spec *spec,
                    struct kiln_df__flag *f, const char *value, struct kiln_error **err)
{
    if (f->set && spec->type != KILN_DF__FLAG_LIST)
        return kiln_df__fail(rq, err, "flag --%s is given twice; give it once", spec->name);
    if (spec->type != KILN_DF__FLAG_BOOL) {
        if (!value)
            return kiln_df__fail(rq, err, "flag --%s needs a value (--%s=%s)", spec->name,
                                 spec->name, spec->hint);
        if (spec->type == KILN_DF__FLAG_LIST)
            kiln_strv_push(&f->list, value);
        f->value = value;
    } else if (!value || strcasecmp(value, "true") == 0) {
        f->value = "true";
    } else if (strcasecmp(value, "false") == 0) {
        f->value = "false";
    } else if (value[0] == '\0') {
        return kiln_df__fail(rq, err,
                             "flag --%s= needs a value: write --%s, --%s=true or --%s=false",
                             spec->name, spec->name, spec->name, spec->name);
    } else {
        return kiln_df__fail(rq, err, "flag --%s takes true or false, not '%s'", spec->name, value);
    }
    f->set = true;
    return 0;
}

int kiln_df__flags_parse(const struct kiln_df__req *rq, const struct kiln_df__flag_spec *specs,
                         size_t n, struct kiln_df__flag *out, struct kiln_error **err)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (struct kiln_df__flag){.list = KILN_STRV_INIT};
    const struct kiln_strv *flags = &rq->node->flags;
    int r = 0;
    for (size_t i = 0; r >= 0 && i < flags->n; i++) {
        const char *word = flags->v[i];
        if (strcmp(word, "--") == 0) /* the end of flags (POSIX) */
            break;
        if (strncmp(word, "--", 2) != 0) {
            r = kiln_df__fail(rq, err, "flag '%s' must start with --", word);
            break;
        }
        const char *name = word + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct kiln_df__flag_spec *spec = find_spec(specs, n, name, len);
        if (!spec) {
            _cleanup_free_ char *bare = kiln_xstrndup(name, len);
            r = unknown_flag(rq, specs, n, bare, err);
            break;
        }
        r = set_flag(rq, spec, &out[spec - specs], eq ? eq + 1 : NULL, err);
    }
    if (r < 0)
        kiln_df__flags_release(out, n);
    return r;
}

void kiln_df__flags_release(struct kiln_df__flag *flags, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kiln_strv_release(&flags[i].list);
}

/*
 * go-csvvalue Fields (encoding/csv rules for one record: ',' separates,
 * a field starting with '"' is quoted, "" in it is a quote, no bare quotes).
 */
int kiln_df__csv_fields(const char *s, struct kiln_strv *ret, struct kiln_error **err)
{
    size_t n = strlen(s);
    if (n > 0 && s[n - 1] == '\n')
        n -= n > 1 && s[n - 2] == '\r' ? 2 : 1;
    if (n == 0)
        return kiln_error_set(err, KILN_E_INVALID, "empty mount; write type=TYPE,target=PATH");
    _cleanup_buf_ struct kiln_buf f = KILN_BUF_INIT((size_t)-1 / 4);
    size_t i = 0;
    for (;;) {
        kiln_buf_reset(&f);
        if (i == n || s[i] != '"') {
            size_t end = i;
            while (end < n && s[end] != ',')
                end++;
            const char *q = memchr(s + i, '"', end - i);
            if (q)
                return kiln_error_set(err, KILN_E_INVALID,
                                      "column %zu: bare \" in a field; quote the whole field "
                                      "(\"key=a\"\"b\")",
                                      (size_t)(q - s) + 1);
            kiln_strv_pushn(ret, s + i, end - i);
            if (end == n)
                return 0;
            i = end + 1;
            continue;
        }
        for (i++;;) { /* quoted field */
            const char *q = memchr(s + i, '"', n - i);
            if (!q)
                return kiln_error_set(err, KILN_E_INVALID,
                                      "column %zu: a quoted field has no closing \"", i + 1);
            (void)kiln_buf_add(&f, s + i, (size_t)(q - (s + i)));
            i = (size_t)(q - s) + 1;
            if (i < n && s[i] == '"') {
                (void)kiln_buf_addch(&f, '"');
                i++;
                continue;
            }
            if (i < n && s[i] != ',')
                return kiln_error_set(err, KILN_E_INVALID,
                                      "column %zu: extraneous \" in a quoted field", i);
            break;
        }
        kiln_strv_pushn(ret, f.buf, f.len);
        if (i == n)
            return 0;
        i++;
    }
}

/* Go's strconv.ParseBool. */
int kiln_df__go_bool(const char *s, bool *ret)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < ELEMENTSOF(t); i++) {
        if (strcmp(s, t[i]) == 0 || strcmp(s, f[i]) == 0) {
            *ret = strcmp(s, t[i]) == 0;
            return 0;
        }
    }
    return -1;
}

/* Go's strconv.ParseUint(s, base, 32) for base 8 or 10. */
int kiln_df__go_uint32(const char *s, unsigned base, uint32_t *ret)
{
    uint64_t v = 0;
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s >= (char)('0' + base))
            return -1;
        v = v * base + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return -1;
    }
    *ret = (uint32_t)v;
    return 0;
}

/* Go's underscoreOK for a decimal number: '_' only between digits. */
static bool underscores_ok(const char *s, size_t n)
{
    char saw = '^';
    for (size_t i = (n > 0 && (s[0] == '+' || s[0] == '-')); i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            saw = '0';
        else if (s[i] == '_' && saw != '0')
            return false;
        else if (s[i] == '_')
            saw = '_';
        else if (saw == '_')
            return false;
        else
            saw = '!';
    }
    return saw != '_';
}

/* Go's strconv.ParseFloat(s, 64) for decimal numbers (hex floats are refused). */
static int go_float(const char *s, size_t n, double *ret)
{
    _cleanup_free_ char *t = kiln_xmalloc(n + 1);
    size_t k = 0, i = 0, digits = 0;
    if (!underscores_ok(s, n))
        return -1;
    for (size_t j = 0; j < n; j++)
        if (s[j] != '_')
            t[k++] = s[j];
    t[k] = '\0';
    i += t[i] == '+' || t[i] == '-';
    for (; t[i] >= '0' && t[i] <= '9'; i++)
        digits++;
    if (t[i] == '.')
        for (i++; t[i] >= '0' && t[i] <= '9'; i++)
            digits++;
    if (digits == 0)
        return -1;
    if (t[i] == 'e' || t[i] == 'E') {
        i++;
        i += t[i] == '+' || t[i] == '-';
        if (!(t[i] >= '0' && t[i] <= '9'))
            return -1;
        while (t[i] >= '0' && t[i] <= '9')
            i++;
    }
    if (t[i] != '\0')
        return -1;
    double v = strtod(t, NULL);
    if (isinf(v))
        return -1;
    *ret = v;
    return 0;
}

/* go-units RAMInBytes: "512m", "1.5GiB", "10 kb", "4096". */
int kiln_df__go_ram_bytes(const char *s, int64_t *ret)
{
    const char *sep = NULL;
    for (const char *p = s; *p; p++)
        if (strchr("0123456789. ", *p))
            sep = p;
    if (!sep)
        return -1;
    size_t num_n = (size_t)(sep - s) + (*sep != ' ');
    const char *sfx = sep + 1;
    double size;
    if (go_float(s, num_n, &size) < 0 || size < 0)
        return -1;
    size_t sl = strlen(sfx);
    if (sl > 3)
        return -1;
    char lo[4] = {0};
    for (size_t i = 0; i < sl; i++)
        lo[i] = (char)(sfx[i] >= 'A' && sfx[i] <= 'Z' ? sfx[i] + ('a' - 'A') : sfx[i]);
    if (sl > 0 && lo[0] == 'b' && sl > 1)
        return -1;
    if (sl > 0 && lo[0] != 'b') {
        const char *units = "kmgtp", *u = strchr(units, lo[0]);
        if (!u || (sl == 2 && lo[1] != 'b') || (sl == 3 && strcmp(lo + 1, "ib") != 0))
            return -1;
        size *= ldexp(1.0, 10 * (int)(u - units + 1));
    }
    /* Go's int64(float64) on amd64: out of range gives the minimum. */
    *ret = size >= 9223372036854775808.0 ? INT64_MIN : (int64_t)size;
    return 0;
}

#define DURATION_MAX ((uint64_t)1 << 63)

/* The unit at s (up to the next digit or '.') in nanoseconds; 0 when unknown. */
static uint64_t duration_unit(const char **s)
{
    static const struct {
        const char *unit;
        uint64_t ns;
    } units[] = {
            {"ns", 1},       {"us", 1000},      {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000},
            {"ms", 1000000}, {"s", 1000000000}, {"m", 60000000000},  {"h", 3600000000000},
    };
    size_t len = 0;
    while ((*s)[len] && (*s)[len] != '.' && !((*s)[len] >= '0' && (*s)[len] <= '9'))
        len++;
    for (size_t u = 0; len > 0 && u < ELEMENTSOF(units); u++) {
        if (strlen(units[u].unit) == len && memcmp(units[u].unit, *s, len) == 0) {
            *s += len;
            return units[u].ns;
        }
    }
    return 0;
}

/* One `[0-9]*(\.[0-9]*)?unit` of a duration, with Go's overflow rules. */
static int duration_part(const char **sp, uint64_t *ret)
{
    const char *s = *sp, *start = s;
    uint64_t v = 0, f = 0;
    double scale = 1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > DURATION_MAX / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > DURATION_MAX)
            return -1;
    }
    bool pre = s != start, post = false, overflow = false;
    if (*s == '.') {
        for (start = ++s; *s >= '0' && *s <= '9'; s++) {
            uint64_t y = f * 10 + (uint64_t)(*s - '0');
            overflow = overflow || f > (DURATION_MAX - 1) / 10 || y > DURATION_MAX;
            if (!overflow) {
                f = y;
                scale *= 10;
            }
        }
        post = s != start;
    }
    uint64_t unit = pre || post ? duration_unit(&s) : 0;
    if (unit == 0 || v > DURATION_MAX / unit)
        return -1;
    v *= unit;
    if (f > 0) {
        v += (uint64_t)((double)f * ((double)unit / scale));
        if (v > DURATION_MAX)
            return -1;
    }
    *sp = s;
    *ret = v;
    return 0;
}

/*
 * Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+ or "0", in
 * nanoseconds, with Go's overflow rules. Returns 0, or -1 when invalid.
 */
int kiln_df__go_duration(const char *s, int64_t *ret)
{
    uint64_t d = 0;
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (strcmp(s, "0") == 0) {
        *ret = 0;
        return 0;
    }
    if (*s == '\0')
        return -1;
    while (*s) {
        uint64_t v;
        if (duration_part(&s, &v) < 0)
            return -1;
        d += v;
        if (d > DURATION_MAX)
            return -1;
    }
    if (!neg && d > DURATION_MAX - 1)
        return -1;
    *ret = neg ? (d == DURATION_MAX ? INT64_MIN : -(int64_t)d) : (int64_t)d;
    return 0;
}

/* Go's strconv.ParseInt(s, 10, 32): 0, -1 for syntax, -2 for range. */
int kiln_df__go_int32(const char *s, int32_t *ret)
{
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (*s == '\0')
        return -1;
    int64_t v = 0;
    bool range = false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > (int64_t)INT32_MAX + 1) {
            range = true;
            v = (int64_t)INT32_MAX + 1;
        }
    }
    if (range || (!neg && v > INT32_MAX))
        return -2;
    *ret = (int32_t)(neg ? -v : v);
    return 0;
}
