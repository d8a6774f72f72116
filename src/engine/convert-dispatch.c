/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert-dispatch.c - each instruction's effect on the stage: the image
 * config and history it writes, the vertex it adds (docs/internals/convert.md).
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/path.h"
#include "convert-private.h"

#include "base/banned.h"

static int expand(struct conv *c, struct conv_stage *s, const char *word, unsigned line, char **ret,
                  struct kiln_error **err)
{
    struct kiln_shell_env env;
    conv_word_env(s, &env);
    int r = conv_expand(c, &env, word, line, ret, err);
    kiln_shell_env_release(&env);
    return r;
}

static json_t *strv_json(const struct kiln_strv *v)
{
    json_t *a = json_array();
    for (size_t i = 0; i < v->n; i++)
        json_array_append_new(a, json_string(v->v[i]));
    return a;
}

static int env_or_label(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                        struct kiln_error **err)
{
    bool env = ins->kind == KILN_DF_ENV;
    struct kiln_shell_env before;
    conv_word_env(s, &before);
    struct kiln_buf msg = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&msg, env ? "ENV" : "LABEL");
    int r = 0;
    for (size_t i = 0; i < ins->n_pairs && r >= 0; i++) {
        _cleanup_free_ char *k = NULL, *v = NULL;
        r = conv_expand(c, &before, ins->pairs[i].key, ins->start_line, &k, err);
        if (r >= 0)
            r = conv_expand(c, &before, ins->pairs[i].value, ins->start_line, &v, err);
        if (r < 0)
            break;
        kiln_buf_addf(&msg, " %s=%s", k, v);
        if (env) {
            kiln_shell_env_set(&s->env, k, v);
        } else {
            json_t *labels = json_object_get(conv_config(s), "Labels");
            if (!json_is_object(labels)) {
                labels = json_object();
                json_object_set_new(conv_config(s), "Labels", labels);
            }
            json_object_set_new(labels, k, json_string(v));
        }
    }
    kiln_shell_env_release(&before);
    if (r >= 0) {
        if (env)
            conv_sync_env(s);
        conv_history(s, msg.buf, false);
    }
    kiln_buf_release(&msg);
    return r;
}

static int arg(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
               struct kiln_error **err)
{
    struct kiln_buf msg = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&msg, "ARG");
    int r = 0;
    for (size_t i = 0; i < ins->n_args && r >= 0; i++) {
        const struct kiln_df_argdef *a = &ins->args[i];
        _cleanup_free_ char *def = NULL;
        if (a->value)
            r = expand(c, s, a->value, ins->start_line, &def, err);
        if (r < 0)
            break;
        const char *over = conv_build_arg(c, a->key);
        const char *global = a->value ? NULL : kiln_shell_env_get(&c->global, a->key);
        const char *v = over ? over : def ? def : global;
        if (v)
            kiln_shell_env_set(&s->args, a->key, v);
        if (kiln_strv_find(&s->arg_names, a->key) < 0)
            kiln_strv_push(&s->arg_names, a->key);
        kiln_buf_addf(&msg, " %s%s%s", a->key, def ? "=" : "", def ? def : "");
    }
    if (r >= 0)
        conv_history(s, msg.buf, false);
    kiln_buf_release(&msg);
    return r;
}

/* ENTRYPOINT and CMD: shell form gets SHELL prepended. */
static void command_line(struct conv_stage *s, const struct kiln_df_cmdline *cl,
                         struct kiln_strv *ret)
{
    if (cl->prepend_shell) {
        json_t *sh = json_object_get(conv_config(s), "Shell");
        if (json_array_size(sh)) {
            size_t i;
            json_t *w;
            json_array_foreach (sh, i, w)
                kiln_strv_push(ret, json_string_value(w));
        } else {
            kiln_strv_push(ret, "/bin/sh");
            kiln_strv_push(ret, "-c");
        }
    }
    for (size_t i = 0; i < cl->args.n; i++)
        kiln_strv_push(ret, cl->args.v[i]);
}

static int cmd_or_entrypoint(struct conv_stage *s, const struct kiln_df_instruction *ins)
{
    _cleanup_strv_ struct kiln_strv args = KILN_STRV_INIT;
    command_line(s, &ins->cmd, &args);
    json_t *cfg = conv_config(s);
    _cleanup_free_ char *q = conv_goquote_list(&args);
    _cleanup_free_ char *msg = NULL;
    if (ins->kind == KILN_DF_CMD) {
        json_object_set_new(cfg, "Cmd", strv_json(&args));
        json_object_set_new(cfg, "ArgsEscaped", json_true());
        s->cmd_set = true;
        msg = kiln_xasprintf("CMD %s", q);
    } else {
        json_object_set_new(cfg, "Entrypoint",
                            args.n || !ins->cmd.prepend_shell ? strv_json(&args) : json_null());
        if (!s->cmd_set)
            json_object_del(cfg, "Cmd");
        msg = kiln_xasprintf("ENTRYPOINT %s", q);
    }
    conv_history(s, msg, false);
    return 0;
}

