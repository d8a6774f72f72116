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
    struct kiln_vertex *base;    /* merged */
    struct kiln_vertex **inputs; /* merged, as kiln_vertex_input() lists them */
    size_t n_inputs;
};

static size_t count_inputs(struct kiln_vertex *v)
{
    size_t n = 0;
    while (kiln_vertex_input(v, n))
        n++;
    return n;
}

/* The merged vertex equal to `c` (its inputs already merged), or NULL. */
static struct kiln_vertex *find(const struct merged *m, size_t n, const struct merged *c)
{
    for (size_t i = 0; i < n; i++) {
        if (m[i].base != c->base || m[i].n_inputs != c->n_inputs ||
            m[i].v->no_cache != c->v->no_cache || strcmp(m[i].definition, c->definition) != 0)
            continue;
        size_t k = 0;
        while (k < c->n_inputs && m[i].inputs[k] == c->inputs[k])
            k++;
        if (k == c->n_inputs)
            return m[i].v;
    }
    return NULL;
}

/* v's vertex and inputs in the merged graph, through map (graph k's vertex i -> merged). */
static struct merged candidate(struct kiln_vertex *v, struct kiln_vertex **map)
{
    struct merged c = {.v = v, .definition = kiln_vertex_definition(v)};
    c.base = v->base ? map[v->base->index] : NULL;
    c.n_inputs = count_inputs(v);
    c.inputs = kiln_xcalloc(c.n_inputs + 1, sizeof(*c.inputs));
    for (size_t k = 0; k < c.n_inputs; k++) {
        struct kiln_vertex *in = *kiln_vertex_input(v, k);
        c.inputs[k] = in ? map[in->index] : NULL;
    }
    return c;
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
            struct merged c = candidate(g->v[i], map[k]);
            struct kiln_vertex *same = find(m, nm, &c);
            if (same) {
                free(c.definition);
                free(c.inputs);
                map[k][i] = same;
                continue;
            }
            m[nm++] = c;
            map[k][i] = g->v[i];
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
        struct kiln_vertex *v = m[i].v;
        v->index = i;
        v->base = m[i].base;
        for (size_t k = 0; k < m[i].n_inputs; k++)
            *kiln_vertex_input(v, k) = m[i].inputs[k];
        ret->v[i] = v;
        free(m[i].definition);
        free(m[i].inputs);
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
