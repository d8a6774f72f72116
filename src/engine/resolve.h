/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolve.h - image references to pinned manifests and configs ("[internal]
 * load metadata for ..."), remembered for the rest of the build; and registry
 * clients with the user's credentials.
 */
#pragma once

#include <jansson.h>
#include <pthread.h>

#include "base/error.h"
#include "convert.h"
#include "oci/manifest.h"
#include "oci/platform.h"
#include "progress.h"
#include "registry/registry.h"
#include "store/store.h"

struct kiln_resolved_image {
    char *pinned;                      /* "domain/path:tag@sha256:..." (the digest the tag named) */
    char *domain;                      /* "docker.io" */
    char *path;                        /* "library/alpine" */
    struct kiln_oci_platform platform; /* as asked */
    char manifest_digest[KILN_OCI_DIGEST_MAX]; /* the platform's image manifest */
    struct kiln_oci_manifest *manifest;
    json_t *config;
};

struct kiln_resolver {
    struct kiln_store *store; /* manifests and configs are kept in the content store */
    const char *const *insecure;
    struct kiln_progress *progress;
    pthread_mutex_t lock;
    struct kiln_resolved_image **images;
    size_t n, alloc;
};

void kiln_resolver_init(struct kiln_resolver *r, struct kiln_store *s, const char *const *insecure,
                        struct kiln_progress *progress);
void kiln_resolver_release(struct kiln_resolver *r);

/* A kiln_resolve_image_fn (convert.h); userdata is the resolver. */
int kiln_resolver_resolve(void *userdata, const char *ref, const struct kiln_oci_platform *platform,
                          char **ret_ref, json_t **ret_config, struct kiln_error **err);

/* The image resolved as `pinned` for `platform`, or NULL. */
const struct kiln_resolved_image *kiln_resolver_find(struct kiln_resolver *r, const char *pinned,
                                                     const struct kiln_oci_platform *platform);

/* A client of registry `domain` with the credentials `kiln login` or Docker's config hold. */
int kiln_registry_open(const char *domain, const char *const *insecure,
                       struct kiln_registry_client **ret, struct kiln_error **err);
