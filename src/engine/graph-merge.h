/* SPDX-License-Identifier: Apache-2.0 */
/*
 * graph-merge.h - the graphs of a multi-platform build as one graph to
 * solve: a vertex that two platforms define identically (same definition,
 * same inputs) is listed once, so it runs once, as BuildKit's solver merges
 * vertices of equal digest (a FROM --platform=$BUILDPLATFORM stage, a
 * context copy onto one base).
 */
#pragma once

#include <stddef.h>

#include "graph.h"

/*
 * Fills `ret` with the union of graphs[0..n): ret->v lists every distinct
 * vertex once, in a topological order, graph 0's first. The vertices stay
 * owned by their graphs (release ret with kiln_graph_merge_release(), then
 * free the graphs); a merged vertex has its index in ret, and its base and
 * COPY --from point to merged vertices; each graph's `result` is set to its
 * merged vertex. The graphs are only good for their config, platform and
 * result afterwards. Never fails.
 */
void kiln_graph_merge(struct kiln_graph *const *graphs, size_t n, struct kiln_graph *ret);

/* Frees what kiln_graph_merge() allocated in g (not the vertices). */
void kiln_graph_merge_release(struct kiln_graph *g);
