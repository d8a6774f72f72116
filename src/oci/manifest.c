/* SPDX-License-Identifier: Apache-2.0 */
/* manifest.c - the image-spec Manifest (specs-go/v1/manifest.go, in field order). */
#include "manifest.h"

#include <stddef.h>
#include <stdlib.h>

#include "base/limits.h"
#include "json.h"
#include "mediatype.h"

#include "base/banned.h"

#define M(name, kind, flags, member, type, check)                                     \
    {                                                                                 \
        name, kind, flags, offsetof(struct kiln_oci_manifest, member), 0, type, check \
    }

static const struct kiln_oci_field manifest_fields[] = {
        M("schemaVersion", KILN_OCI_K_INT, KILN_OCI_F_REQUIRED, schema_version, NULL,
          kiln_oci_check_schema_version),
        M("mediaType", KILN_OCI_K_STRING, KILN_OCI_F_OMITEMPTY | KILN_OCI_F_LEADING, media_type,
          NULL, kiln_oci_check_media_type),
        M("artifactType", KILN_OCI_K_STRING, KILN_OCI_F_OMITEMPTY, artifact_type, NULL,
          kiln_oci_check_media_type),
        M("config", KILN_OCI_K_OBJECT, KILN_OCI_F_REQUIRED, config, &kiln_oci_descriptor_type,
          NULL),
        {"layers", KILN_OCI_K_OBJECT_ARRAY, KILN_OCI_F_REQUIRED | KILN_OCI_F_NONEMPTY,
         offsetof(struct kiln_oci_manifest, layers), offsetof(struct kiln_oci_manifest, n_layers),
         &kiln_oci_descriptor_type, NULL},
        M("subject", KILN_OCI_K_OBJECT_PTR, KILN_OCI_F_OMITEMPTY, subject,
          &kiln_oci_descriptor_type, NULL),
        M("annotations", KILN_OCI_K_MAP, KILN_OCI_F_OMITEMPTY, annotations, NULL, NULL),
};

static const struct kiln_oci_type manifest_type =
        KILN_OCI_TYPE(struct kiln_oci_manifest, manifest_fields);

/* containerd's validateMediaType: a manifest must not look like an index. */
static int check_document(const json_t *root, const void *obj, bool strict, struct kiln_error **err)
{
    const struct kiln_oci_manifest *m = obj;
    if (kiln_oci_json_has_key(root, "fsLayers"))
        return kiln_error_set(
                err, KILN_E_INVALID,
                "schema 1 manifests are not supported; push the image again with a current "
                "client");
    if (kiln_oci_mediatype_is_index(m->media_type))
        return kiln_error_set(err, KILN_E_INVALID, "expected a manifest, found an index (%s)",
                              m->media_type);
    if (kiln_oci_json_has_key(root, "manifests"))
        return kiln_error_set(err, KILN_E_INVALID,
                              "expected a manifest, found an index (it has \"manifests\")");
    return 0;
}

int kiln_oci_manifest_parse(const char *json, size_t len, unsigned flags,
                            struct kiln_oci_manifest **ret, struct kiln_error **err)
{
    return kiln_oci_parse_document("manifest", &manifest_type, check_document, json, len,
                                   KILN_MANIFEST_MAX, flags, (void **)ret, err);
}

int kiln_oci_manifest_to_json(const struct kiln_oci_manifest *m, unsigned flags,
                              struct kiln_buf *out)
{
    return kiln_oci_encode(&manifest_type, m, flags, out);
}

bool kiln_oci_manifest_equal(const struct kiln_oci_manifest *a, const struct kiln_oci_manifest *b)
{
    return kiln_oci_equal(&manifest_type, a, b);
}

void kiln_oci_manifest_free(struct kiln_oci_manifest *m)
{
    if (!m)
        return;
    kiln_oci_release(&manifest_type, m);
    free(m);
}