static int words_set(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                     struct kiln_error **err)
{
    const char *key = ins->kind == KILN_DF_EXPOSE ? "ExposedPorts" : "Volumes";
    json_t *set = json_object_get(conv_config(s), key);
    if (!json_is_object(set)) {
        set = json_object();
        json_object_set_new(conv_config(s), key, set);
    }
    _cleanup_strv_ struct kiln_strv done = KILN_STRV_INIT;
    for (size_t i = 0; i < ins->words.n; i++) {
        _cleanup_free_ char *w = NULL;
        int r = expand(c, s, ins->words.v[i], ins->start_line, &w, err);
        if (r < 0)
            return r;
        if (!*w)
            return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line,
                                       "%s: an empty value is not allowed",
                                       ins->kind == KILN_DF_EXPOSE ? "EXPOSE" : "VOLUME");
        if (ins->kind == KILN_DF_EXPOSE && !strchr(w, '/')) {
            char *p = kiln_xasprintf("%s/tcp", w);
            free(w);
            w = p;
        }
        json_object_set_new(set, w, json_object());
        kiln_strv_push(&done, w);
    }
    _cleanup_free_ char *list = NULL;
    struct kiln_buf b = KILN_BUF_INIT(SIZE_MAX);
    for (size_t i = 0; i < done.n; i++)
        kiln_buf_addf(&b, "%s%s", i ? " " : "", done.v[i]);
    list = kiln_buf_detach(&b, NULL);
    _cleanup_free_ char *msg =
            kiln_xasprintf("%s [%s]", ins->kind == KILN_DF_EXPOSE ? "EXPOSE" : "VOLUME", list);
    conv_history(s, msg, false);
    return 0;
}

static int single_value(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                        struct kiln_error **err)
{
    _cleanup_free_ char *v = NULL;
    int r = ins->kind == KILN_DF_MAINTAINER ? (v = kiln_xstrdup(ins->value), 0)
                                            : expand(c, s, ins->value, ins->start_line, &v, err);
    if (r < 0)
        return r;
    const char *word = "USER";
    if (ins->kind == KILN_DF_USER) {
        json_object_set_new(conv_config(s), "User", json_string(v));
    } else if (ins->kind == KILN_DF_STOPSIGNAL) {
        json_object_set_new(conv_config(s), "StopSignal", json_string(v));
        word = "STOPSIGNAL";
    } else {
        json_object_set_new(s->image, "author", json_string(v));
        word = "MAINTAINER";
    }
    _cleanup_free_ char *msg = kiln_xasprintf("%s %s", word, v);
    conv_history(s, msg, false);
    return 0;
}

static int workdir(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                   struct kiln_error **err)
{
    _cleanup_free_ char *v = NULL;
    int r = expand(c, s, ins->value, ins->start_line, &v, err);
    if (r < 0)
        return r;
    const char *cur = json_string_value(json_object_get(conv_config(s), "WorkingDir"));
    _cleanup_free_ char *joined =
            v[0] == '/' ? kiln_xstrdup(v) : kiln_xasprintf("%s/%s", cur && *cur ? cur : "/", v);
    _cleanup_free_ char *wd = kiln_path_clean(joined, strlen(joined));
    json_object_set_new(conv_config(s), "WorkingDir", json_string(wd));
    _cleanup_free_ char *msg = kiln_xasprintf("WORKDIR %s", wd);
    if (strcmp(wd, "/") == 0) {
        s->step++;
        conv_history(s, msg, false);
        return 0;
    }
    _cleanup_free_ char *text = kiln_xasprintf("WORKDIR %s", v);
    _cleanup_free_ char *name = conv_step_name(s, text);
    struct kiln_vertex *x = kiln_graph_add(c->g, KILN_VERTEX_MKDIR, s->state, name);
    x->mkdir.path = kiln_xstrdup(wd);
    const char *user = json_string_value(json_object_get(conv_config(s), "User"));
    x->mkdir.user = kiln_xstrdup(user ? user : "");
    x->no_cache = c->o->no_cache;
    s->state = x;
    conv_history(s, msg, true);
    return 0;
}

static int shell(struct conv_stage *s, const struct kiln_df_instruction *ins)
{
    json_object_set_new(conv_config(s), "Shell", strv_json(&ins->words));
    struct kiln_buf b = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&b, "SHELL [");
    for (size_t i = 0; i < ins->words.n; i++)
        kiln_buf_addf(&b, "%s%s", i ? " " : "", ins->words.v[i]);
    kiln_buf_addch(&b, ']');
    conv_history(s, b.buf, false);
    kiln_buf_release(&b);
    return 0;
}

