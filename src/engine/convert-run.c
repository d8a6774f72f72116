/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert-run.c - RUN: the argv (SHELL prepended for the shell form, heredocs
 * as BuildKit's dispatchRun handles them), the env, cwd and user in effect,
 * the --mount stages it needs, and its history entry (docs/internals/convert.md,
 * docs/internals/run-heredoc.md).
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/path.h"
#include "convert-private.h"
#include "dockerfile/ast.h"

#include "base/banned.h"

/* Where BuildKit mounts the file of a heredoc that starts with #!, read-only. */
#define PIPES_DIR "/dev/pipes"

/* BuildKit's ChompHeredocContent: leading tabs removed from every line. */
static char *chomp(const char *data)
{
    struct kiln_buf b = KILN_BUF_INIT(SIZE_MAX);
    bool bol = true;
    for (const char *p = data; *p; p++) {
        if (bol && *p == '\t')
            continue;
        bol = *p == '\n';
        kiln_buf_addch(&b, *p);
    }
    return kiln_buf_detach(&b, NULL);
}

/* summarizeHeredoc: the first line of the trimmed body, "..." when there are more. */
static void summarize(struct kiln_buf *b, const char *doc)
{
    while (*doc && isspace((unsigned char)*doc))
        doc++;
    size_t n = strlen(doc);
    while (n && isspace((unsigned char)doc[n - 1]))
        n--;
    const char *nl = memchr(doc, '\n', n);
    size_t first = nl ? (size_t)(nl - doc) : n;
    if (first && doc[first - 1] == '\r')
        first--;
    kiln_buf_addf(b, " (%.*s%s)", (int)first, doc, nl ? "..." : "");
}

/*
 * The argv of RUN and the text its progress name starts from. A lone
 * heredoc whose body starts with #! becomes *script (name and body, the
 * caller's), run as PIPES_DIR/NAME; any other lone heredoc is the command.
 */
static int run_args(struct conv_stage *s, const struct kiln_df_instruction *ins,
                    struct kiln_strv *args, struct kiln_buf *text, struct kiln_inline_file *script,
                    struct kiln_error **err)
{
    const struct kiln_df_cmdline *cl = &ins->run.cmd;
    kiln_buf_adds(text, ins->original);
    _cleanup_strv_ struct kiln_strv words = KILN_STRV_INIT;
    if (cl->n_files) {
        if (cl->args.n != 1 || !cl->prepend_shell)
            return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line,
                                       "parsing produced an invalid run command");
        if (kiln_df_is_heredoc(cl->args.v[0])) {
            const struct kiln_df_inline_file *f = &cl->files[0];
            char *data = f->chomp ? chomp(f->data) : kiln_xstrdup(f->data);
            if (strncmp(data, "#!", 2) == 0) {
                script->name = kiln_xstrdup(f->name);
                script->data = data;
                _cleanup_free_ char *joined = kiln_xasprintf(PIPES_DIR "/%s", f->name);
                kiln_strv_take(&words, kiln_path_clean(joined, strlen(joined)));
            } else {
                kiln_strv_take(&words, data);
            }
            summarize(text, f->data);
        } else {
            struct kiln_buf b = KILN_BUF_INIT(SIZE_MAX);
            kiln_buf_adds(&b, cl->args.v[0]);
            for (size_t i = 0; i < cl->n_files; i++)
                kiln_buf_addf(&b, "\n%s%s", cl->files[i].data, cl->files[i].name);
            kiln_strv_take(&words, kiln_buf_detach(&b, NULL));
        }
    } else {
        for (size_t i = 0; i < cl->args.n; i++)
            kiln_strv_push(&words, cl->args.v[i]);
    }
    if (cl->prepend_shell)
        conv_with_shell(s, &words, args);
    else
        for (size_t i = 0; i < words.n; i++)
            kiln_strv_push(args, words.v[i]);
    return 0;
}

struct mount_expand {
    const struct conv *c;
    const struct conv_stage *s;
};

static int mount_expand(void *userdata, const char *word, char **ret, struct kiln_error **err)
{
    const struct mount_expand *m = userdata;
    return kiln_shell_process_word(word, &m->s->env, &m->c->shopt, ret, NULL, err);
}

/* BuildKit's dispatchRunMounts: a relative target joins WORKDIR; "/" is refused. */
static int mount_target(struct conv_stage *s, struct kiln_df_mount *m, unsigned line,
                        struct kiln_error **err)
{
    if (!m->target[0])
        return 0; /* a secret given as env= only; ssh: set below */
    const char *wd = conv_config_str(s, "WorkingDir");
    _cleanup_free_ char *joined =
            m->target[0] == '/' ? kiln_xstrdup(m->target) : kiln_xasprintf("/%s/%s", wd, m->target);
    char *clean = kiln_path_clean(joined, strlen(joined));
    free(m->target);
    m->target = clean;
    if (strcmp(clean, "/") == 0 && m->type != KILN_DF_MOUNT_SECRET)
        return kiln_error_set_line(err, KILN_E_INVALID, line, "invalid mount target \"/\"");
    return 0;
}

