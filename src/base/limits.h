/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits.h - every cap on untrusted input, in one place.
 *
 * Hostile input hits one of these (KILN_E_LIMIT with a message that names the
 * limit) long before memory or time runs out.
 */
#pragma once

/* Dockerfile: whole file, one physical line (BuildKit: 64 KiB - 1), nodes. */
#define KILN_DOCKERFILE_MAX       (32u * 1024 * 1024)
#define KILN_DOCKERFILE_LINE_MAX  (64u * 1024 - 1)
#define KILN_DOCKERFILE_NODES_MAX 1000000u
/* ONBUILD ONBUILD ... nesting. */
#define KILN_DOCKERFILE_NEST_MAX 16u

/* Shell-word expansion: nesting of ${...} and the size of one result. */
#define KILN_EXPAND_DEPTH_MAX  64u
#define KILN_EXPAND_RESULT_MAX (4u * 1024 * 1024)

/* .dockerignore: file size and number of patterns. */
#define KILN_DOCKERIGNORE_MAX      (4u * 1024 * 1024)
#define KILN_DOCKERIGNORE_PATTERNS 100000u

/* OCI/Docker manifests and indexes, and image configs (oci/): whole document. */
#define KILN_MANIFEST_MAX (4u * 1024 * 1024)
#define KILN_CONFIG_MAX   (4u * 1024 * 1024)

/* Build context on disk: directory nesting the walk follows. */
#define KILN_CONTEXT_DEPTH_MAX 512u

/* Store (store/): largest blob the content store ingests when the caller names no smaller cap. */
#define KILN_BLOB_MAX (64ull * 1024 * 1024 * 1024)
/* Builder names, cache keys, pin names, media types, compressions kept in the store's db. */
#define KILN_STORE_NAME_MAX 4096u
/* Snapshot parent chain (overlayfs stacks at most 500 lower directories). */
#define KILN_SNAPSHOT_CHAIN_MAX 500u
/* Directory nesting a snapshot's size measurement follows (one open fd per level). */
#define KILN_SNAPSHOT_DEPTH_MAX 256u

/* Registry client (registry/): a WWW-Authenticate header, its challenges, one's parameters. */
#define KILN_REGISTRY_CHALLENGE_MAX        (16u * 1024)
#define KILN_REGISTRY_CHALLENGES_MAX       16u
#define KILN_REGISTRY_CHALLENGE_PARAMS_MAX 32u
/* A token server's answer, a registry's error body, a response header line. */
#define KILN_REGISTRY_TOKEN_MAX      (1u * 1024 * 1024)
#define KILN_REGISTRY_ERROR_BODY_MAX (64u * 1024)
#define KILN_REGISTRY_HEADER_MAX     (16u * 1024)
/* Docker's config.json, kiln's credentials.json, a credential helper's output. */
#define KILN_REGISTRY_CREDENTIALS_MAX (1u * 1024 * 1024)
/* Redirects one request follows; tokens one client caches (one per scope). */
#define KILN_REGISTRY_REDIRECTS_MAX 5u
#define KILN_REGISTRY_TOKENS_MAX    64u
/* The largest chunk of a chunked upload (held in memory while it is sent). */
#define KILN_REGISTRY_CHUNK_MAX (64u * 1024 * 1024)

/* Layers (oci/): bytes of one uncompressed layer tar, its entries, one PAX extended header. */
#define KILN_LAYER_SIZE_MAX    (64ull * 1024 * 1024 * 1024)
#define KILN_LAYER_ENTRIES_MAX 2000000u
#define KILN_LAYER_PAX_MAX     (1u * 1024 * 1024)
/* A layer entry's path (PATH_MAX), one of its components (NAME_MAX), its nesting. */
#define KILN_LAYER_NAME_MAX      4096u
#define KILN_LAYER_COMPONENT_MAX 255u
#define KILN_LAYER_DEPTH_MAX     512u
