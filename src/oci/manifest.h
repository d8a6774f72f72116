/* SPDX-License-Identifier: Apache-2.0 */
/*
 * manifest.h - the image manifest: OCI (application/vnd.oci.image.manifest.v1+json)
 * and Docker schema 2 (application/vnd.docker.distribution.manifest.v2+json),
 * which share one layout.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/error.h"
#include "descriptor.h"
#include "oci.h"

struct kiln_oci_manifest {
    int64_t schema_version; /* 2 */
    char *media_type;       /* NULL when absent */
    char *artifact_type;
    struct kiln_oci_descriptor config;
    struct kiln_oci_descriptor *layers; /* NULL is Go's nil slice: written as null */
    size_t n_layers;
    struct kiln_oci_descriptor *subject; /* NULL when absent */
    struct kiln_oci_map annotations;
};

/*
 * Parses a manifest of at most KILN_MANIFEST_MAX bytes. flags:
 * KILN_OCI_PARSE_STRICT. Always refused, as containerd refuses them: an
 * index's media type or a "manifests" key, and schema 1 ("fsLayers").
 * *ret is the caller's (kiln_oci_manifest_free). KILN_E_LIMIT when too
 * large, KILN_E_INVALID naming the field at fault
 * ("manifest: layers[2].digest: 'sha256:ABC' is not a valid digest: ...").
 */
int kiln_oci_manifest_parse(const char *json, size_t len, unsigned flags,
                            struct kiln_oci_manifest **ret, struct kiln_error **err);

/*
 * Appends m as Go's encoding/json writes the image-spec Manifest. flags:
 * KILN_OCI_JSON_INDENT (BuildKit indents manifests), KILN_OCI_JSON_SPEC_ORDER.
 * 0, or KILN_E_LIMIT at the buffer's cap (out unchanged).
 */
int kiln_oci_manifest_to_json(const struct kiln_oci_manifest *m, unsigned flags,
                              struct kiln_buf *out);

/* Whether a and b hold the same data (what their JSON would say). */
bool kiln_oci_manifest_equal(const struct kiln_oci_manifest *a, const struct kiln_oci_manifest *b);

/* Frees m and all it owns; NULL is fine. */
void kiln_oci_manifest_free(struct kiln_oci_manifest *m);
KILN_DEFINE_CLEANUP(struct kiln_oci_manifest, kiln_oci_manifest_free)
