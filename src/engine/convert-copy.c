/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert-copy.c - COPY and ADD as BuildKit's dispatchCopy: sources,
 * destination and flags expanded, the destination made absolute against
 * WORKDIR, --from resolved to a stage or an image, heredoc sources, and the
 * history entry (docs/internals/convert.md).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/path.h"
#include "convert-private.h"

#include "base/banned.h"

static int expand_opt(struct conv *c, struct conv_stage *s, const char *word, unsigned line,
                      char **ret, struct kiln_error **err)
{
    *ret = NULL;
    if (!word || !*word)
        return 0;
    return conv_expand(c, s, word, line, ret, err);
}

/* pathRelativeToWorkingDir, cleaned: a trailing '/' (or "." / "" / "/.") marks a directory. */
static char *destination(struct conv_stage *s, const char *dest)
{
    size_t n = strlen(dest);
    bool dir = n == 0 || strcmp(dest, ".") == 0 || dest[n - 1] == '/' ||
               (n >= 2 && strcmp(dest + n - 2, "/.") == 0);
    const char *wd = conv_config_str(s, "WorkingDir");
    _cleanup_free_ char *joined =
            dest[0] == '/' ? kiln_xstrdup(dest) : kiln_xasprintf("/%s/%s", wd, dest);
    char *clean = kiln_path_clean(joined, strlen(joined));
    if (dir && strcmp(clean, "/") != 0) {
        char *d = kiln_xasprintf("%s/", clean);
        free(clean);
        clean = d;
    }
    return clean;
}

/* --chmod: octal up to 07777, or chmod(1) symbolic modes ("u=rwX,go=rX"). */
static bool chmod_valid(const char *m, bool *numeric)
{
    *numeric = *m && strspn(m, "0123456789") == strlen(m);
    if (*numeric) {
        errno = 0;
        char *end;
        unsigned long v = strtoul(m, &end, 8);
        return !errno && !*end && v <= 07777;
    }
    for (const char *p = m; *p;) {
        p += strspn(p, "ugoa");
        if (!*p || !strchr("+-=", *p))
            return false;
        while (*p && strchr("+-=", *p)) {
            p++;
            p += strspn(p, "rwxXstugo");
        }
        if (*p == ',')
            p++;
        else if (*p)
            return false;
    }
    return *m != '\0';
}

static bool is_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

static int check_flags(const struct kiln_df_instruction *ins, const struct kiln_vertex_copy *cp,
                       struct kiln_error **err)
{
    unsigned line = ins->start_line;
    bool numeric;
    if (cp->chmod && !chmod_valid(cp->chmod, &numeric))
        return numeric ? kiln_error_set_line(err, KILN_E_INVALID, line,
                                             "invalid chmod parameter: '%s'. it should be octal "
                                             "string and between 0 and 07777",
                                             cp->chmod)
                       : kiln_error_set_line(err, KILN_E_INVALID, line,
                                             "invalid chmod parameter: '%s': use octal (0755) or "
                                             "symbolic (u=rwX,go=rX) modes",
                                             cp->chmod);
    if (cp->checksum) {
        if (!cp->add)
            return kiln_error_set_line(err, KILN_E_INVALID, line,
                                       "checksum can't be specified for COPY");
        if (cp->sources.n != 1)
            return kiln_error_set_line(err, KILN_E_INVALID, line,
                                       "checksum can't be specified for multiple sources");
        if (!is_url(cp->sources.v[0]))
            return kiln_error_set_line(err, KILN_E_INVALID, line,
                                       "checksum requires HTTP(S) or Git sources");
    }
    for (size_t i = 0; !cp->add && i < cp->sources.n; i++)
        if (is_url(cp->sources.v[i]))
            return kiln_error_set_line(err, KILN_E_INVALID, line,
                                       "source can't be a URL for COPY: use ADD to download "
                                       "'%s'",
                                       cp->sources.v[i]);
    return 0;
}

static int copy_from(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                     enum kiln_copy_from *ret_kind, struct kiln_vertex **ret,
                     struct kiln_error **err)
{
    const char *from = ins->copy.from;
    if (!from || !*from) {
        *ret_kind = ins->copy.n_contents && !ins->copy.sources.n ? KILN_COPY_FROM_INLINE
                                                                 : KILN_COPY_FROM_CONTEXT;
        return 0;
    }
    *ret_kind = KILN_COPY_FROM_STATE;
    long i = conv_find_stage(c, from);
    if (i == LONG_MIN)
        return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line,
                                   "invalid stage index %s: the file has %zu stages", from,
                                   c->n_stages);
    if (i < 0)
        return conv_image_vertex(c, from, &s->platform, ins->start_line, ret, err);
    if ((size_t)i >= s->index)
        return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line,
                                   "cannot copy from stage \"%s\", it needs to be defined before "
                                   "current stage \"%s\"",
                                   from, s->name);
    int r = conv_stage_need(c, (size_t)i, s, ins->start_line, err);
    if (r >= 0)
        *ret = c->stages[i].state;
    return r;
}

