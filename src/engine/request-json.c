/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request-json.c - a build request as JSON and back (docs/internals/cloud-api.md).
 */
#include "request-json.h"

#include <string.h>

#include "base/alloc.h"
#include "base/strv.h"
#include "oci/json.h"

#include "base/banned.h"

static const char *const type_names[] = {
        [KILN_OUTPUT_IMAGE] = "image",   [KILN_OUTPUT_OCI] = "oci",
        [KILN_OUTPUT_DOCKER] = "docker", [KILN_OUTPUT_TAR] = "tar",
        [KILN_OUTPUT_LOCAL] = "local",   [KILN_OUTPUT_CACHEONLY] = "cacheonly",
};

const char *kiln_output_type_name(enum kiln_output_type t)
{
    return type_names[t];
}

int kiln_output_type_parse(const char *name, enum kiln_output_type *ret)
{
    for (size_t i = 0; i < ELEMENTSOF(type_names); i++)
        if (strcmp(name, type_names[i]) == 0) {
            *ret = (enum kiln_output_type)i;
            return 0;
        }
    return -1;
}

static json_t *nullable(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *kiln_build_output_json(const struct kiln_build_output *o)
{
    json_t *j = json_pack(
            "{s:s, s:o, s:o, s:b, s:s, s:i, s:b, s:o}", "type", type_names[o->type], "dest",
            nullable(o->dest), "names", kiln_oci_json_strv(&o->names), "push", o->push,
            "compression", kiln_oci_compression_name(o->compression), "compression_level",
            o->compression_level, "force_compression", o->force_compression, "oci_mediatypes",
            o->oci_mediatypes == KILN_DF_UNSET ? json_null() : json_boolean(o->oci_mediatypes));
    if (o->engine_has.n)
        json_object_set_new(j, "engine_has", kiln_oci_json_strv(&o->engine_has));
    return j;
}

json_t *kiln_build_request_to_json(const struct kiln_build_request *req)
{
    json_t *outputs = json_array();
    for (size_t i = 0; i < req->n_outputs; i++)
        json_array_append_new(outputs, kiln_build_output_json(&req->outputs[i]));
    json_t *j = json_pack(
            "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:b, s:o, s:s}", "context",
            nullable(req->context_dir), "dockerfile", nullable(req->dockerfile), "tags",
            kiln_oci_json_strv(&req->tags), "build_args", kiln_oci_json_strv(&req->build_args),
            "labels", kiln_oci_json_strv(&req->labels), "target", nullable(req->target),
            "platforms", kiln_oci_json_strv(&req->platforms), "outputs", outputs, "no_cache",
            req->no_cache, "pull", req->pull, "allow_network_host", req->allow_network_host,
            "source_date_epoch", req->has_epoch ? json_integer(req->epoch) : json_null(), "builder",
            req->builder ? req->builder : "");
    if (req->oci_runtime) /* only when chosen: kilnd refuses a client's choice */
        json_object_set_new(j, "oci_runtime", json_string(req->oci_runtime));
    return j;
}

/* Reading: every key optional; a present key must hold the right type. */

static int get_string(json_t *o, const char *key, char **ret, struct kiln_error **err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) > KILN_REQUEST_STRING_MAX ||
        strlen(json_string_value(v)) != json_string_length(v))
        return kiln_error_set(err, KILN_E_INVALID,
                              "request: \"%s\" must be a string of at most %u bytes without NUL",
                              key, KILN_REQUEST_STRING_MAX);
    free(*ret);
    *ret = kiln_xstrdup(json_string_value(v));
    return 0;
}

static int get_bool(json_t *o, const char *key, bool *ret, struct kiln_error **err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return kiln_error_set(err, KILN_E_INVALID, "request: \"%s\" must be true or false", key);
    *ret = json_is_true(v);
    return 0;
}

static int get_strv(json_t *o, const char *key, struct kiln_strv *ret, struct kiln_error **err)
{
    json_t *a = json_object_get(o, key), *v;
    size_t i;
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return kiln_error_set(err, KILN_E_INVALID, "request: \"%s\" must be a list of strings",
                              key);
    if (json_array_size(a) > KILN_REQUEST_VALUES_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "request: \"%s\" has more than %u entries", key,
                              KILN_REQUEST_VALUES_MAX);
    json_array_foreach (a, i, v) {
        if (!json_is_string(v) || json_string_length(v) > KILN_REQUEST_STRING_MAX ||
            strlen(json_string_value(v)) != json_string_length(v))
            return kiln_error_set(err, KILN_E_INVALID,
                                  "request: \"%s\"[%zu] must be a string without NUL", key, i);
        kiln_strv_push(ret, json_string_value(v));
    }
    return 0;
}

