/* SPDX-License-Identifier: Apache-2.0 */
/*
 * image-export.h - a built state as an image in the content store: one layer
 * blob per snapshot of its chain (reused when computed before), the config
 * with rootfs and history times, and the manifest.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "graph.h"
#include "layers.h"
#include "oci/platform.h"
#include "progress.h"
#include "store/store.h"

struct kiln_image_export_opts {
    enum kiln_oci_compression compression;
    int level;
    bool force_compression;  /* recompress layers held in another compression */
    bool docker_media_types; /* Docker schema 2 instead of OCI */
    bool has_epoch;          /* SOURCE_DATE_EPOCH */
    int64_t epoch;
    int64_t now_ns; /* the time the new history entries get (without epoch) */
};

struct kiln_image {
    char digest[KILN_OCI_DIGEST_MAX]; /* the manifest */
    const char *media_type;           /* static */
    uint64_t size;
    char config_digest[KILN_OCI_DIGEST_MAX];
    uint64_t config_size;
    const char *config_media_type; /* static */
    struct kiln_layer_blob *layers;
    int64_t *layer_times; /* when each layer's snapshot was made (ns) */
    size_t n_layers;
};

void kiln_image_release(struct kiln_image *img);

/* The descriptor of img's manifest as JSON (mediaType, digest, size). */
json_t *kiln_image_descriptor(const struct kiln_image *img);

/*
 * Exports the state whose top snapshot is `top` ("" for scratch) with
 * config g->config. Layers are computed on as many threads as there are
 * cores. Progress goes to `p` under vertex id `pid`. Errors: those of the
 * layer writer and the store.
 */
int kiln_image_export(struct kiln_store *s, struct kiln_lease *lease, const char *builder,
                      const struct kiln_graph *g, const char *top,
                      const struct kiln_image_export_opts *o, struct kiln_progress *p,
                      const char *pid, struct kiln_image *ret, struct kiln_error **err);

/* An image index (OCI) or manifest list (Docker) over one image per platform. */
struct kiln_image_index {
    char digest[KILN_OCI_DIGEST_MAX];
    const char *media_type; /* static */
    uint64_t size;
};

/* The descriptor of an index as JSON (mediaType, digest, size). */
json_t *kiln_image_index_descriptor(const struct kiln_image_index *idx);

/*
 * Writes the index of imgs[0..n) into the content store, each manifest's
 * descriptor with platforms[i], in order, 2-space indented as BuildKit
 * writes it: an OCI image index, or with docker_media_types a Docker
 * manifest list. Errors: those of the store.
 */
int kiln_image_index_export(struct kiln_store *s, struct kiln_lease *lease,
                            const struct kiln_image *imgs,
                            const struct kiln_oci_platform *const *platforms, size_t n,
                            bool docker_media_types, struct kiln_progress *p, const char *pid,
                            struct kiln_image_index *ret, struct kiln_error **err);
