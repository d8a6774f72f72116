/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate.h - the image-spec validator: schema.Validator(mediaType).Validate
 * of opencontainers/image-spec, in C.
 */
#pragma once

#include <stddef.h>

#include "base/error.h"

/*
 * Validates the document `json` (`len` bytes) as the media type says:
 * descriptor, manifest, index, config (OCI or Docker media types) or the
 * oci-layout header. That is a strict parse (KILN_OCI_PARSE_STRICT) of the
 * matching type. Returns 0, KILN_E_LIMIT for a document past its size limit,
 * or KILN_E_INVALID with the reason (also for a media type without a
 * validator).
 */
int kiln_oci_validate(const char *media_type, const char *json, size_t len,
                      struct kiln_error **err);
