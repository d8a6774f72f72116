/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz-manifest.c - arbitrary bytes as a descriptor, manifest, index and
 * image config, lenient and strict, and through the validator. What parses is
 * written (compact and indented) and parsed again, and must come back equal;
 * a failure is a crash (abort), which the replay driver reports.
 */
#include <stdint.h>
#include <stdlib.h>

#include "base/buf.h"
#include "oci/config.h"
#include "oci/descriptor.h"
#include "oci/index.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "oci/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse, write with `flags`, parse what was written, compare, free: for one document type. */
#define ROUND_TRIP(type, prefix, json, json_len, parse_flags)                               \
    do {                                                                                    \
        struct type *doc = NULL, *again = NULL;                                             \
        if (prefix##_parse(json, json_len, parse_flags, &doc, NULL) < 0)                    \
            break;                                                                          \
        for (unsigned f = 0; f <= (KILN_OCI_JSON_INDENT | KILN_OCI_JSON_SPEC_ORDER); f++) { \
            struct kiln_buf out = KILN_BUF_INIT((size_t)1 << 30);                           \
            if (prefix##_to_json(doc, f, &out) < 0 ||                                       \
                prefix##_parse(out.buf, out.len, parse_flags, &again, NULL) < 0 ||          \
                !prefix##_equal(doc, again))                                                \
                abort();                                                                    \
            prefix##_free(again);                                                           \
            kiln_buf_release(&out);                                                         \
        }                                                                                   \
        prefix##_free(doc);                                                                 \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const media_types[] = {KILN_OCI_MT_DESCRIPTOR, KILN_OCI_MT_MANIFEST,
                                              KILN_OCI_MT_INDEX, KILN_OCI_MT_CONFIG,
                                              KILN_OCI_MT_LAYOUT_HEADER};
    const char *text = (const char *)data;
    if (size > 1024 * 1024)
        return 0;
    for (unsigned strict = 0; strict <= KILN_OCI_PARSE_STRICT; strict++) {
        ROUND_TRIP(kiln_oci_descriptor, kiln_oci_descriptor, text, size, strict);
        ROUND_TRIP(kiln_oci_manifest, kiln_oci_manifest, text, size, strict);
        ROUND_TRIP(kiln_oci_index, kiln_oci_index, text, size, strict);
        ROUND_TRIP(kiln_oci_config, kiln_oci_config, text, size, strict);
    }
    for (size_t i = 0; i < sizeof(media_types) / sizeof(media_types[0]); i++) {
        struct kiln_error *err = NULL;
        if (kiln_oci_validate(media_types[i], text, size, &err) < 0 && !err)
            abort();
        kiln_error_free(err);
    }
    return 0;
}
