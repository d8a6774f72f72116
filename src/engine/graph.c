/* SPDX-License-Identifier: Apache-2.0 */
/*
 * graph.c - build graph storage and vertex definitions (docs/internals/engine.md).
 */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "oci/json.h"

#include "base/banned.h"

struct kiln_graph *kiln_graph_new(void)
{
    struct kiln_graph *g = kiln_xcalloc(1, sizeof(*g));
    return g;
}

struct kiln_vertex *kiln_graph_add(struct kiln_graph *g, enum kiln_vertex_kind kind,
                                   struct kiln_vertex *base, const char *name)
{
    KILN_GROW(g->v, g->alloc, g->n + 1);
    struct kiln_vertex *v = kiln_xcalloc(1, sizeof(*v));
    v->kind = kind;
    v->index = g->n;
    v->name = kiln_xstrdup(name ? name : "");
    v->base = base;
    if (kind == KILN_VERTEX_COPY) {
        v->copy.sources = (struct kiln_strv)KILN_STRV_INIT;
        v->copy.excludes = (struct kiln_strv)KILN_STRV_INIT;
        v->copy.unpack = KILN_DF_UNSET;
    } else if (kind == KILN_VERTEX_EXEC) {
        v->exec.args = (struct kiln_strv)KILN_STRV_INIT;
        v->exec.env = (struct kiln_strv)KILN_STRV_INIT;
    }
    g->v[g->n++] = v;
    return v;
}

static void vertex_free(struct kiln_vertex *v)
{
    switch (v->kind) {
    case KILN_VERTEX_IMAGE:
        free(v->image.ref);
        kiln_oci_platform_release(&v->image.platform);
        break;
    case KILN_VERTEX_COPY:
        kiln_strv_release(&v->copy.sources);
        for (size_t i = 0; i < v->copy.n_inline_files; i++) {
            free(v->copy.inline_files[i].name);
            free(v->copy.inline_files[i].data);
        }
        free(v->copy.inline_files);
        free(v->copy.dest);
        free(v->copy.chown);
        free(v->copy.chmod);
        free(v->copy.checksum);
        kiln_strv_release(&v->copy.excludes);
        break;
    case KILN_VERTEX_MKDIR:
        free(v->mkdir.path);
        free(v->mkdir.user);
        break;
    case KILN_VERTEX_EXEC:
        kiln_strv_release(&v->exec.args);
        kiln_strv_release(&v->exec.env);
        free(v->exec.cwd);
        free(v->exec.user);
        kiln_oci_platform_release(&v->exec.platform);
        for (size_t i = 0; i < v->exec.n_mounts; i++)
            kiln_df_mount_free(v->exec.mounts[i].mount);
        free(v->exec.mounts);
        kiln_df_instruction_free(v->exec.owned);
        break;
    }
    free(v->name);
    free(v);
}

void kiln_graph_free(struct kiln_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        vertex_free(g->v[i]);
    free(g->v);
    json_decref(g->config);
    kiln_oci_platform_release(&g->platform);
    free(g);
}

struct kiln_vertex **kiln_vertex_input(struct kiln_vertex *v, size_t i)
{
    if (v->kind == KILN_VERTEX_COPY && v->copy.from_kind == KILN_COPY_FROM_STATE)
        return i == 0 ? &v->copy.from : NULL;
    if (v->kind != KILN_VERTEX_EXEC)
        return NULL;
    for (size_t k = 0; k < v->exec.n_mounts; k++)
        if (v->exec.mounts[k].from_state && i-- == 0)
            return &v->exec.mounts[k].from;
    return NULL;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *platform_json(const struct kiln_oci_platform *p)
{
    char *s = kiln_oci_platform_format_all(p);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *copy_json(const struct kiln_vertex_copy *c)
{
    json_t *files = json_array();
    for (size_t i = 0; i < c->n_inline_files; i++)
        json_array_append_new(files, json_pack("{s:s, s:s}", "name", c->inline_files[i].name,
                                               "data", c->inline_files[i].data));
    return json_pack("{s:b, s:i, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:b, s:b, s:i}", "add", c->add,
                     "from", (int)c->from_kind, "sources", kiln_oci_json_strv(&c->sources),
                     "inline", files, "dest", c->dest ? c->dest : "", "chown",
                     str_or_null(c->chown), "chmod", str_or_null(c->chmod), "checksum",
                     str_or_null(c->checksum), "excludes", kiln_oci_json_strv(&c->excludes),
                     "parents", c->parents, "link", c->link, "unpack", (int)c->unpack);
}

/*
 * What a RUN mount is, as BuildKit's LLB mount has it: never a secret's
 * value nor an agent's socket path (the client's), only names and places.
 * A from= state is an input of the vertex: its key joins the cache key.
 */
static json_t *mount_json(const struct kiln_exec_mount *em)
{
    const struct kiln_df_mount *m = em->mount;
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b}", "type",
                          kiln_df_mount_type_name(m->type), "target", m->target, "source",
                          m->source, "id", m->id, "from_state", em->from_state, "readonly",
                          m->readonly, "required", m->required);
    if (m->type == KILN_DF_MOUNT_CACHE)
        json_object_set_new(j, "sharing", json_string(kiln_df_sharing_name(m->sharing)));
    if (m->env)
        json_object_set_new(j, "env", json_string(m->env));
    if (m->type == KILN_DF_MOUNT_TMPFS)
        json_object_set_new(j, "size", json_integer(m->size));
    if (m->has_mode || m->has_uid || m->has_gid)
        json_object_set_new(j, "owner",
                            json_pack("{s:I, s:I, s:I}", "mode", (json_int_t)m->mode, "uid",
                                      (json_int_t)m->uid, "gid", (json_int_t)m->gid));
    return j;
}

char *kiln_vertex_definition(const struct kiln_vertex *v)
{
    json_t *j = NULL;
    switch (v->kind) {
    case KILN_VERTEX_IMAGE:
        j = json_pack("{s:s, s:s, s:o}", "op", "image", "ref", v->image.ref, "platform",
                      platform_json(&v->image.platform));
        break;
    case KILN_VERTEX_COPY:
        j = json_pack("{s:s, s:o}", "op", "copy", "copy", copy_json(&v->copy));
        break;
    case KILN_VERTEX_MKDIR:
        j = json_pack("{s:s, s:s, s:s}", "op", "mkdir", "path", v->mkdir.path, "user",
                      v->mkdir.user ? v->mkdir.user : "");
        break;
    case KILN_VERTEX_EXEC:
        j = json_pack("{s:s, s:o, s:o, s:s, s:s, s:o, s:i, s:i}", "op", "exec", "args",
                      kiln_oci_json_strv(&v->exec.args), "env", kiln_oci_json_strv(&v->exec.env),
                      "cwd", v->exec.cwd ? v->exec.cwd : "/", "user",
                      v->exec.user ? v->exec.user : "", "platform",
                      platform_json(&v->exec.platform), "network",
                      v->exec.run ? (int)v->exec.run->network : 0, "security",
                      v->exec.run ? (int)v->exec.run->security : 0);
        if (v->exec.n_mounts) {
            json_t *mounts = json_array();
            for (size_t i = 0; i < v->exec.n_mounts; i++)
                json_array_append_new(mounts, mount_json(&v->exec.mounts[i]));
            json_object_set_new(j, "mounts", mounts);
        }
        break;
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    if (!s)
        abort();
    return s;
}
