/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert-args.c - ARG scoping as BuildKit's dockerfile2llb: the predefined
 * platform args, the meta args (visible to FROM only), --build-arg
 * precedence, ARG inside a stage, and the ordered env words expand against
 * (docs/internals/convert.md).
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "convert-private.h"

#include "base/banned.h"

void conv_env_put(struct kiln_shell_env *env, const char *key, const char *value)
{
    long i = kiln_strv_find(&env->names, key);
    if (i >= 0) {
        free(env->names.v[i]);
        free(env->values.v[i]);
        size_t rest = env->names.n - (size_t)i - 1;
        memmove(env->names.v + i, env->names.v + i + 1, (rest + 1) * sizeof(char *));
        memmove(env->values.v + i, env->values.v + i + 1, (rest + 1) * sizeof(char *));
        env->names.n--;
        env->values.n--;
    }
    kiln_strv_push(&env->names, key);
    kiln_strv_push(&env->values, value);
}

int conv_expand_env(const struct conv *c, const struct kiln_shell_env *env, const char *word,
                    unsigned line, char **ret, struct kiln_error **err)
{
    int r = kiln_shell_process_word(word, env, &c->shopt, ret, NULL, err);
    return r < 0 ? kiln_error_at_line(err, r, line) : 0;
}

int conv_expand(const struct conv *c, const struct conv_stage *s, const char *word, unsigned line,
                char **ret, struct kiln_error **err)
{
    return conv_expand_env(c, &s->env, word, line, ret, err);
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

/* A predefined arg: the --build-arg value when given, else `value`. */
static void predefined(struct conv *c, const char *key, const char *value)
{
    const char *over = conv_build_arg(c, key);
    conv_env_put(&c->global, key, over ? over : value ? value : "");
}

static void platform_args(struct conv *c, const char *prefix, const struct kiln_oci_platform *p,
                          bool all)
{
    static const char *const keys[] = {"PLATFORM", "OS", "OSVERSION", "ARCH", "VARIANT"};
    _cleanup_free_ char *spec = all ? kiln_oci_platform_format_all(p) : kiln_oci_platform_format(p);
    const char *values[] = {spec, p->os, p->os_version, p->architecture, p->variant};
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
        _cleanup_free_ char *key = kiln_xasprintf("%s%s", prefix, keys[i]);
        predefined(c, key, values[i]);
    }
}

int conv_global_args(struct conv *c, struct kiln_error **err)
{
    /* BUILDPLATFORM is platforms.Format, TARGETPLATFORM platforms.FormatAll. */
    platform_args(c, "BUILD", c->o->build_platform, false);
    platform_args(c, "TARGET", &c->target, true);
    const char *target =
            c->o->target && *c->o->target ? c->o->target : c->df->stages[c->n_stages - 1].from.name;
    predefined(c, "TARGETSTAGE", *target ? target : "default");
    for (size_t i = 0; i < c->df->n_meta_args; i++) {
        const struct kiln_df_instruction *ins = &c->df->meta_args[i];
        for (size_t j = 0; j < ins->n_args; j++) {
            const struct kiln_df_argdef *a = &ins->args[j];
            const char *over = conv_build_arg(c, a->key);
            _cleanup_free_ char *v = NULL;
            if (!over && a->value) {
                int r = conv_expand_env(c, &c->global, a->value, ins->start_line, &v, err);
                if (r < 0)
                    return r;
            }
            if (over || v)
                conv_env_put(&c->global, a->key, over ? over : v);
        }
    }
    return 0;
}

static bool non_env_arg(const char *key)
{
    return strcmp(key, "BUILDKIT_SBOM_SCAN_CONTEXT") == 0 ||
           strcmp(key, "BUILDKIT_SBOM_SCAN_STAGE") == 0;
}

static void args_push(struct conv_stage *s, const char *key, const char *value)
{
    KILN_GROW(s->args, s->alloc_args, s->n_args + 1);
    s->args[s->n_args++] = (struct conv_arg){.key = kiln_xstrdup(key),
                                             .value = value ? kiln_xstrdup(value) : NULL};
}

int conv_arg(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
             struct kiln_error **err)
{
    struct kiln_buf msg = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&msg, "ARG");
    int r = 0;
    for (size_t i = 0; i < ins->n_args && r >= 0; i++) {
        const struct kiln_df_argdef *a = &ins->args[i];
        const char *over = conv_build_arg(c, a->key);
        _cleanup_free_ char *def = NULL;
        const char *v = over;
        if (!v && a->value) {
            r = conv_expand(c, s, a->value, ins->start_line, &def, err);
            v = def;
        } else if (!v) {
            v = kiln_shell_env_get(&c->global, a->key);
        }
        if (r < 0)
            break;
        if (v && !non_env_arg(a->key))
            conv_env_put(&s->env, a->key, v);
        args_push(s, a->key, v);
        kiln_buf_addf(&msg, " %s%s%s", a->key, v ? "=" : "", v ? v : "");
    }
    if (r >= 0)
        conv_history(s, msg.buf, false);
    kiln_buf_release(&msg);
    return r;
}

void conv_args_copy(struct conv_stage *dst, const struct conv_stage *src)
{
    for (size_t i = 0; i < src->n_args; i++)
        args_push(dst, src->args[i].key, src->args[i].value);
}

void conv_args_release(struct conv_stage *s)
{
    for (size_t i = 0; i < s->n_args; i++) {
        free(s->args[i].key);
        free(s->args[i].value);
    }
    free(s->args);
    s->args = NULL;
    s->n_args = s->alloc_args = 0;
}
