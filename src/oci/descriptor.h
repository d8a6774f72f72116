/* SPDX-License-Identifier: Apache-2.0 */
/*
 * descriptor.h - the content descriptor (application/vnd.oci.descriptor.v1+json):
 * what a manifest says about a blob it references.
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

struct kiln_oci_descriptor {
    char *media_type;
    char *digest; /* "sha256:..." */
    int64_t size;
    struct kiln_strv urls;
    struct kiln_oci_map annotations;
    struct kiln_oci_bytes data;         /* the embedded content, if any */
    struct kiln_oci_platform *platform; /* NULL when absent */
    char *artifact_type;
};

/*
 * Parses a descriptor document of at most KILN_MANIFEST_MAX bytes. flags:
 * KILN_OCI_PARSE_STRICT. *ret is the caller's (kiln_oci_descriptor_free).
 * KILN_E_LIMIT when too large, KILN_E_INVALID naming the field at fault.
 */
int kiln_oci_descriptor_parse(const char *json, size_t len, unsigned flags,
                              struct kiln_oci_descriptor **ret, struct kiln_error **err);

/*
 * Appends d as Go's json.Marshal of the image-spec Descriptor: mediaType,
 * digest, size, then urls, annotations, data, platform, artifactType when
 * set. flags: KILN_OCI_JSON_INDENT. 0, or KILN_E_LIMIT (out unchanged).
 */
int kiln_oci_descriptor_to_json(const struct kiln_oci_descriptor *d, unsigned flags,
                                struct kiln_buf *out);

/* Whether a and b hold the same data (what their JSON would say). */
bool kiln_oci_descriptor_equal(const struct kiln_oci_descriptor *a,
                               const struct kiln_oci_descriptor *b);

/* Frees what d owns and zeroes it (for descriptors inside other structs). */
void kiln_oci_descriptor_release(struct kiln_oci_descriptor *d);
/* Frees d and all it owns; NULL is fine. */
void kiln_oci_descriptor_free(struct kiln_oci_descriptor *d);
KILN_DEFINE_CLEANUP(struct kiln_oci_descriptor, kiln_oci_descriptor_free)
