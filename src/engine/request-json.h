/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request-json.h - a build request as JSON and back: what
 * `kiln build --dry-run-request` prints and what the cloud driver sends to
 * kilnd (docs/internals/cloud-api.md).
 */
#pragma once

#include <jansson.h>

#include "base/error.h"
#include "build.h"

/* Caps on a request read from JSON (from the network). */
#define KILN_REQUEST_VALUES_MAX  4096u /* entries of one list (tags, build args, ...) */
#define KILN_REQUEST_OUTPUTS_MAX 16u
#define KILN_REQUEST_STRING_MAX  (64u * 1024)

/* "image", "oci", "docker", "tar", "local", "cacheonly". */
const char *kiln_output_type_name(enum kiln_output_type t);
/* Parses a name of kiln_output_type_name(); "registry" is not one (the caller's). -1 when unknown.
 */
int kiln_output_type_parse(const char *name, enum kiln_output_type *ret);

/* One output as JSON. Caller decrefs. */
json_t *kiln_build_output_json(const struct kiln_build_output *o);

/*
 * The request's fields as JSON (keys: context, dockerfile, tags, build_args, labels,
 * target, platforms, outputs, no_cache, pull, allow_network_host,
 * source_date_epoch, builder, and oci_runtime when one is chosen). The Dockerfile's
 * text and secrets are not in it.
 * Caller decrefs.
 */
json_t *kiln_build_request_to_json(const struct kiln_build_request *req);

/*
 * Reads JSON of kiln_build_request_to_json() (unknown keys are ignored) into
 * *req, which the caller releases in every case. Errors: KILN_E_INVALID
 * naming the key and what it must hold, KILN_E_LIMIT past the caps above.
 */
int kiln_build_request_from_json(json_t *j, struct kiln_build_request *req,
                                 struct kiln_error **err);
