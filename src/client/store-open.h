/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store-open.h - the local build cache for `kiln du` and `kiln prune`
 * (docs/internals/client.md).
 */
#pragma once

#include "store/store.h"

/* Opens the store of the data directory; on failure prints why (prefixed by `cmd`) and returns < 0.
 */
int kiln_client_store_open(const char *cmd, struct kiln_store **ret);
