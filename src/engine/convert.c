/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert.c - Dockerfile to build graph: global args, stages and the target,
 * FROM, progress names (docs/internals/convert.md).
 */
#include "convert.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "convert-private.h"
#include "dockerfile/goquote.h"
#include "dockerfile/parser.h"

#include "base/banned.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void conv_word_env(const struct conv_stage *s, struct kiln_shell_env *ret)
{
    *ret = (struct kiln_shell_env)KILN_SHELL_ENV_INIT;
    for (size_t i = 0; i < s->args.names.n; i++)
        kiln_shell_env_set(ret, s->args.names.v[i], s->args.values.v[i]);
    for (size_t i = 0; i < s->env.names.n; i++)
        kiln_shell_env_set(ret, s->env.names.v[i], s->env.values.v[i]);
}

int conv_expand(const struct conv *c, const struct kiln_shell_env *env, const char *word,
                unsigned line, char **ret, struct kiln_error **err)
{
    int r = kiln_shell_process_word(word, env, &c->shopt, ret, NULL, err);
    return r < 0 ? kiln_error_at_line(err, r, line) : 0;
}

json_t *conv_config(struct conv_stage *s)
{
    json_t *cfg = json_object_get(s->image, "config");
    if (!json_is_object(cfg)) {
        cfg = json_object();
        json_object_set_new(s->image, "config", cfg);
    }
    return cfg;
}

void conv_sync_env(struct conv_stage *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->env.names.n; i++) {
        char *kv = kiln_xasprintf("%s=%s", s->env.names.v[i], s->env.values.v[i]);
        json_array_append_new(a, json_string(kv));
        free(kv);
    }
    json_object_set_new(conv_config(s), "Env", a);
}

void conv_history(struct conv_stage *s, const char *created_by, bool layer)
{
    json_t *h = json_object_get(s->image, "history");
    if (!json_is_array(h)) {
        h = json_array();
        json_object_set_new(s->image, "history", h);
    }
    json_t *e =
            json_pack("{s:s, s:s}", "created_by", created_by, "comment", "buildkit.dockerfile.v0");
    if (!layer)
        json_object_set_new(e, "empty_layer", json_true());
    json_array_append_new(h, e);
}

char *conv_goquote_list(const struct kiln_strv *words)
{
    struct kiln_buf b = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_addch(&b, '[');
    for (size_t i = 0; i < words->n; i++) {
        if (i)
            kiln_buf_addch(&b, ' ');
        kiln_goquote(&b, words->v[i], strlen(words->v[i]));
    }
    kiln_buf_addch(&b, ']');
    return kiln_buf_detach(&b, NULL);
}

char *conv_step_name(struct conv_stage *s, const char *text)
{
    s->step++;
    int width = 1;
    for (unsigned t = s->total; t >= 10; t /= 10)
        width++;
    return kiln_xasprintf("[%s%s%*u/%u] %s", s->name, *s->name ? " " : "", width, s->step, s->total,
                          text);
}

long conv_find_stage(const struct conv *c, const char *name)
{
    for (size_t i = 0; i < c->n_stages; i++)
        if (*c->stages[i].st->from.name && strcasecmp(c->stages[i].st->from.name, name) == 0)
            return (long)i;
    char *end;
    errno = 0;
    long n = strtol(name, &end, 10);
    if (*name && !*end && errno == 0 && n >= 0 && (size_t)n < c->n_stages)
        return n;
    return -1;
}

static void platform_args(struct kiln_shell_env *env, const char *prefix,
                          const struct kiln_oci_platform *p)
{
    char key[64];
    char *all = kiln_oci_platform_format_all(p);
    snprintf(key, sizeof(key), "%sPLATFORM", prefix);
    kiln_shell_env_set(env, key, all);
    free(all);
    snprintf(key, sizeof(key), "%sOS", prefix);
    kiln_shell_env_set(env, key, p->os ? p->os : "");
    snprintf(key, sizeof(key), "%sARCH", prefix);
    kiln_shell_env_set(env, key, p->architecture ? p->architecture : "");
    snprintf(key, sizeof(key), "%sVARIANT", prefix);
    kiln_shell_env_set(env, key, p->variant ? p->variant : "");
    snprintf(key, sizeof(key), "%sOSVERSION", prefix);
    kiln_shell_env_set(env, key, p->os_version ? p->os_version : "");
}

