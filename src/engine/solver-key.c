/* SPDX-License-Identifier: Apache-2.0 */
/*
 * solver-key.c - cache keys: what a vertex does, on what, with what content
 * (docs/internals/engine.md, "Cache keys").
 */
#include <stdlib.h>
#include <string.h>

#include "oci/digest.h"
#include "solver.h"

#include "base/banned.h"

void kiln_solve_key(const struct kiln_vertex *v, const char *base_key, const char *from_key,
                    const char *content, char ret[KILN_OCI_DIGEST_MAX])
{
    char *def = kiln_vertex_definition(v);
    struct kiln_oci_digester d;
    kiln_oci_digester_init(&d, KILN_OCI_SHA256, NULL);
    /* Versioned, and each part NUL-terminated: no two inputs hash alike. */
    const char *parts[] = {"kiln.cache.v1", def, base_key ? base_key : "", from_key ? from_key : "",
                           content ? content : ""};
    for (size_t i = 0; i < sizeof(parts) / sizeof(*parts); i++)
        kiln_oci_digester_update(&d, parts[i], strlen(parts[i]) + 1, NULL);
    kiln_oci_digester_final(&d, ret, NULL);
    kiln_oci_digester_release(&d);
    free(def);
}
