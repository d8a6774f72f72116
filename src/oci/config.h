/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.h - the image config (application/vnd.oci.image.config.v1+json and
 * application/vnd.docker.container.image.v1+json) as BuildKit reads and
 * writes it: the image-spec's Image with Docker's config extensions
 * (moby/docker-image-spec DockerOCIImage: Healthcheck, OnBuild, Shell).
 *
 * Fields that Docker once wrote and BuildKit drops (container_config,
 * docker_version, Hostname, ...) are not kept.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/error.h"
#include "base/strv.h"
#include "oci.h"
#include "platform.h"

/*
 * A date-time as written, the way Go's time.Time keeps it: the wall clock
 * and the zone offset it was given in. Written back in Go's RFC3339Nano
 * form ("2015-10-31T22:22:56.015925234Z", no trailing zeros, "Z" for UTC).
 */
struct kiln_oci_time {
    int year, month, day, hour, minute, second;
    int nsec;
    int offset; /* minutes east of UTC */
};

/* Room for kiln_oci_time_format() with its NUL: "2006-01-02T15:04:05.999999999+07:00". */
#define KILN_OCI_TIME_MAX 36

/*
 * Parses an RFC 3339 date-time as Go's time.Parse(time.RFC3339, s) does
 * (which is what both json.Unmarshal and the schema's "date-time" format
 * use): one- or two-digit hour, ',' or '.' before the fraction, digits past
 * the ninth dropped, offsets up to +24:60. Returns 0, or KILN_E_INVALID.
 */
int kiln_oci_time_parse(const char *s, struct kiln_oci_time *ret);
/* Writes t in Go's RFC3339Nano form into out. */
void kiln_oci_time_format(const struct kiln_oci_time *t, char out[KILN_OCI_TIME_MAX]);
/* Same wall clock and offset (not merely the same instant). */
bool kiln_oci_time_equal(const struct kiln_oci_time *a, const struct kiln_oci_time *b);

/* Docker's HEALTHCHECK; the durations are nanoseconds (Go's time.Duration). */
struct kiln_oci_healthcheck {
    struct kiln_strv test;
    int64_t interval;
    int64_t timeout;
    int64_t start_period;
    int64_t start_interval;
    int64_t retries;
};

/* The "config" object: how to run a container from the image. */
struct kiln_oci_container_config {
    char *user;
    struct kiln_strv exposed_ports; /* set: sorted, unique ("80/tcp") */
    struct kiln_strv env;           /* "KEY=value" */
    struct kiln_strv entrypoint;
    struct kiln_strv cmd;
    struct kiln_strv volumes; /* set: sorted, unique */
    char *working_dir;
    struct kiln_oci_map labels;
    char *stop_signal;
    bool args_escaped;
    struct kiln_oci_healthcheck *healthcheck; /* NULL when absent */
    struct kiln_strv on_build;
    struct kiln_strv shell;
};

struct kiln_oci_rootfs {
    char *type;                /* "layers" */
    struct kiln_strv diff_ids; /* nil (v NULL or kiln_strv_empty) is written as null */
};

struct kiln_oci_history {
    struct kiln_oci_time *created; /* NULL when absent */
    char *created_by;
    char *author;
    char *comment;
    bool empty_layer;
};

struct kiln_oci_config {
    struct kiln_oci_time *created; /* NULL when absent */
    char *author;
    /* architecture, os, os.version, os.features and variant sit at the top level. */
    struct kiln_oci_platform platform;
    struct kiln_oci_container_config config;
    struct kiln_oci_rootfs rootfs;
    struct kiln_oci_history *history;
    size_t n_history;
};

/*
 * Parses an image config of at most KILN_CONFIG_MAX bytes. flags:
 * KILN_OCI_PARSE_STRICT. *ret is the caller's (kiln_oci_config_free).
 * KILN_E_LIMIT when too large, KILN_E_INVALID with the field at fault
 * ("config: config.Env[1]: 'foo' is not KEY=value").
 */
int kiln_oci_config_parse(const char *json, size_t len, unsigned flags,
                          struct kiln_oci_config **ret, struct kiln_error **err);

/*
 * Appends c as BuildKit's exporter writes a config: compact JSON, top-level
 * keys sorted (it re-encodes the config as a map), nested objects in Go
 * struct order, Go's escaping. flags: KILN_OCI_JSON_INDENT. Returns 0 or
 * KILN_E_LIMIT at the buffer's cap (out is left as it was).
 */
int kiln_oci_config_to_json(const struct kiln_oci_config *c, unsigned flags, struct kiln_buf *out);

/* Whether a and b hold the same data (what their JSON would say). */
bool kiln_oci_config_equal(const struct kiln_oci_config *a, const struct kiln_oci_config *b);

/* Frees c and all it owns; NULL is fine. */
void kiln_oci_config_free(struct kiln_oci_config *c);
KILN_DEFINE_CLEANUP(struct kiln_oci_config, kiln_oci_config_free)