const char *conv_build_arg(const struct conv *c, const char *name)
{
    const struct kiln_strv *a = c->o->build_args;
    size_t n = strlen(name);
    for (size_t i = a ? a->n : 0; i-- > 0;)
        if (strncmp(a->v[i], name, n) == 0 && a->v[i][n] == '=')
            return a->v[i] + n + 1;
    return NULL;
}

/* ARGs before the first FROM: visible to FROM lines only. */
static int meta_args(struct conv *c, struct kiln_error **err)
{
    for (size_t i = 0; i < c->df->n_meta_args; i++) {
        const struct kiln_df_instruction *ins = &c->df->meta_args[i];
        for (size_t j = 0; j < ins->n_args; j++) {
            const struct kiln_df_argdef *a = &ins->args[j];
            const char *over = conv_build_arg(c, a->key);
            _cleanup_free_ char *v = NULL;
            if (!over && a->value) {
                int r = conv_expand(c, &c->global, a->value, ins->start_line, &v, err);
                if (r < 0)
                    return r;
            }
            if (over || v)
                kiln_shell_env_set(&c->global, a->key, over ? over : v);
        }
    }
    return 0;
}

static json_t *scratch_image(const struct kiln_oci_platform *p)
{
    json_t *img =
            json_pack("{s:s, s:s, s:{s:[s], s:s}, s:[]}", "architecture",
                      p->architecture ? p->architecture : "amd64", "os", p->os ? p->os : "linux",
                      "config", "Env", "PATH=" DEFAULT_PATH, "WorkingDir", "/", "history");
    if (p->variant)
        json_object_set_new(img, "variant", json_string(p->variant));
    return img;
}

/* A base image's config as a stage starts from it (created cleared, PATH added). */
static json_t *base_image(json_t *cfg)
{
    json_t *img = json_object();
    const char *keep[] = {"architecture", "os",     "os.version", "os.features",
                          "variant",      "config", "history",    "author"};
    for (size_t i = 0; i < sizeof(keep) / sizeof(*keep); i++) {
        json_t *v = json_object_get(cfg, keep[i]);
        if (v)
            json_object_set_new(img, keep[i], json_deep_copy(v));
    }
    if (!json_is_array(json_object_get(img, "history")))
        json_object_set_new(img, "history", json_array());
    return img;
}

static void env_from_config(struct conv_stage *s)
{
    json_t *env = json_object_get(conv_config(s), "Env");
    size_t i;
    json_t *e;
    bool has_path = false;
    json_array_foreach (env, i, e) {
        const char *kv = json_string_value(e);
        const char *eq = kv ? strchr(kv, '=') : NULL;
        if (!eq)
            continue;
        char *k = kiln_xstrndup(kv, (size_t)(eq - kv));
        has_path |= strcmp(k, "PATH") == 0;
        kiln_shell_env_set(&s->env, k, eq + 1);
        free(k);
    }
    if (!has_path)
        kiln_shell_env_set(&s->env, "PATH", DEFAULT_PATH);
    conv_sync_env(s);
}

static unsigned count_steps(const struct kiln_df_stage *st)
{
    unsigned n = 0;
    for (size_t i = 0; i < st->n_instructions; i++) {
        enum kiln_df_kind k = st->instructions[i].kind;
        n += k == KILN_DF_ADD || k == KILN_DF_COPY || k == KILN_DF_RUN || k == KILN_DF_WORKDIR;
    }
    return n;
}

