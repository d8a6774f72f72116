/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert-run.c - RUN: the argv (SHELL prepended for the shell form, heredocs
 * as BuildKit's dispatchRun handles them), the env, cwd and user in effect,
 * the --mount stages it needs, and its history entry (docs/internals/convert.md).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "convert-private.h"

#include "base/banned.h"

/* BuildKit's ParseHeredoc on a whole command line: "<<EOF" or "<<-'EOF'" and nothing else. */
static bool lone_heredoc(const char *s)
{
    while (isdigit((unsigned char)*s))
        s++;
    if (strncmp(s, "<<", 2) != 0)
        return false;
    s += 2 + (s[2] == '-');
    s += strspn(s, " \t\r\n\f\v");
    if (!*s || strchr(s, '<'))
        return false;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char)s[i]))
            return false;
    return true;
}

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

/* The argv of RUN and the text its progress name starts from. */
static int run_args(struct conv_stage *s, const struct kiln_df_instruction *ins,
                    struct kiln_strv *args, struct kiln_buf *text, struct kiln_error **err)
{
    const struct kiln_df_cmdline *cl = &ins->run.cmd;
    kiln_buf_adds(text, ins->original);
    _cleanup_strv_ struct kiln_strv words = KILN_STRV_INIT;
    if (cl->n_files) {
        if (cl->args.n != 1 || !cl->prepend_shell)
            return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line,
                                       "parsing produced an invalid run command");
        if (lone_heredoc(cl->args.v[0])) {
            const struct kiln_df_inline_file *f = &cl->files[0];
            char *data = f->chomp ? chomp(f->data) : kiln_xstrdup(f->data);
            if (strncmp(data, "#!", 2) == 0) {
                free(data);
                return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line,
                                           "a RUN heredoc that starts with #! is not supported "
                                           "yet: run the interpreter on the heredoc "
                                           "(RUN <<EOF python3)");
            }
            kiln_strv_take(&words, data);
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

/* The mounts: their errors surface here, and a from= stage is converted first. */
static int run_mounts(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                      struct kiln_error **err)
{
    const struct kiln_df_run *run = &ins->run;
    for (size_t i = 0; i < run->n_mounts; i++) {
        const struct kiln_df_run_mount *m = &run->mounts[i];
        if (m->error)
            return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line, "%s", m->error);
        _cleanup_(kiln_df_mount_freep) struct kiln_df_mount *typed = NULL;
        const struct kiln_df_mount *mount = m->mount;
        if (m->expand) {
            struct mount_expand ud = {c, s};
            int r = kiln_df_mount_parse(m->spec, mount_expand, &ud, &typed, err);
            if (r < 0)
                return kiln_error_at_line(err, r, ins->start_line);
            mount = typed;
        }
        if (!mount || !*mount->from)
            continue;
        long k = conv_find_stage(c, mount->from);
        if (k >= 0) {
            int r = conv_stage_need(c, (size_t)k, s, ins->start_line, err);
            if (r < 0)
                return r;
        }
    }
    return 0;
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
    int r = run_args(s, ins, &args, &text, err);
    if (r >= 0)
        r = run_mounts(c, s, ins, err);
    if (r < 0) {
        kiln_buf_release(&text);
        return r;
    }
    _cleanup_free_ char *shown = conv_step_text(c, s, text.buf, true);
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
    conv_platform_copy(&x->exec.platform, &s->platform);
    history(s, &args);
    return 0;
}