/* from=: a stage (converted first) or an image; bind and cache mounts only read it. */
static int mount_from(struct conv *c, struct conv_stage *s, struct kiln_exec_mount *em,
                      unsigned line, struct kiln_error **err)
{
    const struct kiln_df_mount *m = em->mount;
    if (!m->from[0] || (m->type != KILN_DF_MOUNT_BIND && m->type != KILN_DF_MOUNT_CACHE))
        return 0;
    em->from_state = true;
    long k = conv_find_stage(c, m->from);
    if (k == LONG_MIN)
        return kiln_error_set_line(err, KILN_E_INVALID, line,
                                   "invalid stage index %s: the file has %zu stages", m->from,
                                   c->n_stages);
    if (k < 0)
        return conv_image_vertex(c, m->from, &s->platform, line, &em->from, err);
    if ((size_t)k >= s->index)
        return kiln_error_set_line(err, KILN_E_INVALID, line,
                                   "cannot mount from stage \"%s\" to \"%s\", stage needs to be "
                                   "defined before current command",
                                   m->from, m->target);
    int r = conv_stage_need(c, (size_t)k, s, line, err);
    if (r >= 0)
        em->from = c->stages[k].state;
    return r;
}

struct typed_mounts {
    struct kiln_exec_mount *v;
    size_t n;
};

static void typed_mounts_release(struct typed_mounts *t)
{
    for (size_t i = 0; i < t->n; i++)
        kiln_df_mount_free(t->v[i].mount);
    free(t->v);
}

/*
 * The mounts, typed with their values expanded against the stage's ARG and
 * ENV (BuildKit expands every value); errors surface here, and a from= stage
 * is converted first.
 */
static int run_mounts(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                      struct typed_mounts *ret, struct kiln_error **err)
{
    const struct kiln_df_run *run = &ins->run;
    ret->v = kiln_xcalloc(run->n_mounts ? run->n_mounts : 1, sizeof(*ret->v));
    unsigned n_ssh = 0;
    for (size_t i = 0; i < run->n_mounts; i++) {
        const struct kiln_df_run_mount *m = &run->mounts[i];
        if (m->error)
            return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line, "%s", m->error);
        struct mount_expand ud = {c, s};
        struct kiln_exec_mount *em = &ret->v[ret->n];
        int r = kiln_df_mount_parse(m->spec, m->expand ? mount_expand : NULL, &ud, &em->mount, err);
        if (r < 0)
            return kiln_error_at_line(err, r, ins->start_line);
        ret->n++;
        if (em->mount->type == KILN_DF_MOUNT_SSH && !em->mount->target[0]) {
            free(em->mount->target);
            em->mount->target = kiln_xasprintf("/run/buildkit/ssh_agent.%u", n_ssh);
        }
        n_ssh += em->mount->type == KILN_DF_MOUNT_SSH;
        const char *ns = conv_build_arg(c, "BUILDKIT_CACHE_MOUNT_NS");
        if (em->mount->type == KILN_DF_MOUNT_CACHE && ns && *ns) {
            char *id = kiln_xasprintf("%s/%s", ns, em->mount->id);
            free(em->mount->id);
            em->mount->id = id;
        }
        if ((r = mount_target(s, em->mount, ins->start_line, err)) < 0 ||
            (r = mount_from(c, s, em, ins->start_line, err)) < 0)
            return r;
    }
    return 0;
}

/*
 * A #! heredoc's file: an internal step writes it (mode 0755) into an empty
 * state, mounted read-only at PIPES_DIR before the RUN's own mounts, as
 * BuildKit's llb.Mkfile on llb.Scratch(). Takes script's strings.
 */
static int script_mount(struct conv *c, struct kiln_inline_file *script,
                        struct typed_mounts *mounts, struct kiln_error **err)
{
    struct kiln_df_mount *m = NULL;
    int r = kiln_df_mount_parse("type=bind,source=/,target=" PIPES_DIR ",readonly", NULL, NULL, &m,
                                err);
    if (r < 0)
        return r;
    struct kiln_vertex *f =
            kiln_graph_add(c->g, KILN_VERTEX_COPY, NULL, "[internal] preparing inline document");
    f->copy = (struct kiln_vertex_copy){.from_kind = KILN_COPY_FROM_INLINE,
                                        .sources = KILN_STRV_INIT,
                                        .excludes = KILN_STRV_INIT,
                                        .dest = kiln_xstrdup("/"),
                                        .chmod = kiln_xstrdup("0755"),
                                        .unpack = KILN_DF_FALSE,
                                        .n_inline_files = 1};
    f->copy.inline_files = kiln_xmalloc(sizeof(*f->copy.inline_files));
    f->copy.inline_files[0] = *script;
    *script = (struct kiln_inline_file){0};
    mounts->v = kiln_xrealloc(mounts->v, (mounts->n + 1) * sizeof(*mounts->v));
    memmove(mounts->v + 1, mounts->v, mounts->n * sizeof(*mounts->v));
    mounts->v[0] = (struct kiln_exec_mount){.mount = m, .from_state = true, .from = f};
    mounts->n++;
    return 0;
}

