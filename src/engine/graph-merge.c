/* SPDX-License-Identifier: Apache-2.0 */
/*
 * graph-merge.c - one solve for the graphs of several platforms
 * (docs/internals/engine.md, "Several platforms").
 */
#include "graph-merge.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

#include "base/banned.h"

/* A vertex of the merged graph and what makes it distinct. */
struct merged {
    struct kiln_vertex *v;
    char *definition;
    struct kiln_vertex *base, *from; /* merged inputs */
};

static struct kiln_vertex **from_slot(struct kiln_vertex *v)
{
    if (v->kind == KILN_VERTEX_COPY && v->copy.from_kind == KILN_COPY_FROM_STATE)
        return &v->copy.from;
    return NULL;
}

/* The merged vertex equal to `v` (inputs already merged), or NULL. */
static struct kiln_vertex *find(const struct merged *m, size_t n, const char *def,
                                const struct kiln_vertex *base, const struct kiln_vertex *from,
                                bool no_cache)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].base == base && m[i].from == from && m[i].v->no_cache == no_cache &&
            strcmp(m[i].definition, def) == 0)
            return m[i].v;
    return NULL;
}

void kiln_graph_merge(struct kiln_graph *const *graphs, size_t n, struct kiln_graph *ret)
{
    *ret = (struct kiln_graph){0};
    size_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += graphs[k]->n;
    struct merged *m = kiln_xcalloc(total ? total : 1, sizeof(*m));
    /* map[k][i]: the merged vertex of graph k's vertex i (by its index before merging). */
    struct kiln_vertex ***map = kiln_xcalloc(n ? n : 1, sizeof(*map));
    size_t nm = 0;
    for (size_t k = 0; k < n; k++) {
        const struct kiln_graph *g = graphs[k];
        map[k] = kiln_xcalloc(g->n ? g->n : 1, sizeof(**map));
        for (size_t i = 0; i < g->n; i++) {
            struct kiln_vertex *v = g->v[i], **fs = from_slot(v);
            struct kiln_vertex *base = v->base ? map[k][v->base->index] : NULL;
            struct kiln_vertex *from = fs && *fs ? map[k][(*fs)->index] : NULL;
            char *def = kiln_vertex_definition(v);
            struct kiln_vertex *same = find(m, nm, def, base, from, v->no_cache);
            if (same) {
                free(def);
                map[k][i] = same;
                continue;
            }
            m[nm++] = (struct merged){.v = v, .definition = def, .base = base, .from = from};
            map[k][i] = v;
        }
    }
    /* Only now: the lookups above read each vertex's index in its own graph. */
    for (size_t k = 0; k < n; k++) {
        struct kiln_graph *g = graphs[k];
        if (g->result)
            g->result = map[k][g->result->index];
    }
    ret->v = kiln_xcalloc(nm ? nm : 1, sizeof(*ret->v));
    for (size_t i = 0; i < nm; i++) {
        struct kiln_vertex *v = m[i].v, **fs = from_slot(v);
        v->index = i;
        v->base = m[i].base;
        if (fs)
            *fs = m[i].from;
        ret->v[i] = v;
        free(m[i].definition);
    }
    ret->n = ret->alloc = nm;
    for (size_t k = 0; k < n; k++)
        free(map[k]);
    free(map);
    free(m);
}

void kiln_graph_merge_release(struct kiln_graph *g)
{
    free(g->v);
    *g = (struct kiln_graph){0};
}