static int healthcheck(struct conv_stage *s, const struct kiln_df_instruction *ins)
{
    const struct kiln_df_healthcheck *h = &ins->health;
    json_t *hc = json_pack("{s:o}", "Test", strv_json(&h->test));
    if (h->interval)
        json_object_set_new(hc, "Interval", json_integer(h->interval));
    if (h->timeout)
        json_object_set_new(hc, "Timeout", json_integer(h->timeout));
    if (h->start_period)
        json_object_set_new(hc, "StartPeriod", json_integer(h->start_period));
    if (h->start_interval)
        json_object_set_new(hc, "StartInterval", json_integer(h->start_interval));
    if (h->retries)
        json_object_set_new(hc, "Retries", json_integer(h->retries));
    json_object_set_new(conv_config(s), "Healthcheck", hc);
    _cleanup_free_ char *q = conv_goquote_list(&h->test);
    _cleanup_free_ char *msg = kiln_xasprintf("HEALTHCHECK &{%s}", q);
    conv_history(s, msg, false);
    return 0;
}

static int onbuild(struct conv_stage *s, const struct kiln_df_instruction *ins)
{
    json_t *cfg = conv_config(s);
    json_t *ob = json_object_get(cfg, "OnBuild");
    if (!json_is_array(ob)) {
        ob = json_array();
        json_object_set_new(cfg, "OnBuild", ob);
    }
    const char *expr = ins->onbuild.expression;
    json_array_append_new(ob, json_string(expr));
    _cleanup_free_ char *msg = kiln_xasprintf("ONBUILD %s", expr);
    conv_history(s, msg, false);
    return 0;
}

/* The RUN environment: the config's Env, then the ARGs in scope it does not set. */
static void run_env(const struct conv_stage *s, struct kiln_strv *ret)
{
    for (size_t i = 0; i < s->env.names.n; i++) {
        char *kv = kiln_xasprintf("%s=%s", s->env.names.v[i], s->env.values.v[i]);
        kiln_strv_take(ret, kv);
    }
    for (size_t i = 0; i < s->args.names.n; i++)
        if (!kiln_shell_env_get(&s->env, s->args.names.v[i]))
            kiln_strv_take(ret, kiln_xasprintf("%s=%s", s->args.names.v[i], s->args.values.v[i]));
}

static int run(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins)
{
    struct kiln_buf text = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&text, ins->original);
    _cleanup_free_ char *name = conv_step_name(s, text.buf);
    kiln_buf_release(&text);
    struct kiln_vertex *x = kiln_graph_add(c->g, KILN_VERTEX_EXEC, s->state, name);
    command_line(s, &ins->run.cmd, &x->exec.args);
    run_env(s, &x->exec.env);
    const char *wd = json_string_value(json_object_get(conv_config(s), "WorkingDir"));
    const char *user = json_string_value(json_object_get(conv_config(s), "User"));
    x->exec.cwd = kiln_xstrdup(wd && *wd ? wd : "/");
    x->exec.user = kiln_xstrdup(user ? user : "");
    x->exec.run = &ins->run;
    _cleanup_free_ char *pf = kiln_oci_platform_format_all(&s->platform);
    kiln_oci_platform_parse(pf, &x->exec.platform, NULL);
    x->no_cache = c->o->no_cache;
    s->state = x;
    struct kiln_buf msg = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&msg, "RUN ");
    size_t n_args = 0;
    for (size_t i = 0; i < s->args.names.n; i++)
        n_args += !kiln_shell_env_get(&s->env, s->args.names.v[i]);
    if (n_args) {
        kiln_buf_addf(&msg, "|%zu", n_args);
        for (size_t i = 0; i < s->args.names.n; i++)
            if (!kiln_shell_env_get(&s->env, s->args.names.v[i]))
                kiln_buf_addf(&msg, " %s=%s", s->args.names.v[i], s->args.values.v[i]);
        kiln_buf_addch(&msg, ' ');
    }
    for (size_t i = 0; i < x->exec.args.n; i++)
        kiln_buf_addf(&msg, "%s%s", i ? " " : "", x->exec.args.v[i]);
    kiln_buf_adds(&msg, " # buildkit");
    conv_history(s, msg.buf, true);
    kiln_buf_release(&msg);
    return 0;
}

int conv_dispatch(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                  struct kiln_error **err)
{
    switch (ins->kind) {
    case KILN_DF_ENV:
    case KILN_DF_LABEL: return env_or_label(c, s, ins, err);
    case KILN_DF_ARG: return arg(c, s, ins, err);
    case KILN_DF_CMD:
    case KILN_DF_ENTRYPOINT: return cmd_or_entrypoint(s, ins);
    case KILN_DF_EXPOSE:
    case KILN_DF_VOLUME: return words_set(c, s, ins, err);
    case KILN_DF_USER:
    case KILN_DF_STOPSIGNAL:
    case KILN_DF_MAINTAINER: return single_value(c, s, ins, err);
    case KILN_DF_WORKDIR: return workdir(c, s, ins, err);
    case KILN_DF_SHELL: return shell(s, ins);
    case KILN_DF_HEALTHCHECK: return healthcheck(s, ins);
    case KILN_DF_ONBUILD: return onbuild(s, ins);
    case KILN_DF_RUN: return run(c, s, ins);
    case KILN_DF_COPY:
    case KILN_DF_ADD: return conv_copy(c, s, ins, err);
    case KILN_DF_FROM: break;
    }
    return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line, "unexpected instruction");
}
