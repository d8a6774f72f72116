/* SPDX-License-Identifier: Apache-2.0 */
/*
 * graph.h - the build graph: what a build must do, as data. The frontend
 * (convert.h) makes it from a Dockerfile; the solver (solver.h) runs it.
 *
 * A vertex produces one filesystem state: an image's layers, or one new layer
 * on top of its `base` state (COPY, ADD, WORKDIR, RUN). Instructions that only
 * change the image config (ENV, LABEL, CMD, ...) make no vertex; the config
 * they build travels in the graph's `config`.
 *
 *   struct kiln_graph *g = kiln_graph_new();
 *   struct kiln_vertex *img = kiln_graph_add(g, KILN_VERTEX_IMAGE, NULL, "[1/2] FROM ...");
 *   ...
 *   kiln_graph_free(g);
 *
 * Vertices are owned by the graph and listed in `v` in creation order, which
 * is a topological order (inputs are always created first).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "dockerfile/instructions.h"
#include "oci/digest.h"
#include "oci/platform.h"

enum kiln_vertex_kind {
    KILN_VERTEX_IMAGE, /* a registry image: pull and unpack its layers */
    KILN_VERTEX_COPY,  /* COPY or ADD onto `base` */
    KILN_VERTEX_MKDIR, /* WORKDIR's mkdir -p onto `base` */
    KILN_VERTEX_EXEC,  /* RUN onto `base` */
};

struct kiln_vertex_image {
    char *ref; /* fully qualified and pinned: "docker.io/library/alpine:3.19@sha256:..." */
    struct kiln_oci_platform platform;
};

/* Where COPY/ADD reads. */
enum kiln_copy_from {
    KILN_COPY_FROM_CONTEXT, /* the build context (.dockerignore applies) */
    KILN_COPY_FROM_STATE,   /* COPY --from: another vertex's result, `from` (NULL: scratch) */
    KILN_COPY_FROM_INLINE,  /* heredocs only: `inline_files` */
};

struct kiln_inline_file {
    char *name; /* a single path component */
    char *data; /* the body, already expanded */
};

struct kiln_vertex_copy {
    bool add; /* ADD: local archives unpack, http(s) sources download */
    enum kiln_copy_from from_kind;
    struct kiln_vertex *from; /* KILN_COPY_FROM_STATE */
    struct kiln_strv sources; /* as written after expansion: "src/x.c", "https://..." */
    struct kiln_inline_file *inline_files;
    size_t n_inline_files;
    char *dest;     /* absolute, cleaned, a trailing '/' kept when given */
    char *chown;    /* "user[:group]" as given, NULL when not given */
    char *chmod;    /* octal or symbolic, NULL when not given */
    char *checksum; /* ADD --checksum, NULL when not given */
    struct kiln_strv excludes;
    bool parents;
    bool link;
    enum kiln_df_tristate unpack;
};

struct kiln_vertex_mkdir {
    char *path; /* absolute and cleaned */
    char *user; /* the USER in effect ("" for root): the owner of what is created */
};

/* One RUN --mount, typed, its values expanded with the stage's ARG and ENV. */
struct kiln_exec_mount {
    struct kiln_df_mount *mount; /* target absolute and cleaned (a relative one joins WORKDIR) */
    bool from_state;             /* from= named a stage or an image: `from` is its state */
    struct kiln_vertex *from;    /* that state (NULL: scratch); unused unless from_state */
};

struct kiln_vertex_exec {
    struct kiln_strv args;          /* argv, SHELL already prepended for the shell form */
    struct kiln_strv env;           /* "K=V": image ENV, then the ARGs in scope */
    char *cwd;                      /* absolute */
    char *user;                     /* "" for root */
    const struct kiln_df_run *run;  /* network, security: the parsed Dockerfile's */
    struct kiln_exec_mount *mounts; /* RUN --mount, in order */
    size_t n_mounts;
    struct kiln_oci_platform platform;
    /* An ONBUILD trigger's RUN: the parsed trigger `run` points into, freed
     * with the vertex (NULL for a RUN of the Dockerfile). */
    struct kiln_df_instruction *owned;
};

struct kiln_vertex {
    enum kiln_vertex_kind kind;
    size_t index;             /* position in the graph's `v` */
    char *name;               /* progress name: "[2/5] COPY src /app" */
    struct kiln_vertex *base; /* the state this applies to; NULL: scratch (or IMAGE) */
    bool no_cache;            /* --no-cache: never reuse a cached result */
    union {
        struct kiln_vertex_image image;
        struct kiln_vertex_copy copy;
        struct kiln_vertex_mkdir mkdir;
        struct kiln_vertex_exec exec;
    };
};

struct kiln_graph {
    struct kiln_vertex **v;
    size_t n, alloc;
    struct kiln_vertex *result; /* the target's filesystem; NULL when it is scratch */
    /*
     * The target's image config (OCI image config JSON: architecture, os,
     * variant, config{...}, history[]), without rootfs and without `created`
     * on the entries this build adds: the exporter fills both. History entries
     * with "empty_layer": false match, in order, the layers of `result`.
     */
    json_t *config;
    struct kiln_oci_platform platform; /* the target platform */
};

struct kiln_graph *kiln_graph_new(void);
void kiln_graph_free(struct kiln_graph *g);
KILN_DEFINE_CLEANUP(struct kiln_graph, kiln_graph_free)

/* Appends a zeroed vertex of `kind` on `base` named `name` (copied). Never fails. */
struct kiln_vertex *kiln_graph_add(struct kiln_graph *g, enum kiln_vertex_kind kind,
                                   struct kiln_vertex *base, const char *name);

/*
 * Where v holds the i-th state it reads besides its base (COPY --from's,
 * then RUN --mount from='s in order): NULL past the last; the slot holds
 * NULL for scratch. The solver waits for these; a merge rewrites them.
 */
struct kiln_vertex **kiln_vertex_input(struct kiln_vertex *v, size_t i);

/*
 * The vertex's definition as canonical JSON (what it does, not its name or
 * inputs' results): the solver hashes it, with its inputs' cache keys and the
 * content it reads, into the cache key. Caller frees.
 */
char *kiln_vertex_definition(const struct kiln_vertex *v);
