/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert.c - Dockerfile to build graph: the stages and the target, the
 * stages the target reaches, instruction dispatch, and the target's final
 * config (docs/internals/convert.md).
 */
#include "convert.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "convert-private.h"

#include "base/banned.h"

int conv_dispatch(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                  struct kiln_error **err)
{
    switch (ins->kind) {
    case KILN_DF_ARG: return conv_arg(c, s, ins, err);
    case KILN_DF_RUN: return conv_run(c, s, ins, err);
    case KILN_DF_COPY:
    case KILN_DF_ADD: return conv_copy(c, s, ins, err);
    case KILN_DF_FROM:
        return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line,
                                   "FROM inside a stage: each FROM starts a stage");
    default: return conv_config_dispatch(c, s, ins, err);
    }
}

static int dispatch_stage(struct conv *c, struct conv_stage *s, struct kiln_error **err)
{
    int r = conv_stage_from(c, s, err);
    s->onbuild = true;
    for (size_t k = 0; r >= 0 && k < s->n_triggers; k++) {
        r = conv_dispatch(c, s, s->triggers[k], err);
        /* A RUN's vertex points into its instruction: the vertex keeps the trigger. */
        if (r >= 0 && s->triggers[k]->kind == KILN_DF_RUN)
            s->state->exec.owned = TAKE_PTR(s->triggers[k]);
    }
    s->onbuild = false;
    for (size_t k = 0; r >= 0 && k < s->st->n_instructions; k++)
        r = conv_dispatch(c, s, &s->st->instructions[k], err);
    return r;
}

int conv_stage_need(struct conv *c, size_t i, const struct conv_stage *from, unsigned line,
                    struct kiln_error **err)
{
    struct conv_stage *s = &c->stages[i];
    if (s->status == 2)
        return 0;
    if (s->status == 1)
        return kiln_error_set_line(err, KILN_E_INVALID, line,
                                   "circular dependency detected on stage: %s", s->name);
    if (from && i >= from->index)
        return kiln_error_set_line(err, KILN_E_INVALID, line,
                                   "stage \"%s\" is used by stage \"%s\" before it is defined: "
                                   "move it above",
                                   s->name, from->name);
    s->status = 1;
    int r = dispatch_stage(c, s, err);
    s->status = 2;
    return r;
}

/* BuildKit's dispatch states: the stages plus one per image that COPY --from names. */
static size_t count_states(const struct conv *c)
{
    _cleanup_strv_ struct kiln_strv images = KILN_STRV_INIT;
    for (size_t i = 0; i < c->n_stages; i++) {
        const struct kiln_df_stage *st = c->stages[i].st;
        for (size_t k = 0; k < st->n_instructions; k++) {
            const struct kiln_df_instruction *ins = &st->instructions[k];
            if (ins->kind != KILN_DF_COPY || !ins->copy.from || !*ins->copy.from)
                continue;
            if (conv_find_stage(c, ins->copy.from) == -1 &&
                kiln_strv_find(&images, ins->copy.from) < 0)
                kiln_strv_push(&images, ins->copy.from);
        }
    }
    return c->n_stages + images.n;
}

/* FROM's base and --platform, expanded with the meta args (for every stage, as BuildKit). */
static int stage_init(struct conv *c, size_t i, struct kiln_error **err)
{
    struct conv_stage *s = &c->stages[i];
    const struct kiln_df_from *f = &s->st->from;
    unsigned line = s->st->start_line;
    int r = conv_expand_env(c, &c->global, f->base, line, &s->base_name, err);
    if (r < 0)
        return r;
    if (!*s->base_name)
        return kiln_error_set_line(err, KILN_E_INVALID, line, "base name (%s) should not be blank",
                                   f->base);
    s->base_stage = -1;
    for (size_t k = 0; k < i; k++)
        if (strcmp(c->stages[k].st->from.name, s->base_name) == 0)
            s->base_stage = (long)k;
    if (!f->platform || !*f->platform) {
        conv_platform_copy(&s->platform, &c->target);
        return 0;
    }
    _cleanup_free_ char *pf = NULL;
    r = conv_expand_env(c, &c->global, f->platform, line, &pf, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "failed to process arguments for platform %s", f->platform);
    if (!*pf)
        return kiln_error_set_line(err, KILN_E_INVALID, line,
                                   "empty platform value from expression %s", f->platform);
    r = kiln_oci_platform_parse(pf, &s->platform, err);
    if (r < 0)
        return kiln_error_at_line(
                err, kiln_error_wrap(err, r, "failed to parse platform %s", f->platform), line);
    kiln_oci_platform_normalize(&s->platform);
    s->has_platform = true;
    return 0;
}

static long find_target(const struct conv *c, struct kiln_error **err)
{
    const char *t = c->o->target;
    if (!t || !*t)
        return (long)c->n_stages - 1;
    for (size_t i = 0; i < c->n_stages; i++)
        if (strcasecmp(c->stages[i].st->from.name, t) == 0)
            return (long)i;
    struct kiln_buf names = KILN_BUF_INIT(SIZE_MAX);
    for (size_t i = 0; i < c->n_stages; i++)
        if (*c->stages[i].st->from.name)
            kiln_buf_addf(&names, "%s%s", names.len ? ", " : "", c->stages[i].st->from.name);
    kiln_error_set(err, KILN_E_INVALID, "target stage \"%s\" could not be found: the stages are %s",
                   t, names.len ? names.buf : "unnamed (name one with FROM ... AS NAME)");
    kiln_buf_release(&names);
    return -1;
}

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
    else
        json_object_del(o, key);
}

