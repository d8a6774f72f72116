/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz-reference.c - arbitrary bytes as an image reference and as a
 * platform. What parses must print back to something that parses to the
 * same; a failure is a crash (abort), which the replay driver reports.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "oci/platform.h"
#include "oci/reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * (The familiar form need not normalise back: "docker.io/a.io/b" prints as
 * "a.io/b", whose "a.io" is a domain. distribution/reference does the same.)
 */
static void reference(const char *s, bool normalized)
{
    struct kiln_oci_ref *r = NULL, *again = NULL;
    struct kiln_error *err = NULL;
    int rc = normalized ? kiln_oci_ref_parse_normalized(s, &r, &err)
                        : kiln_oci_ref_parse(s, &r, &err);
    if (rc < 0) {
        if (!err || !err->message[0])
            abort();
        kiln_error_free(err);
        return;
    }
    kiln_oci_ref_tag_name_only(r);
    char *full = kiln_oci_ref_string(r, false);
    char *familiar = kiln_oci_ref_string(r, true);
    if (kiln_oci_ref_parse(full, &again, NULL) < 0)
        abort();
    char *full2 = kiln_oci_ref_string(again, false);
    if (strcmp(full, full2) != 0)
        abort();
    (void)kiln_oci_ref_plain_http(r->domain ? r->domain : "");
    free(full2);
    kiln_oci_ref_free(again);
    free(familiar);
    free(full);
    kiln_oci_ref_free(r);
}

static void platform(const char *s)
{
    struct kiln_oci_platform p, host;
    if (kiln_oci_platform_parse(s, &p, NULL) < 0)
        return;
    char *f = kiln_oci_platform_format_all(&p);
    kiln_oci_platform_host(&host);
    (void)kiln_oci_platform_rank(&host, &p);
    (void)kiln_oci_platform_rank(&p, &host);
    /* (Not rank(p, p) == 0: platforms.Only("linux/arm64/v8x") does not match itself.) */
    if (!kiln_oci_platform_match(&p, &p))
        abort();
    kiln_oci_platform_normalize(&p);
    free(f);
    kiln_oci_platform_release(&host);
    kiln_oci_platform_release(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024 * 1024)
        return 0;
    char *s = kiln_xstrndup((const char *)data, size);
    reference(s, true);
    reference(s, false);
    platform(s);
    free(s);
    return 0;
}
