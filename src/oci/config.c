/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c - the image config: Go's RFC 3339 date-times and the tables of
 * DockerOCIImage (image-spec Image with Docker's config extensions).
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "json.h"

#include "base/banned.h"

/* ---- date-times ---- */

/* Reads exactly `width` digits (or 1-2 when width is 0, as Go's stdHour). */
static bool digits(const char **s, unsigned width, int *ret)
{
    const char *p = *s;
    unsigned n = 0;
    int v = 0;
    unsigned max = width ? width : 2;
    while (n < max && p[n] >= '0' && p[n] <= '9')
        v = v * 10 + (p[n++] - '0');
    if (n == 0 || (width && n != width))
        return false;
    *s = p + n;
    *ret = v;
    return true;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in(int month, int year)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && leap(year) ? 29 : days[month - 1];
}

/* The fraction after ',' or '.', as Go's parseNanoseconds: digits past nine dropped. */
static void fraction(const char **s, int *nsec)
{
    const char *p = *s + 1;
    int v = 0, n = 0;
    for (; *p >= '0' && *p <= '9'; p++, n++)
        if (n < 9)
            v = v * 10 + (*p - '0');
    for (; n < 9; n++)
        v *= 10;
    *nsec = v;
    *s = p;
}

/* 'Z', or "+hh:mm" / "-hh:mm" with hh <= 24 and mm <= 60 (Go allows both). */
static bool zone(const char *s, int *offset)
{
    int hh, mm;
    if (s[0] == 'Z' && s[1] == '\0') {
        *offset = 0;
        return true;
    }
    if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':')
        return false;
    const char *h = s + 1, *m = s + 4;
    if (!digits(&h, 2, &hh) || !digits(&m, 2, &mm) || hh > 24 || mm > 60)
        return false;
    *offset = (s[0] == '-' ? -1 : 1) * (hh * 60 + mm);
    return true;
}

int kiln_oci_time_parse(const char *s, struct kiln_oci_time *ret)
{
    struct kiln_oci_time t = {0};
    if (!digits(&s, 4, &t.year) || *s++ != '-' || !digits(&s, 2, &t.month) || *s++ != '-' ||
        !digits(&s, 2, &t.day) || *s++ != 'T' || !digits(&s, 0, &t.hour) || *s++ != ':' ||
        !digits(&s, 2, &t.minute) || *s++ != ':' || !digits(&s, 2, &t.second))
        return KILN_E_INVALID;
    if ((s[0] == '.' || s[0] == ',') && s[1] >= '0' && s[1] <= '9')
        fraction(&s, &t.nsec);
    if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > days_in(t.month, t.year) ||
        t.hour > 23 || t.minute > 59 || t.second > 59 || !zone(s, &t.offset))
        return KILN_E_INVALID;
    *ret = t;
    return 0;
}

void kiln_oci_time_format(const struct kiln_oci_time *t, char out[KILN_OCI_TIME_MAX])
{
    int n = snprintf(out, KILN_OCI_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d", t->year, t->month,
                     t->day, t->hour, t->minute, t->second);
    if (t->nsec) {
        char frac[11];
        snprintf(frac, sizeof(frac), ".%09d", t->nsec);
        size_t len = strlen(frac);
        while (frac[len - 1] == '0')
            frac[--len] = '\0';
        n += snprintf(out + n, KILN_OCI_TIME_MAX - (size_t)n, "%s", frac);
    }
    if (t->offset == 0) {
        snprintf(out + n, KILN_OCI_TIME_MAX - (size_t)n, "Z");
        return;
    }
    int off = t->offset < 0 ? -t->offset : t->offset;
    snprintf(out + n, KILN_OCI_TIME_MAX - (size_t)n, "%c%02d:%02d", t->offset < 0 ? '-' : '+',
             off / 60, off % 60);
}

bool kiln_oci_time_equal(const struct kiln_oci_time *a, const struct kiln_oci_time *b)
{
    return a->year == b->year && a->month == b->month && a->day == b->day && a->hour == b->hour &&
           a->minute == b->minute && a->second == b->second && a->nsec == b->nsec &&
           a->offset == b->offset;
}

/* ---- tables ---- */

#define F(st, name, kind, flags, member, type, check)           \
    {                                                           \
        name, kind, flags, offsetof(st, member), 0, type, check \
    }

#define H(name, kind, member) \
    F(struct kiln_oci_healthcheck, name, kind, KILN_OCI_F_OMITEMPTY, member, NULL, NULL)

static const struct kiln_oci_field healthcheck_fields[] = {
        H("Test", KILN_OCI_K_STRV, test),
        H("Interval", KILN_OCI_K_INT, interval),
        H("Timeout", KILN_OCI_K_INT, timeout),
        H("StartPeriod", KILN_OCI_K_INT, start_period),
        H("StartInterval", KILN_OCI_K_INT, start_interval),
        H("Retries", KILN_OCI_K_INT, retries),
};

static const struct kiln_oci_type healthcheck_type =
        KILN_OCI_TYPE(struct kiln_oci_healthcheck, healthcheck_fields);

/* Omitted when empty; in strict mode "null" only where the schema allows it. */
#define C(name, kind, nullable, member, type, check)                                           \
    F(struct kiln_oci_container_config, name, kind, KILN_OCI_F_OMITEMPTY | (nullable), member, \
      type, check)

