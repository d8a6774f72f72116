/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloud-cache.h - `kiln du` and `kiln prune` against a cloud builder: the
 * builder's store measured and collected by kilnd (docs/internals/client-cloud.md).
 */
#pragma once

#include "base/error.h"
#include "builders.h"
#include "store/store.h"

int kiln_cloud_du(const struct kiln_builder_entry *b, struct kiln_store_usage *ret,
                  struct kiln_error **err);
int kiln_cloud_prune(const struct kiln_builder_entry *b, const struct kiln_prune_opts *o,
                     struct kiln_prune_report *ret, struct kiln_error **err);