/* FROM: the stage's starting state and config. */
static int stage_from(struct conv *c, struct conv_stage *s, struct kiln_error **err)
{
    const struct kiln_df_from *f = &s->st->from;
    unsigned line = s->st->start_line;
    _cleanup_free_ char *base = NULL;
    int r = conv_expand(c, &c->global, f->base, line, &base, err);
    if (r < 0)
        return r;
    if (f->platform && *f->platform) {
        _cleanup_free_ char *pf = NULL;
        if ((r = conv_expand(c, &c->global, f->platform, line, &pf, err)) < 0 ||
            (r = kiln_oci_platform_parse(pf, &s->platform, err)) < 0)
            return kiln_error_at_line(err, r, line);
        kiln_oci_platform_normalize(&s->platform);
    } else {
        const struct kiln_oci_platform *p = c->o->platform ? c->o->platform : c->o->build_platform;
        _cleanup_free_ char *pf = kiln_oci_platform_format_all(p);
        kiln_oci_platform_parse(pf, &s->platform, NULL);
    }
    s->total = count_steps(s->st);
    long from = conv_find_stage(c, base);
    if (from >= 0 && (size_t)from < s->index) {
        if ((r = conv_stage_need(c, (size_t)from, s, err)) < 0)
            return r;
        struct conv_stage *b = &c->stages[from];
        s->state = b->state;
        s->image = json_deep_copy(b->image);
        for (size_t i = 0; i < b->env.names.n; i++)
            kiln_shell_env_set(&s->env, b->env.names.v[i], b->env.values.v[i]);
        for (size_t i = 0; i < b->args.names.n; i++)
            kiln_shell_env_set(&s->args, b->args.names.v[i], b->args.values.v[i]);
        s->cmd_set = false;
        return 0;
    }
    if (strcasecmp(base, "scratch") == 0) {
        s->image = scratch_image(&s->platform);
        env_from_config(s);
        return 0;
    }
    s->total++;
    char *pinned = NULL;
    json_t *cfg = NULL;
    r = c->o->resolve(c->o->resolve_userdata, base, &s->platform, &pinned, &cfg, err);
    if (r < 0)
        return kiln_error_at_line(err, r, line);
    s->image = base_image(cfg);
    json_decref(cfg);
    env_from_config(s);
    _cleanup_free_ char *text = kiln_xasprintf("FROM %s", pinned);
    _cleanup_free_ char *name = conv_step_name(s, text);
    struct kiln_vertex *v = kiln_graph_add(c->g, KILN_VERTEX_IMAGE, NULL, name);
    v->image.ref = pinned;
    _cleanup_free_ char *pf = kiln_oci_platform_format_all(&s->platform);
    kiln_oci_platform_parse(pf, &v->image.platform, NULL);
    v->no_cache = c->o->no_cache;
    s->state = v;
    return 0;
}

/* A step of an ONBUILD trigger counts towards the stage's total too. */
static unsigned count_trigger_steps(json_t *triggers)
{
    unsigned n = 0;
    size_t i;
    json_t *t;
    json_array_foreach (triggers, i, t) {
        const char *s = json_string_value(t);
        while (s && (*s == ' ' || *s == '\t'))
            s++;
        if (s && (strncasecmp(s, "ADD ", 4) == 0 || strncasecmp(s, "COPY ", 5) == 0 ||
                  strncasecmp(s, "RUN ", 4) == 0 || strncasecmp(s, "WORKDIR ", 8) == 0))
            n++;
    }
    return n;
}

/*
 * The base's ONBUILD triggers run first, then are cleared (they are not
 * inherited further).
 */
static int run_triggers(struct conv *c, struct conv_stage *s, struct kiln_error **err)
{
    json_t *cfg = conv_config(s);
    json_t *triggers = json_incref(json_object_get(cfg, "OnBuild"));
    json_object_del(cfg, "OnBuild");
    s->total += count_trigger_steps(triggers);
    int r = 0;
    size_t i;
    json_t *t;
    json_array_foreach (triggers, i, t) {
        const char *text = json_string_value(t);
        if (!text || r < 0)
            continue;
        struct kiln_df_ast *ast = NULL;
        struct kiln_df_instruction *ins = NULL;
        r = kiln_df_parse(text, strlen(text), &ast, err);
        if (r >= 0 && ast->n_nodes != 1)
            r = kiln_error_set(err, KILN_E_INVALID, "ONBUILD trigger '%s' is not one instruction",
                               text);
        if (r >= 0)
            r = kiln_df_instruction_parse(ast->nodes[0], c->shopt.escape, &ins, err);
        if (r >= 0)
            r = conv_dispatch(c, s, ins, err);
        if (r < 0)
            kiln_error_wrap(err, r, "ONBUILD trigger '%s'", text);
        else if (s->state && s->state->kind == KILN_VERTEX_EXEC && s->state->exec.run == &ins->run)
            s->state->exec.run = NULL; /* the parsed trigger goes; its defaults stay */
        kiln_df_instruction_free(ins);
        kiln_df_ast_free(ast);
    }
    json_decref(triggers);
    return r < 0 ? kiln_error_at_line(err, r, s->st->start_line) : 0;
}