/* client/llb/exec.go: SSH_AUTH_SOCK names the first agent socket unless the env sets it. */
static void ssh_auth_sock(struct kiln_vertex_exec *x)
{
    for (size_t i = 0; i < x->env.n; i++)
        if (strncmp(x->env.v[i], "SSH_AUTH_SOCK=", 14) == 0)
            return;
    for (size_t i = 0; i < x->n_mounts; i++)
        if (x->mounts[i].mount->type == KILN_DF_MOUNT_SSH) {
            kiln_strv_take(&x->env, kiln_xasprintf("SSH_AUTH_SOCK=%s", x->mounts[i].mount->target));
            return;
        }
}

/*
 * The step's text for its progress name, expanded as BuildKit's
 * withSecretEnvMask has it: a secret given as env=NAME shows as "****".
 */
static char *step_text(const struct conv *c, const struct conv_stage *s,
                       const struct typed_mounts *mounts, const char *text)
{
    struct conv_stage masked = *s;
    masked.env = (struct kiln_shell_env)KILN_SHELL_ENV_INIT;
    for (size_t i = 0; i < s->env.names.n; i++)
        kiln_shell_env_set(&masked.env, s->env.names.v[i], s->env.values.v[i]);
    for (size_t i = 0; i < mounts->n; i++)
        if (mounts->v[i].mount->type == KILN_DF_MOUNT_SECRET && mounts->v[i].mount->env)
            kiln_shell_env_set(&masked.env, mounts->v[i].mount->env, "****");
    char *shown = conv_step_text(c, &masked, text, true);
    kiln_shell_env_release(&masked.env);
    return shown;
}

/* BuildKit's runCommandString: "|N K=V ... " for the stage's ARGs, then the argv. */
static void history(struct conv_stage *s, const struct kiln_strv *args)
{
    _cleanup_strv_ struct kiln_strv keys = KILN_STRV_INIT, kv = KILN_STRV_INIT;
    for (size_t i = 0; i < s->n_args; i++) {
        const struct conv_arg *a = &s->args[i];
        const char *v = kiln_shell_env_get(&s->env, a->key);
        char *e = kiln_xasprintf("%s=%s", a->key, v ? v : a->value ? a->value : "");
        long at = kiln_strv_find(&keys, a->key);
        if (at >= 0) {
            free(kv.v[at]);
            kv.v[at] = e;
        } else {
            kiln_strv_push(&keys, a->key);
            kiln_strv_take(&kv, e);
        }
    }
    struct kiln_buf msg = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&msg, "RUN");
    if (kv.n)
        kiln_buf_addf(&msg, " |%zu", kv.n);
    for (size_t i = 0; i < kv.n; i++)
        kiln_buf_addf(&msg, " %s", kv.v[i]);
    for (size_t i = 0; i < args->n; i++)
        kiln_buf_addf(&msg, " %s", args->v[i]);
    kiln_buf_adds(&msg, " # buildkit");
    conv_history(s, msg.buf, true);
    kiln_buf_release(&msg);
}

int conv_run(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
             struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv args = KILN_STRV_INIT;
    struct kiln_buf text = KILN_BUF_INIT(SIZE_MAX);
    struct typed_mounts mounts = {0};
    struct kiln_inline_file script = {0};
    int r = run_args(s, ins, &args, &text, &script, err);
    if (r >= 0)
        r = run_mounts(c, s, ins, &mounts, err);
    if (r >= 0 && script.name)
        r = script_mount(c, &script, &mounts, err);
    free(script.name);
    free(script.data);
    if (r < 0) {
        typed_mounts_release(&mounts);
        kiln_buf_release(&text);
        return r;
    }
    _cleanup_free_ char *shown = step_text(c, s, &mounts, text.buf);
    kiln_buf_release(&text);
    _cleanup_free_ char *name = conv_step_name(c, s, shown);
    struct kiln_vertex *x = conv_add_vertex(c, s, KILN_VERTEX_EXEC, name);
    for (size_t i = 0; i < args.n; i++)
        kiln_strv_push(&x->exec.args, args.v[i]);
    for (size_t i = 0; i < s->env.names.n; i++)
        kiln_strv_take(&x->exec.env,
                       kiln_xasprintf("%s=%s", s->env.names.v[i], s->env.values.v[i]));
    const char *wd = conv_config_str(s, "WorkingDir");
    x->exec.cwd = kiln_xstrdup(*wd ? wd : "/");
    x->exec.user = kiln_xstrdup(conv_config_str(s, "User"));
    x->exec.run = &ins->run;
    x->exec.mounts = mounts.v;
    x->exec.n_mounts = mounts.n;
    ssh_auth_sock(&x->exec);
    conv_platform_copy(&x->exec.platform, &s->platform);
    history(s, &args);
    return 0;
}
