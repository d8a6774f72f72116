/* SPDX-License-Identifier: Apache-2.0 */
/*
 * instr-copy.c - COPY and ADD (BuildKit's parseCopy, parseAdd and
 * parseSourcesAndDest): flags, at least a source and a destination, heredoc
 * sources turned into inline files, and the --from rule of conversion.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "instructions.h"
#include "parser-internal.h"

#include "base/banned.h"

static const struct kiln_df__flag_spec copy_flags[] = {
        {"chown", KILN_DF__FLAG_STRING, "USER[:GROUP]"},
        {"from", KILN_DF__FLAG_STRING, "STAGE"},
        {"chmod", KILN_DF__FLAG_STRING, "MODE"},
        {"link", KILN_DF__FLAG_BOOL, "true|false"},
        {"exclude", KILN_DF__FLAG_LIST, "PATTERN"},
        {"parents", KILN_DF__FLAG_BOOL, "true|false"},
};

static const struct kiln_df__flag_spec add_flags[] = {
        {"chown", KILN_DF__FLAG_STRING, "USER[:GROUP]"},
        {"chmod", KILN_DF__FLAG_STRING, "MODE"},
        {"link", KILN_DF__FLAG_BOOL, "true|false"},
        {"keep-git-dir", KILN_DF__FLAG_BOOL, "true|false"},
        {"checksum", KILN_DF__FLAG_STRING, "sha256:HEX"},
        {"unpack", KILN_DF__FLAG_BOOL, "true|false"},
        {"exclude", KILN_DF__FLAG_LIST, "PATTERN"},
};

#define N_FLAGS_MAX ELEMENTSOF(add_flags)

struct flags {
    const struct kiln_df__flag_spec *specs;
    size_t n;
    struct kiln_df__flag fl[N_FLAGS_MAX];
};

/* The parsed flag `name`, or NULL when the instruction has no such flag. */
static struct kiln_df__flag *flag(struct flags *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->specs[i].name, name) == 0)
            return &f->fl[i];
    return NULL;
}

static char *string_flag(struct flags *f, const char *name)
{
    struct kiln_df__flag *fl = flag(f, name);
    return kiln_xstrdup(fl && fl->set ? fl->value : "");
}

static enum kiln_df_tristate tristate_flag(struct flags *f, const char *name)
{
    struct kiln_df__flag *fl = flag(f, name);
    if (!fl || !fl->set)
        return KILN_DF_UNSET;
    return strcmp(fl->value, "true") == 0 ? KILN_DF_TRUE : KILN_DF_FALSE;
}

/* Whether `word` opens a heredoc (BuildKit MustParseHeredoc); fills *h then. */
static bool heredoc_word(const char *word, struct kiln_df_heredoc *h)
{
    return kiln_df__parse_heredoc(word, h, NULL) > 0;
}

static void heredoc_release(struct kiln_df_heredoc *h)
{
    free(h->name);
    free(h->content);
}

