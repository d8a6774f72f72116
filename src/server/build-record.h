/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build-record.h - the builds table of kilnd.db: each build's who, when,
 * state, steps cached and run, and result; the builder's history
 * (docs/internals/server.md).
 */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strv.h"

struct kilnd_db;

struct kilnd_build_record {
    char id[32];
    char *builder;   /* "account/name" */
    char *principal; /* who started it */
    char *token_id;
    char *state; /* uploading, queued, running, succeeded, failed, canceled */
    int64_t created_ns, started_ns, finished_ns;
    int64_t steps_total, steps_cached;
    char *image_digest; /* "" when none */
    char *error;        /* "" when none */
    json_t *summary;    /* {"tags","platforms","outputs"} */
};

#define KILND_HISTORY_MAX 1000 /* records one history call returns at most */

void kilnd_build_record_release(struct kilnd_build_record *rec);

/* Adds rec (state, times and the rest as they are). */
int kilnd_build_record_insert(struct kilnd_db *db, const struct kilnd_build_record *rec,
                              struct kiln_error **err);
/* Writes rec's state, times, steps, digest and error. */
int kilnd_build_record_update(struct kilnd_db *db, const struct kilnd_build_record *rec,
                              struct kiln_error **err);
/* The record of build id. KILN_E_NOTFOUND naming it. */
int kilnd_build_record_get(struct kilnd_db *db, const char *id, struct kilnd_build_record *ret,
                           struct kiln_error **err);
/* The builder's records, newest first, at most `limit`, as JSON objects. */
int kilnd_build_record_list(struct kilnd_db *db, const char *builder, unsigned limit, json_t **ret,
                            struct kiln_error **err);
/*
 * Marks every build left uploading, queued or running (by a kilnd that
 * stopped without finishing them) failed with `reason`; their ids go to ret_ids.
 */
int kilnd_build_record_fail_unfinished(struct kilnd_db *db, const char *reason,
                                       struct kiln_strv *ret_ids, struct kiln_error **err);
/* rec as the API shows it. Caller decrefs. */
json_t *kilnd_build_record_json(const struct kilnd_build_record *rec);
