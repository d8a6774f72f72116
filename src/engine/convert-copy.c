/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert-copy.c - COPY and ADD: sources and destination expanded, the
 * destination made absolute against WORKDIR, --from resolved to a stage or
 * an image (docs/internals/convert.md).
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/path.h"
#include "convert-private.h"

#include "base/banned.h"

static int expand_opt(struct conv *c, const struct kiln_shell_env *env, const char *word,
                      unsigned line, char **ret, struct kiln_error **err)
{
    *ret = NULL;
    return word && *word ? conv_expand(c, env, word, line, ret, err) : 0;
}

/* The destination, absolute; a trailing '/' (or "." / "") marks a directory. */
static char *destination(struct conv_stage *s, const char *dest)
{
    size_t n = strlen(dest);
    bool dir = n == 0 || strcmp(dest, ".") == 0 || dest[n - 1] == '/' ||
               (n >= 2 && strcmp(dest + n - 2, "/.") == 0);
    const char *wd = json_string_value(json_object_get(conv_config(s), "WorkingDir"));
    _cleanup_free_ char *joined = dest[0] == '/'
                                          ? kiln_xstrdup(dest)
                                          : kiln_xasprintf("%s/%s", wd && *wd ? wd : "/", dest);
    char *clean = kiln_path_clean(joined, strlen(joined));
    if (dir && strcmp(clean, "/") != 0) {
        char *d = kiln_xasprintf("%s/", clean);
        free(clean);
        clean = d;
    }
    return clean;
}

/* Where the copy reads; converts the stage (or adds the image) first, so inputs come first. */
static int copy_from(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                     enum kiln_copy_from *ret_kind, struct kiln_vertex **ret_from,
                     struct kiln_error **err)
{
    const char *from = ins->copy.from;
    *ret_from = NULL;
    if (!from || !*from) {
        *ret_kind = ins->copy.n_contents && !ins->copy.sources.n ? KILN_COPY_FROM_INLINE
                                                                 : KILN_COPY_FROM_CONTEXT;
        return 0;
    }
    *ret_kind = KILN_COPY_FROM_STATE;
    long i = conv_find_stage(c, from);
    if (i >= 0) {
        if ((size_t)i >= s->index)
            return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line,
                                       "cannot copy from stage \"%s\", it needs to be defined "
                                       "before current stage \"%s\"",
                                       from, s->name);
        int r = conv_stage_need(c, (size_t)i, s, err);
        if (r < 0)
            return r;
        *ret_from = c->stages[i].state;
        return 0;
    }
    char *pinned = NULL;
    json_t *cfg = NULL;
    int r = c->o->resolve(c->o->resolve_userdata, from, &s->platform, &pinned, &cfg, err);
    if (r < 0)
        return kiln_error_at_line(err, r, ins->start_line);
    json_decref(cfg);
    _cleanup_free_ char *name = kiln_xasprintf("[internal] FROM %s", pinned);
    struct kiln_vertex *img = kiln_graph_add(c->g, KILN_VERTEX_IMAGE, NULL, name);
    img->image.ref = pinned;
    _cleanup_free_ char *pf = kiln_oci_platform_format_all(&s->platform);
    kiln_oci_platform_parse(pf, &img->image.platform, NULL);
    *ret_from = img;
    return 0;
}

static void history(struct conv_stage *s, const struct kiln_df_instruction *ins,
                    const struct kiln_vertex *x)
{
    struct kiln_buf b = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&b, ins->kind == KILN_DF_ADD ? "ADD" : "COPY");
    if (x->copy.chown)
        kiln_buf_addf(&b, " --chown=%s", x->copy.chown);
    if (x->copy.chmod)
        kiln_buf_addf(&b, " --chmod=%s", x->copy.chmod);
    for (size_t i = 0; i < x->copy.sources.n; i++)
        kiln_buf_addf(&b, " %s", x->copy.sources.v[i]);
    for (size_t i = 0; i < x->copy.n_inline_files; i++)
        kiln_buf_addf(&b, " %s", x->copy.inline_files[i].name);
    kiln_buf_addf(&b, " %s # buildkit", x->copy.dest);
    conv_history(s, b.buf, true);
    kiln_buf_release(&b);
}

int conv_copy(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
              struct kiln_error **err)
{
    const struct kiln_df_copy *cp = &ins->copy;
    enum kiln_copy_from kind;
    struct kiln_vertex *from = NULL;
    int r = copy_from(c, s, ins, &kind, &from, err);
    if (r < 0)
        return r;
    struct kiln_shell_env env;
    conv_word_env(s, &env);
    _cleanup_free_ char *name = conv_step_name(s, ins->original);
    struct kiln_vertex *x = kiln_graph_add(c->g, KILN_VERTEX_COPY, s->state, name);
    x->copy.from_kind = kind;
    x->copy.from = from;
    x->copy.add = ins->kind == KILN_DF_ADD;
    x->copy.parents = cp->parents;
    x->copy.link = cp->link;
    x->copy.unpack = cp->unpack;
    x->no_cache = c->o->no_cache;
    unsigned line = ins->start_line;
    for (size_t i = 0; i < cp->sources.n && r >= 0; i++) {
        char *w = NULL;
        r = conv_expand(c, &env, cp->sources.v[i], line, &w, err);
        if (r >= 0)
            kiln_strv_take(&x->copy.sources, w);
    }
    _cleanup_free_ char *dest = NULL;
    if (r >= 0)
        r = conv_expand(c, &env, cp->dest, line, &dest, err);
    if (r >= 0)
        r = expand_opt(c, &env, cp->chown, line, &x->copy.chown, err);
    if (r >= 0)
        r = expand_opt(c, &env, cp->chmod, line, &x->copy.chmod, err);
    if (r >= 0)
        r = expand_opt(c, &env, cp->checksum, line, &x->copy.checksum, err);
    for (size_t i = 0; i < cp->excludes.n && r >= 0; i++)
        kiln_strv_push(&x->copy.excludes, cp->excludes.v[i]);
    if (r >= 0 && cp->n_contents) {
        x->copy.inline_files = kiln_xcalloc(cp->n_contents, sizeof(*x->copy.inline_files));
        for (size_t i = 0; i < cp->n_contents && r >= 0; i++) {
            struct kiln_inline_file *f = &x->copy.inline_files[x->copy.n_inline_files++];
            f->name = kiln_xstrdup(cp->contents[i].path);
            if (cp->contents[i].expand) {
                struct kiln_shell_options o = c->shopt;
                o.skip_process_quotes = true;
                r = kiln_shell_process_word(cp->contents[i].data, &env, &o, &f->data, NULL, err);
                if (r < 0)
                    kiln_error_at_line(err, r, line);
            } else {
                f->data = kiln_xstrdup(cp->contents[i].data);
            }
        }
        if (r >= 0 && cp->sources.n)
            r = kiln_error_set_line(err, KILN_E_INVALID, line,
                                    "mixing heredoc and path sources in one %s is not "
                                    "supported yet: split it",
                                    ins->kind == KILN_DF_ADD ? "ADD" : "COPY");
    }
    kiln_shell_env_release(&env);
    if (r < 0)
        return r;
    x->copy.dest = destination(s, dest);
    s->state = x;
    history(s, ins, x);
    return 0;
}