/* BuildKit ChompHeredocContent: leading tabs removed from every line. */
static char *chomp(const char *s)
{
    char *out = kiln_xmalloc(strlen(s) + 1), *o = out;
    bool line_start = true;
    for (; *s; s++) {
        if (line_start && *s == '\t')
            continue;
        line_start = *s == '\n';
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

static void add_content(const struct kiln_df_node *node, const struct kiln_df_heredoc *h,
                        struct kiln_df_copy *c)
{
    const char *body = "";
    for (size_t i = 0; i < node->n_heredocs; i++) /* the last of a name wins */
        if (strcmp(node->heredocs[i].name, h->name) == 0)
            body = node->heredocs[i].content;
    c->contents = kiln_xrealloc(c->contents, (c->n_contents + 1) * sizeof(*c->contents));
    c->contents[c->n_contents++] = (struct kiln_df_copy_content){
            .path = kiln_xstrdup(h->name),
            .data = h->chomp ? chomp(body) : kiln_xstrdup(body),
            .expand = h->expand,
    };
}

static int sources_and_dest(const struct kiln_df__req *rq, struct kiln_df_copy *c,
                            struct kiln_error **err)
{
    const struct kiln_strv *a = &rq->node->args;
    struct kiln_df_heredoc h;
    if (heredoc_word(a->v[a->n - 1], &h)) {
        heredoc_release(&h);
        return kiln_df__fail(rq, err,
                             "a heredoc cannot be the destination; the last argument is "
                             "the destination path");
    }
    for (size_t i = 0; i + 1 < a->n; i++) {
        if (heredoc_word(a->v[i], &h)) {
            add_content(rq->node, &h, c);
            heredoc_release(&h);
        } else {
            kiln_strv_push(&c->sources, a->v[i]);
        }
    }
    c->dest = kiln_xstrdup(a->v[a->n - 1]);
    return 0;
}

/* Conversion's rule (toCommand): --from must be literal, it is never expanded. */
static int check_from(const struct kiln_df__req *rq, const char *from, struct kiln_error **err)
{
    _cleanup_(kiln_error_freep) struct kiln_error *e = NULL;
    int r = kiln_df__word_changes(from, rq->escape, &e);
    if (r < 0)
        return kiln_df__fail(rq, err, "--from=%s: %s", from, kiln_error_message(e, r));
    if (r == 0)
        return 0;
    return kiln_df__fail(rq, err,
                         "--from=%s: variable expansion is not supported for --from; define "
                         "a stage from the variable (ARG before the first FROM, then FROM $VAR "
                         "AS NAME) and use --from=NAME",
                         from);
}

static void fill(struct flags *f, struct kiln_df_copy *c)
{
    struct kiln_df__flag *ex = flag(f, "exclude");
    c->from = string_flag(f, "from");
    c->chown = string_flag(f, "chown");
    c->chmod = string_flag(f, "chmod");
    c->checksum = string_flag(f, "checksum");
    c->excludes = ex->list;
    ex->list = (struct kiln_strv)KILN_STRV_INIT;
    c->link = tristate_flag(f, "link") == KILN_DF_TRUE;
    c->parents = tristate_flag(f, "parents") == KILN_DF_TRUE;
    c->keep_git_dir = tristate_flag(f, "keep-git-dir");
    c->unpack = tristate_flag(f, "unpack");
}

int kiln_df__parse_copy(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                        struct kiln_error **err)
{
    if (rq->node->args.n < 2)
        return kiln_df__fail(rq, err,
                             "needs at least a source and a destination: %s [OPTIONS] SRC... "
                             "DEST",
                             rq->name);
    bool is_copy = ins->kind == KILN_DF_COPY;
    struct flags f = {
            .specs = is_copy ? copy_flags : add_flags,
            .n = is_copy ? ELEMENTSOF(copy_flags) : ELEMENTSOF(add_flags),
    };
    int r = kiln_df__flags_parse(rq, f.specs, f.n, f.fl, err);
    if (r < 0)
        return r;
    struct kiln_df_copy c = {.sources = KILN_STRV_INIT};
    fill(&f, &c);
    kiln_df__flags_release(f.fl, f.n);
    r = sources_and_dest(rq, &c, err);
    if (r >= 0)
        r = check_from(rq, c.from, err);
    if (r < 0) {
        kiln_df__copy_release(&c);
        return r;
    }
    ins->copy = c;
    return 0;
}

void kiln_df__copy_release(struct kiln_df_copy *c)
{
    kiln_strv_release(&c->sources);
    for (size_t i = 0; i < c->n_contents; i++) {
        free(c->contents[i].path);
        free(c->contents[i].data);
    }
    free(c->contents);
    free(c->dest);
    free(c->from);
    free(c->chown);
    free(c->chmod);
    free(c->checksum);
    kiln_strv_release(&c->excludes);
}
