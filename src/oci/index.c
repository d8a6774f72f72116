/* SPDX-License-Identifier: Apache-2.0 */
/* index.c - the image-spec Index (specs-go/v1/index.go, in field order). */
#include "index.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>

#include "base/limits.h"
#include "json.h"
#include "mediatype.h"

#include "base/banned.h"

#define I(name, kind, flags, member, type, check)                                  \
    {                                                                              \
        name, kind, flags, offsetof(struct kiln_oci_index, member), 0, type, check \
    }

static const struct kiln_oci_field index_fields[] = {
        I("schemaVersion", KILN_OCI_K_INT, KILN_OCI_F_REQUIRED, schema_version, NULL,
          kiln_oci_check_schema_version),
        I("mediaType", KILN_OCI_K_STRING, KILN_OCI_F_OMITEMPTY | KILN_OCI_F_LEADING, media_type,
          NULL, kiln_oci_check_media_type),
        I("artifactType", KILN_OCI_K_STRING, KILN_OCI_F_OMITEMPTY, artifact_type, NULL,
          kiln_oci_check_media_type),
        {"manifests", KILN_OCI_K_OBJECT_ARRAY, KILN_OCI_F_REQUIRED,
         offsetof(struct kiln_oci_index, manifests), offsetof(struct kiln_oci_index, n_manifests),
         &kiln_oci_descriptor_type, NULL},
        I("subject", KILN_OCI_K_OBJECT_PTR, KILN_OCI_F_OMITEMPTY, subject,
          &kiln_oci_descriptor_type, NULL),
        I("annotations", KILN_OCI_K_MAP, KILN_OCI_F_OMITEMPTY, annotations, NULL, NULL),
};

static const struct kiln_oci_type index_type = KILN_OCI_TYPE(struct kiln_oci_index, index_fields);

/* containerd's validateMediaType: an index must not look like a manifest. */
static int check_document(const json_t *root, const void *obj, bool strict, struct kiln_error **err)
{
    const struct kiln_oci_index *idx = obj;
    if (kiln_oci_json_has_key(root, "fsLayers"))
        return kiln_error_set(
                err, KILN_E_INVALID,
                "schema 1 manifests are not supported; push the image again with a current "
                "client");
    if (kiln_oci_mediatype_is_manifest(idx->media_type))
        return kiln_error_set(err, KILN_E_INVALID, "expected an index, found a manifest (%s)",
                              idx->media_type);
    if (kiln_oci_json_has_key(root, "config") || kiln_oci_json_has_key(root, "layers"))
        return kiln_error_set(
                err, KILN_E_INVALID,
                "expected an index, found a manifest (it has \"config\" or \"layers\")");
    return 0;
}

int kiln_oci_index_parse(const char *json, size_t len, unsigned flags, struct kiln_oci_index **ret,
                         struct kiln_error **err)
{
    return kiln_oci_parse_document("index", &index_type, check_document, json, len,
                                   KILN_MANIFEST_MAX, flags, (void **)ret, err);
}

int kiln_oci_index_to_json(const struct kiln_oci_index *idx, unsigned flags, struct kiln_buf *out)
{
    return kiln_oci_encode(&index_type, idx, flags, out);
}

bool kiln_oci_index_equal(const struct kiln_oci_index *a, const struct kiln_oci_index *b)
{
    return kiln_oci_equal(&index_type, a, b);
}

long kiln_oci_index_select(const struct kiln_oci_index *idx, const struct kiln_oci_platform *want)
{
    long best = -1;
    long best_rank = LONG_MAX;
    for (size_t i = 0; i < idx->n_manifests; i++) {
        const struct kiln_oci_platform *p = idx->manifests[i].platform;
        /* No platform: a candidate, behind every entry that has one. */
        long rank = p ? kiln_oci_platform_rank(want, p) : LONG_MAX - 1;
        if (rank >= 0 && rank < best_rank) {
            best = (long)i;
            best_rank = rank;
        }
    }
    return best;
}

void kiln_oci_index_free(struct kiln_oci_index *idx)
{
    if (!idx)
        return;
    kiln_oci_release(&index_type, idx);
    free(idx);
}