/* Heredoc sources: bodies expanded with quotes kept (SkipProcessQuotes, escape '\'). */
static int inline_files(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                        struct kiln_vertex_copy *cp, struct kiln_error **err)
{
    const struct kiln_df_copy *in = &ins->copy;
    if (!in->n_contents)
        return 0;
    if (in->sources.n)
        return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line,
                                   "mixing heredoc and path sources in one %s is not supported "
                                   "yet: split it in two",
                                   kiln_df_kind_name(ins->kind));
    struct kiln_shell_options o = {.escape = '\\', .skip_process_quotes = true};
    cp->inline_files = kiln_xcalloc(in->n_contents, sizeof(*cp->inline_files));
    for (size_t i = 0; i < in->n_contents; i++) {
        struct kiln_inline_file *f = &cp->inline_files[cp->n_inline_files++];
        f->name = kiln_xstrdup(in->contents[i].path);
        if (!in->contents[i].expand) {
            f->data = kiln_xstrdup(in->contents[i].data);
            continue;
        }
        int r = kiln_shell_process_word(in->contents[i].data, &s->env, &o, &f->data, NULL, err);
        if (r < 0)
            return kiln_error_at_line(err, r, ins->start_line);
    }
    (void)c;
    return 0;
}

static void history(struct conv_stage *s, const struct kiln_vertex_copy *cp, const char *dest)
{
    struct kiln_buf b = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&b, cp->add ? "ADD" : "COPY");
    if (cp->parents)
        kiln_buf_adds(&b, " --parents");
    if (cp->chown)
        kiln_buf_addf(&b, " --chown=%s", cp->chown);
    if (cp->chmod)
        kiln_buf_addf(&b, " --chmod=%s", cp->chmod);
    for (size_t i = 0; i < cp->sources.n; i++)
        kiln_buf_addf(&b, " %s", cp->sources.v[i]);
    for (size_t i = 0; i < cp->n_inline_files; i++)
        kiln_buf_addf(&b, " <<%s", cp->inline_files[i].name);
    kiln_buf_addf(&b, " %s # buildkit", dest);
    conv_history(s, b.buf, true);
    kiln_buf_release(&b);
}

/* What the copy reads and writes, expanded and checked, into cp. */
static int fill(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                struct kiln_vertex_copy *cp, char **ret_dest, struct kiln_error **err)
{
    const struct kiln_df_copy *in = &ins->copy;
    unsigned line = ins->start_line;
    cp->add = ins->kind == KILN_DF_ADD;
    cp->parents = in->parents;
    cp->link = in->link;
    cp->unpack = in->unpack;
    int r = 0;
    for (size_t i = 0; i < in->sources.n && r >= 0; i++) {
        char *w = NULL;
        r = conv_expand(c, s, in->sources.v[i], line, &w, err);
        if (r >= 0)
            kiln_strv_take(&cp->sources, w);
    }
    if (r >= 0)
        r = conv_expand(c, s, in->dest, line, ret_dest, err);
    if (r >= 0)
        r = expand_opt(c, s, in->chown, line, &cp->chown, err);
    if (r >= 0)
        r = expand_opt(c, s, in->chmod, line, &cp->chmod, err);
    if (r >= 0)
        r = expand_opt(c, s, in->checksum, line, &cp->checksum, err);
    for (size_t i = 0; i < in->excludes.n && r >= 0; i++)
        kiln_strv_push(&cp->excludes, in->excludes.v[i]);
    if (r >= 0)
        r = inline_files(c, s, ins, cp, err);
    if (r >= 0)
        r = check_flags(ins, cp, err);
    if (r >= 0)
        cp->dest = destination(s, *ret_dest);
    return r;
}

int conv_copy(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
              struct kiln_error **err)
{
    /* --from first: it may convert another stage, whose vertices must come before this one. */
    enum kiln_copy_from from_kind;
    struct kiln_vertex *from = NULL;
    int r = copy_from(c, s, ins, &from_kind, &from, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *text = conv_step_text(c, s, ins->original, false);
    _cleanup_free_ char *name = conv_step_name(c, s, text);
    struct kiln_vertex *x = conv_add_vertex(c, s, KILN_VERTEX_COPY, name);
    x->copy.from_kind = from_kind;
    x->copy.from = from;
    _cleanup_free_ char *dest = NULL;
    r = fill(c, s, ins, &x->copy, &dest, err);
    if (r >= 0)
        history(s, &x->copy, dest);
    return r;
}
