/* SPDX-License-Identifier: Apache-2.0 */
/*
 * index.h - the image index (application/vnd.oci.image.index.v1+json) and
 * the Docker manifest list (application/vnd.docker.distribution.manifest.list.v2+json).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/error.h"
#include "descriptor.h"
#include "oci.h"
#include "platform.h"

struct kiln_oci_index {
    int64_t schema_version; /* 2 */
    char *media_type;       /* NULL when absent */
    char *artifact_type;
    struct kiln_oci_descriptor *manifests; /* NULL is Go's nil slice: written as null */
    size_t n_manifests;
    struct kiln_oci_descriptor *subject; /* NULL when absent */
    struct kiln_oci_map annotations;
};

/*
 * Parses an index of at most KILN_MANIFEST_MAX bytes. flags:
 * KILN_OCI_PARSE_STRICT. Always refused, as containerd refuses them: a
 * manifest's media type or a "config" or "layers" key, and schema 1
 * ("fsLayers"). *ret is the caller's (kiln_oci_index_free). KILN_E_LIMIT
 * when too large, KILN_E_INVALID naming the field at fault.
 */
int kiln_oci_index_parse(const char *json, size_t len, unsigned flags, struct kiln_oci_index **ret,
                         struct kiln_error **err);

/*
 * Appends idx as Go's encoding/json writes the image-spec Index. flags:
 * KILN_OCI_JSON_INDENT (BuildKit indents indexes), KILN_OCI_JSON_SPEC_ORDER
 * (containerd's index.json). 0, or KILN_E_LIMIT (out unchanged).
 */
int kiln_oci_index_to_json(const struct kiln_oci_index *idx, unsigned flags, struct kiln_buf *out);

/* Whether a and b hold the same data (what their JSON would say). */
bool kiln_oci_index_equal(const struct kiln_oci_index *a, const struct kiln_oci_index *b);

/*
 * The entry of idx that BuildKit pulls for `want`, as containerd chooses it:
 * among the entries whose platform ranks (kiln_oci_platform_rank) or that
 * have no platform, the best ranked, the first of equals, entries without a
 * platform last. Returns its position, or -1 when none fits.
 */
long kiln_oci_index_select(const struct kiln_oci_index *idx, const struct kiln_oci_platform *want);

/* Frees idx and all it owns; NULL is fine. */
void kiln_oci_index_free(struct kiln_oci_index *idx);
KILN_DEFINE_CLEANUP(struct kiln_oci_index, kiln_oci_index_free)
