/* SPDX-License-Identifier: Apache-2.0 */
/*
 * descriptor.c - the tables of the image-spec Descriptor and Platform
 * (specs-go/v1/descriptor.go, in field order) and the descriptor API.
 */
#include "descriptor.h"

#include <stddef.h>
#include <stdlib.h>

#include "base/limits.h"
#include "json.h"

#include "base/banned.h"

#define P(name, kind, flags, member)                                                 \
    {                                                                                \
        name, kind, flags, offsetof(struct kiln_oci_platform, member), 0, NULL, NULL \
    }

static const struct kiln_oci_field platform_fields[] = {
        P("architecture", KILN_OCI_K_STRING, KILN_OCI_F_REQUIRED, architecture),
        P("os", KILN_OCI_K_STRING, KILN_OCI_F_REQUIRED, os),
        P("os.version", KILN_OCI_K_STRING, KILN_OCI_F_OMITEMPTY, os_version),
        P("os.features", KILN_OCI_K_STRV, KILN_OCI_F_OMITEMPTY, os_features),
        P("variant", KILN_OCI_K_STRING, KILN_OCI_F_OMITEMPTY, variant),
};

const struct kiln_oci_type kiln_oci_platform_type =
        KILN_OCI_TYPE(struct kiln_oci_platform, platform_fields);

#define D(name, kind, flags, member, type, check)                                       \
    {                                                                                   \
        name, kind, flags, offsetof(struct kiln_oci_descriptor, member), 0, type, check \
    }

static const struct kiln_oci_field descriptor_fields[] = {
        D("mediaType", KILN_OCI_K_STRING, KILN_OCI_F_REQUIRED, media_type, NULL,
          kiln_oci_check_media_type),
        D("digest", KILN_OCI_K_STRING, KILN_OCI_F_REQUIRED, digest, NULL, kiln_oci_check_digest),
        D("size", KILN_OCI_K_INT, KILN_OCI_F_REQUIRED, size, NULL, kiln_oci_check_size),
        D("urls", KILN_OCI_K_STRV, KILN_OCI_F_OMITEMPTY, urls, NULL, kiln_oci_check_url),
        D("annotations", KILN_OCI_K_MAP, KILN_OCI_F_OMITEMPTY, annotations, NULL, NULL),
        D("data", KILN_OCI_K_BYTES, KILN_OCI_F_OMITEMPTY, data, NULL, NULL),
        D("platform", KILN_OCI_K_OBJECT_PTR, KILN_OCI_F_OMITEMPTY, platform,
          &kiln_oci_platform_type, NULL),
        D("artifactType", KILN_OCI_K_STRING, KILN_OCI_F_OMITEMPTY, artifact_type, NULL,
          kiln_oci_check_media_type),
};

const struct kiln_oci_type kiln_oci_descriptor_type =
        KILN_OCI_TYPE(struct kiln_oci_descriptor, descriptor_fields);

int kiln_oci_descriptor_parse(const char *json, size_t len, unsigned flags,
                              struct kiln_oci_descriptor **ret, struct kiln_error **err)
{
    return kiln_oci_parse_document("descriptor", &kiln_oci_descriptor_type, NULL, json, len,
                                   KILN_MANIFEST_MAX, flags, (void **)ret, err);
}

int kiln_oci_descriptor_to_json(const struct kiln_oci_descriptor *d, unsigned flags,
                                struct kiln_buf *out)
{
    return kiln_oci_encode(&kiln_oci_descriptor_type, d, flags, out);
}

bool kiln_oci_descriptor_equal(const struct kiln_oci_descriptor *a,
                               const struct kiln_oci_descriptor *b)
{
    return kiln_oci_equal(&kiln_oci_descriptor_type, a, b);
}

void kiln_oci_descriptor_release(struct kiln_oci_descriptor *d)
{
    kiln_oci_release(&kiln_oci_descriptor_type, d);
}

void kiln_oci_descriptor_free(struct kiln_oci_descriptor *d)
{
    if (!d)
        return;
    kiln_oci_descriptor_release(d);
    free(d);
}