static int output_from_json(json_t *o, struct kiln_build_output *out, struct kiln_error **err)
{
    _cleanup_free_ char *type = NULL, *compression = NULL;
    out->compression = KILN_OCI_COMPRESSION_GZIP;
    out->compression_level = KILN_OCI_LEVEL_DEFAULT;
    out->oci_mediatypes = KILN_DF_UNSET;
    if (!json_is_object(o))
        return kiln_error_set(err, KILN_E_INVALID, "request: each output must be an object");
    int r = get_string(o, "type", &type, err);
    if (r >= 0 && (!type || kiln_output_type_parse(type, &out->type) < 0))
        r = kiln_error_set(err, KILN_E_INVALID,
                           "request: an output's \"type\" must be image, oci, docker, tar, "
                           "local or cacheonly");
    if (r >= 0)
        r = get_string(o, "dest", &out->dest, err);
    if (r >= 0)
        r = get_strv(o, "names", &out->names, err);
    if (r >= 0)
        r = get_strv(o, "engine_has", &out->engine_has, err);
    if (r >= 0)
        r = get_bool(o, "push", &out->push, err);
    if (r >= 0)
        r = get_bool(o, "force_compression", &out->force_compression, err);
    if (r >= 0)
        r = get_string(o, "compression", &compression, err);
    if (r >= 0 && compression)
        r = kiln_oci_compression_parse(compression, &out->compression, err);
    json_t *v = json_object_get(o, "compression_level");
    if (r >= 0 && v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < -1 || json_integer_value(v) > 22)
            r = kiln_error_set(err, KILN_E_INVALID,
                               "request: \"compression_level\" must be -1 (default) to 22");
        else
            out->compression_level = (int)json_integer_value(v);
    }
    v = json_object_get(o, "oci_mediatypes");
    if (r >= 0 && v && !json_is_null(v)) {
        if (!json_is_boolean(v))
            r = kiln_error_set(err, KILN_E_INVALID,
                               "request: \"oci_mediatypes\" must be true, false or null");
        else
            out->oci_mediatypes = json_is_true(v) ? KILN_DF_TRUE : KILN_DF_FALSE;
    }
    return r;
}

static int outputs_from_json(json_t *j, struct kiln_build_request *req, struct kiln_error **err)
{
    json_t *a = json_object_get(j, "outputs"), *o;
    size_t i;
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return kiln_error_set(err, KILN_E_INVALID, "request: \"outputs\" must be a list");
    if (json_array_size(a) > KILN_REQUEST_OUTPUTS_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "request: more than %u outputs",
                              KILN_REQUEST_OUTPUTS_MAX);
    req->outputs = kiln_xcalloc(json_array_size(a) + 1, sizeof(*req->outputs));
    json_array_foreach (a, i, o) {
        req->n_outputs = i + 1;
        int r = output_from_json(o, &req->outputs[i], err);
        if (r < 0)
            return r;
    }
    return 0;
}

int kiln_build_request_from_json(json_t *j, struct kiln_build_request *req, struct kiln_error **err)
{
    memset(req, 0, sizeof(*req));
    if (!json_is_object(j))
        return kiln_error_set(err, KILN_E_INVALID, "request: must be a JSON object");
    int r = get_string(j, "context", &req->context_dir, err);
    if (r >= 0)
        r = get_string(j, "dockerfile", &req->dockerfile, err);
    if (r >= 0)
        r = get_strv(j, "tags", &req->tags, err);
    if (r >= 0)
        r = get_strv(j, "build_args", &req->build_args, err);
    if (r >= 0)
        r = get_strv(j, "labels", &req->labels, err);
    if (r >= 0)
        r = get_string(j, "target", &req->target, err);
    if (r >= 0)
        r = get_strv(j, "platforms", &req->platforms, err);
    if (r >= 0)
        r = outputs_from_json(j, req, err);
    if (r >= 0)
        r = get_bool(j, "no_cache", &req->no_cache, err);
    if (r >= 0)
        r = get_bool(j, "pull", &req->pull, err);
    if (r >= 0)
        r = get_bool(j, "allow_network_host", &req->allow_network_host, err);
    if (r >= 0)
        r = get_string(j, "builder", &req->builder, err);
    if (r >= 0)
        r = get_string(j, "oci_runtime", &req->oci_runtime, err);
    json_t *v = json_object_get(j, "source_date_epoch");
    if (r >= 0 && v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            r = kiln_error_set(err, KILN_E_INVALID,
                               "request: \"source_date_epoch\" must be a non-negative integer");
        req->has_epoch = r >= 0;
        req->epoch = r >= 0 ? json_integer_value(v) : 0;
    }
    return r;
}
