/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers.h - snapshots as image layers: chain ids, and the compressed blob of
 * a snapshot's diff, computed once per compression and remembered (a cache
 * record "layer-blob:<snapshot>:<compression>"), so a cached layer is never
 * compressed twice.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "oci/compress.h"
#include "oci/descriptor.h"
#include "oci/digest.h"
#include "oci/layer.h"
#include "store/store.h"

struct kiln_layer_blob {
    char diff_id[KILN_OCI_DIGEST_MAX];
    char digest[KILN_OCI_DIGEST_MAX];
    uint64_t size;
    enum kiln_oci_compression compression;
};

/* The SOURCE_DATE_EPOCH a built layer's times are clamped to. */
struct kiln_layer_epoch {
    bool has_epoch;
    int64_t epoch;
};

/* The chain id after `prev` ("" for the first layer) and diff_id. ret may be prev. */
void kiln_layer_chain_id(const char *prev, const char *diff_id, char ret[KILN_OCI_DIGEST_MAX]);

/* Remembers `blob` (a pulled layer, in the content store) as snapshot snap's. */
int kiln_layer_remember(struct kiln_store *s, const char *builder, const char *snap,
                        const char *diff_id, const struct kiln_oci_descriptor *blob,
                        struct kiln_error **err);

/*
 * The blob of snapshot snap with compression `want`, or with any compression
 * unless `force`: the pulled one, or the one built with epoch e. Returns 1 and *ret, or 0 when none
 * is remembered.
 */
int kiln_layer_lookup(struct kiln_store *s, const char *builder, const char *snap,
                      enum kiln_oci_compression want, bool force, const struct kiln_layer_epoch *e,
                      struct kiln_layer_blob *ret, struct kiln_error **err);

/*
 * Computes snapshot snap's layer (its overlay upper dir against its parent's
 * view) as o says, stores the blob under `lease` and remembers it.
 */
int kiln_layer_compute(struct kiln_store *s, struct kiln_lease *lease, const char *builder,
                       const char *snap, const struct kiln_oci_layer_opts *o,
                       struct kiln_layer_blob *ret, struct kiln_error **err);