/* BuildKit's finalizeResultImage: --label, the requested platform, platforms.Normalize. */
static void finalize(struct conv *c, struct conv_stage *s)
{
    json_t *img = s->image;
    for (size_t i = 0; c->o->labels && i < c->o->labels->n; i++) {
        const char *kv = c->o->labels->v[i];
        const char *eq = strchr(kv, '=');
        json_t *labels = json_object_get(conv_config(s), "Labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(conv_config(s), "Labels", labels);
        }
        _cleanup_free_ char *k = kiln_xstrndup(kv, eq ? (size_t)(eq - kv) : strlen(kv));
        json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
    }
    struct kiln_oci_platform p = {.os_features = KILN_STRV_INIT};
    const char *arch = json_string_value(json_object_get(img, "architecture"));
    const char *os = json_string_value(json_object_get(img, "os"));
    const char *variant = json_string_value(json_object_get(img, "variant"));
    const char *osv = json_string_value(json_object_get(img, "os.version"));
    const struct kiln_oci_platform *t = &c->target;
    if (!c->implicit_target) {
        bool same = strcmp(os ? os : "", t->os ? t->os : "") == 0 &&
                    strcmp(arch ? arch : "", t->architecture ? t->architecture : "") == 0;
        os = t->os;
        arch = t->architecture;
        if (t->variant || !same)
            variant = t->variant;
        if (t->os_version || !same)
            osv = t->os_version;
    }
    p.os = kiln_xstrdup(os ? os : "");
    p.architecture = kiln_xstrdup(arch ? arch : "");
    p.variant = variant && *variant ? kiln_xstrdup(variant) : NULL;
    p.os_version = osv && *osv ? kiln_xstrdup(osv) : NULL;
    kiln_oci_platform_normalize(&p);
    json_object_set_new(img, "os", json_string(p.os ? p.os : ""));
    json_object_set_new(img, "architecture", json_string(p.architecture ? p.architecture : ""));
    set_str(img, "variant", p.variant);
    set_str(img, "os.version", p.os_version);
    conv_image_normalize(img);
    json_object_del(img, "rootfs");
    json_object_del(img, "created");
    c->g->result = s->state;
    c->g->config = json_incref(img);
    c->g->platform = p;
}

static void conv_release(struct conv *c)
{
    for (size_t i = 0; i < c->n_stages; i++) {
        struct conv_stage *s = &c->stages[i];
        free(s->name);
        free(s->base_name);
        json_decref(s->image);
        kiln_shell_env_release(&s->env);
        conv_args_release(s);
        kiln_oci_platform_release(&s->platform);
        for (size_t k = 0; k < s->n_triggers; k++)
            kiln_df_instruction_free(s->triggers[k]);
        free(s->triggers);
    }
    free(c->stages);
    for (size_t i = 0; i < c->n_images; i++) {
        free(c->images[i].key);
        free(c->images[i].pinned);
        json_decref(c->images[i].config);
    }
    free(c->images);
    kiln_shell_env_release(&c->global);
    kiln_oci_platform_release(&c->target);
}

static int convert(struct conv *c, struct kiln_error **err)
{
    for (size_t i = 0; i < c->n_stages; i++) {
        struct conv_stage *s = &c->stages[i];
        s->st = &c->df->stages[i];
        s->index = i;
        s->env = (struct kiln_shell_env)KILN_SHELL_ENV_INIT;
    }
    c->n_states = count_states(c);
    for (size_t i = 0; i < c->n_stages; i++) {
        struct conv_stage *s = &c->stages[i];
        s->name = *s->st->from.name ? kiln_xstrdup(s->st->from.name)
                  : c->n_states > 1 ? kiln_xasprintf("stage-%zu", i)
                                    : kiln_xstrdup("");
    }
    int r = conv_global_args(c, err);
    for (size_t i = 0; r >= 0 && i < c->n_stages; i++)
        r = stage_init(c, i, err);
    if (r < 0)
        return r;
    long t = find_target(c, err);
    if (t < 0)
        return KILN_E_INVALID;
    r = conv_stage_need(c, (size_t)t, NULL, 0, err);
    if (r >= 0)
        finalize(c, &c->stages[t]);
    return r;
}

int kiln_convert(const struct kiln_df_instructions *df, const struct kiln_convert_opts *opts,
                 struct kiln_graph **ret, struct kiln_error **err)
{
    if (df->n_stages == 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "dockerfile contains no stages to build: add a FROM line");
    struct conv c = {
            .df = df,
            .o = opts,
            .global = KILN_SHELL_ENV_INIT,
            .shopt = {.escape = df->escape ? df->escape : '\\'},
            .n_stages = df->n_stages,
            .implicit_target = !opts->platform,
    };
    conv_platform_copy(&c.target, opts->platform ? opts->platform : opts->build_platform);
    c.stages = kiln_xcalloc(c.n_stages, sizeof(*c.stages));
    c.g = kiln_graph_new();
    int r = convert(&c, err);
    conv_release(&c);
    if (r < 0) {
        kiln_graph_free(c.g);
        return r;
    }
    *ret = c.g;
    return 0;
}
