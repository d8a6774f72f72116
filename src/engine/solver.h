/* SPDX-License-Identifier: Apache-2.0 */
/*
 * solver.h - runs a build graph: a cache key per vertex from its definition,
 * its inputs' keys and the content it reads; a cache hit reuses the recorded
 * snapshot, a miss runs the op (op-*.c) and records the result. Independent
 * vertices run on parallel workers; two builds needing one key compute it
 * once (the store's single flight).
 */
#pragma once

#include <stdbool.h>

#include "base/error.h"
#include "build.h"
#include "context/walk.h"
#include "graph.h"
#include "progress.h"
#include "resolve.h"
#include "store/snapshot.h"
#include "store/store.h"

struct kiln_hash_cache;

/* What a vertex produced. */
struct kiln_solve_result {
    char key[KILN_OCI_DIGEST_MAX];        /* its cache key */
    char snapshot[KILN_SNAPSHOT_ID_SIZE]; /* the top snapshot of its state; "" for scratch */
    bool cached;
};

struct kiln_solver {
    const char *data_dir;
    const char *builder; /* cache namespace */
    struct kiln_progress *progress;
    const struct kiln_graph *graph;
    const char *context_dir; /* the build context */
    const struct kiln_walk_filter *context_filter;
    struct kiln_hash_cache *hashes;    /* of the context, may be NULL */
    const char *tmp_dir;               /* private scratch space of the build */
    struct kiln_resolver *resolver;    /* images resolved during conversion */
    bool pull;                         /* --pull: fetch image layers even when cached */
    bool allow_network_host;           /* the network.host entitlement was granted */
    unsigned workers;                  /* 0: 4 */
    int cancel_fd;                     /* > 0: readable means cancel (kiln_build_env) */
    struct kiln_solve_result *results; /* graph->n entries, filled by kiln_solve() */

    /* The request: RUN --mount's secrets and ssh agents. */
    const struct kiln_build_request *request;
};

/* Whether the build was cancelled (sv->cancel_fd is readable). */
bool kiln_solve_cancelled(const struct kiln_solver *sv);

/* Solves every vertex of sv->graph into sv->results. Errors: the failing op's, wrapped with its
 * name. */
int kiln_solve(struct kiln_solver *sv, struct kiln_error **err);

/* Per worker: a store handle of its own and a lease for what it creates. */
struct kiln_op_ctx {
    struct kiln_solver *sv;
    struct kiln_store *store;
    struct kiln_lease *lease;
    const char *progress_id; /* the vertex's id for progress events */
    /* RUN in a user namespace (KILN_RUN_USERNS): the mapping its mounts are seen through; NULL:
       none, the states are mounted as they are */
    const struct kiln_sandbox_userns *userns;
};

/* The key of v: sha256 over its definition, its inputs' keys and `content` ("" when none). */
void kiln_solve_key(const struct kiln_vertex *v, const char *base_key, const char *from_key,
                    const char *content, char ret[KILN_OCI_DIGEST_MAX]);

/* The content digest a vertex reads besides its inputs ("" when none): the context's for COPY. */
int kiln_op_content(struct kiln_op_ctx *ctx, const struct kiln_vertex *v,
                    char ret[KILN_OCI_DIGEST_MAX], struct kiln_error **err);

/* What a file or exec op does in the writable root of its new snapshot `snap`. */
typedef int kiln_op_apply_fn(struct kiln_op_ctx *ctx, const struct kiln_vertex *v, const char *root,
                             const char *snap, const char *from, struct kiln_error **err);

/*
 * A new snapshot on `base`, mounted writable (through ctx->userns when
 * set), changed by fn, committed into ret_snapshot; on failure removed.
 */
int kiln_op_on_base(struct kiln_op_ctx *ctx, const struct kiln_vertex *v, const char *base,
                    const char *from, kiln_op_apply_fn *fn,
                    char ret_snapshot[KILN_SNAPSHOT_ID_SIZE], struct kiln_error **err);

/* Ops: each makes the vertex's state and returns its committed top snapshot in ret_snapshot. */
int kiln_op_image(struct kiln_op_ctx *ctx, const struct kiln_vertex *v,
                  char ret_snapshot[KILN_SNAPSHOT_ID_SIZE], struct kiln_error **err);
int kiln_op_file(struct kiln_op_ctx *ctx, const struct kiln_vertex *v, const char *base,
                 const char *from, char ret_snapshot[KILN_SNAPSHOT_ID_SIZE],
                 struct kiln_error **err);
int kiln_op_exec(struct kiln_op_ctx *ctx, const struct kiln_vertex *v, const char *base,
                 char ret_snapshot[KILN_SNAPSHOT_ID_SIZE], struct kiln_error **err);