int conv_stage_need(struct conv *c, size_t i, const struct conv_stage *from,
                    struct kiln_error **err)
{
    struct conv_stage *s = &c->stages[i];
    if (s->status == 2)
        return 0;
    if (s->status == 1 || (from && i >= from->index))
        return kiln_error_set_line(err, KILN_E_INVALID, from ? from->st->start_line : 0,
                                   "stage '%s' is used before it is defined (or by itself)",
                                   s->st->from.name);
    s->status = 1;
    int r = stage_from(c, s, err);
    if (r >= 0)
        r = run_triggers(c, s, err);
    for (size_t k = 0; r >= 0 && k < s->st->n_instructions; k++)
        r = conv_dispatch(c, s, &s->st->instructions[k], err);
    s->status = 2;
    return r;
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
    kiln_error_set(err, KILN_E_INVALID, "target stage \"%s\" could not be found (stages: %s)", t,
                   names.len ? names.buf : "none named");
    kiln_buf_release(&names);
    return -1;
}

static void conv_release(struct conv *c)
{
    for (size_t i = 0; i < c->n_stages; i++) {
        struct conv_stage *s = &c->stages[i];
        free(s->name);
        json_decref(s->image);
        kiln_shell_env_release(&s->env);
        kiln_shell_env_release(&s->args);
        kiln_strv_release(&s->arg_names);
        kiln_oci_platform_release(&s->platform);
    }
    free(c->stages);
    kiln_shell_env_release(&c->global);
}

int kiln_convert(const struct kiln_df_instructions *df, const struct kiln_convert_opts *opts,
                 struct kiln_graph **ret, struct kiln_error **err)
{
    struct conv c = {.df = df,
                     .o = opts,
                     .global = KILN_SHELL_ENV_INIT,
                     .shopt = {.escape = df->escape ? df->escape : '\\'}};
    if (df->n_stages == 0)
        return kiln_error_set(err, KILN_E_INVALID, "the Dockerfile has no FROM");
    c.n_stages = df->n_stages;
    c.stages = kiln_xcalloc(c.n_stages, sizeof(*c.stages));
    for (size_t i = 0; i < c.n_stages; i++) {
        struct conv_stage *s = &c.stages[i];
        s->st = &df->stages[i];
        s->index = i;
        s->env = (struct kiln_shell_env)KILN_SHELL_ENV_INIT;
        s->args = (struct kiln_shell_env)KILN_SHELL_ENV_INIT;
        s->arg_names = (struct kiln_strv)KILN_STRV_INIT;
        s->name = *s->st->from.name ? kiln_xstrdup(s->st->from.name)
                  : c.n_stages > 1  ? kiln_xasprintf("stage-%zu", i)
                                    : kiln_xstrdup("");
    }
    const struct kiln_oci_platform *target = opts->platform ? opts->platform : opts->build_platform;
    platform_args(&c.global, "BUILD", opts->build_platform);
    platform_args(&c.global, "TARGET", target);
    c.g = kiln_graph_new();
    long t = find_target(&c, err);
    int r = t < 0 ? KILN_E_INVALID : 0;
    if (r >= 0) {
        kiln_shell_env_set(&c.global, "TARGETSTAGE",
                           opts->target && *opts->target ? opts->target : "default");
        r = meta_args(&c, err);
    }
    if (r >= 0)
        r = conv_stage_need(&c, (size_t)t, NULL, err);
    if (r >= 0) {
        struct conv_stage *s = &c.stages[t];
        for (size_t i = 0; opts->labels && i < opts->labels->n; i++) {
            const char *kv = opts->labels->v[i];
            const char *eq = strchr(kv, '=');
            json_t *labels = json_object_get(conv_config(s), "Labels");
            if (!json_is_object(labels)) {
                labels = json_object();
                json_object_set_new(conv_config(s), "Labels", labels);
            }
            _cleanup_free_ char *k = eq ? kiln_xstrndup(kv, (size_t)(eq - kv)) : kiln_xstrdup(kv);
            json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
        }
        c.g->result = s->state;
        c.g->config = json_incref(s->image);
        _cleanup_free_ char *pf = kiln_oci_platform_format_all(&s->platform);
        kiln_oci_platform_parse(pf, &c.g->platform, NULL);
    }
    conv_release(&c);
    if (r < 0) {
        kiln_graph_free(c.g);
        return r;
    }
    *ret = c.g;
    return 0;
}
