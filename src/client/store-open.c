/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store-open.c - the local build cache for `kiln du` and `kiln prune`
 * (docs/internals/client.md).
 */
#include "store-open.h"

#include <stdio.h>

#include "base/alloc.h"
#include "data-dir.h"

#include "base/banned.h"

int kiln_client_store_open(const char *cmd, struct kiln_store **ret)
{
    _cleanup_free_ char *dir = kiln_data_dir();
    struct kiln_error *e = NULL;
    int r = kiln_store_open(dir, ret, &e);
    if (r < 0) {
        fprintf(stderr, "kiln %s: cannot open the build cache in '%s': %s; check $KILN_DATA_DIR\n",
                cmd, dir, kiln_error_message(e, r));
        kiln_error_free(e);
    }
    return r;
}