/* ImageConfig's fields, then DockerOCIImageConfigExt's, as Go lays out the embedding. */
static const struct kiln_oci_field container_config_fields[] = {
        C("User", KILN_OCI_K_STRING, 0, user, NULL, NULL),
        C("ExposedPorts", KILN_OCI_K_SET, 0, exposed_ports, NULL, NULL),
        C("Env", KILN_OCI_K_STRV, 0, env, NULL, kiln_oci_check_env),
        C("Entrypoint", KILN_OCI_K_STRV, KILN_OCI_F_NULLABLE, entrypoint, NULL, NULL),
        C("Cmd", KILN_OCI_K_STRV, KILN_OCI_F_NULLABLE, cmd, NULL, NULL),
        C("Volumes", KILN_OCI_K_SET, KILN_OCI_F_NULLABLE, volumes, NULL, NULL),
        C("WorkingDir", KILN_OCI_K_STRING, 0, working_dir, NULL, NULL),
        C("Labels", KILN_OCI_K_MAP, KILN_OCI_F_NULLABLE, labels, NULL, NULL),
        C("StopSignal", KILN_OCI_K_STRING, 0, stop_signal, NULL, NULL),
        C("ArgsEscaped", KILN_OCI_K_BOOL, 0, args_escaped, NULL, NULL),
        C("Healthcheck", KILN_OCI_K_OBJECT_PTR, KILN_OCI_F_NULLABLE, healthcheck, &healthcheck_type,
          NULL),
        C("OnBuild", KILN_OCI_K_STRV, KILN_OCI_F_NULLABLE, on_build, NULL, NULL),
        C("Shell", KILN_OCI_K_STRV, KILN_OCI_F_NULLABLE, shell, NULL, NULL),
};

static const struct kiln_oci_type container_config_type =
        KILN_OCI_TYPE(struct kiln_oci_container_config, container_config_fields);

static const struct kiln_oci_field rootfs_fields[] = {
        F(struct kiln_oci_rootfs, "type", KILN_OCI_K_STRING, KILN_OCI_F_REQUIRED, type, NULL,
          kiln_oci_check_rootfs_type),
        F(struct kiln_oci_rootfs, "diff_ids", KILN_OCI_K_STRV, KILN_OCI_F_REQUIRED, diff_ids, NULL,
          NULL),
};

static const struct kiln_oci_type rootfs_type =
        KILN_OCI_TYPE(struct kiln_oci_rootfs, rootfs_fields);

#define HI(name, kind, member) \
    F(struct kiln_oci_history, name, kind, KILN_OCI_F_OMITEMPTY, member, NULL, NULL)

static const struct kiln_oci_field history_fields[] = {
        HI("created", KILN_OCI_K_TIME, created),
        HI("created_by", KILN_OCI_K_STRING, created_by),
        HI("author", KILN_OCI_K_STRING, author),
        HI("comment", KILN_OCI_K_STRING, comment),
        HI("empty_layer", KILN_OCI_K_BOOL, empty_layer),
};

static const struct kiln_oci_type history_type =
        KILN_OCI_TYPE(struct kiln_oci_history, history_fields);

#define TOP(name, kind, flags, member, type, check) \
    F(struct kiln_oci_config, name, kind, flags, member, type, check)

/*
 * The top level in sorted key order: BuildKit's exporter (patchImageConfig)
 * decodes the config into a map and encodes it again.
 */
static const struct kiln_oci_field config_fields[] = {
        TOP("architecture", KILN_OCI_K_STRING, KILN_OCI_F_REQUIRED, platform.architecture, NULL,
            NULL),
        TOP("author", KILN_OCI_K_STRING, KILN_OCI_F_OMITEMPTY, author, NULL, NULL),
        TOP("config", KILN_OCI_K_OBJECT, 0, config, &container_config_type, NULL),
        TOP("created", KILN_OCI_K_TIME, KILN_OCI_F_OMITEMPTY, created, NULL, NULL),
        {"history", KILN_OCI_K_OBJECT_ARRAY, KILN_OCI_F_OMITEMPTY,
         offsetof(struct kiln_oci_config, history), offsetof(struct kiln_oci_config, n_history),
         &history_type, NULL},
        TOP("os", KILN_OCI_K_STRING, KILN_OCI_F_REQUIRED, platform.os, NULL, NULL),
        TOP("os.features", KILN_OCI_K_STRV, KILN_OCI_F_OMITEMPTY, platform.os_features, NULL, NULL),
        TOP("os.version", KILN_OCI_K_STRING, KILN_OCI_F_OMITEMPTY, platform.os_version, NULL, NULL),
        TOP("rootfs", KILN_OCI_K_OBJECT, KILN_OCI_F_REQUIRED, rootfs, &rootfs_type, NULL),
        TOP("variant", KILN_OCI_K_STRING, KILN_OCI_F_OMITEMPTY, platform.variant, NULL, NULL),
};

static const struct kiln_oci_type config_type =
        KILN_OCI_TYPE(struct kiln_oci_config, config_fields);

/* ---- API ---- */

int kiln_oci_config_parse(const char *json, size_t len, unsigned flags,
                          struct kiln_oci_config **ret, struct kiln_error **err)
{
    return kiln_oci_parse_document("config", &config_type, NULL, json, len, KILN_CONFIG_MAX, flags,
                                   (void **)ret, err);
}

int kiln_oci_config_to_json(const struct kiln_oci_config *c, unsigned flags, struct kiln_buf *out)
{
    return kiln_oci_encode(&config_type, c, flags, out);
}

bool kiln_oci_config_equal(const struct kiln_oci_config *a, const struct kiln_oci_config *b)
{
    return kiln_oci_equal(&config_type, a, b);
}

void kiln_oci_config_free(struct kiln_oci_config *c)
{
    if (!c)
        return;
    kiln_oci_release(&config_type, c);
    free(c);
}
