/* SPDX-License-Identifier: Apache-2.0 */
/*
 * instructions.c - layer 2 entry points: each node to its instruction parser
 * (one table), the instructions grouped into stages after the meta args, and
 * the destructors. The parsers live in instr-*.c.
 */
#include "instructions.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "parser-internal.h"
#include "shell.h"

#include "base/banned.h"

typedef int parse_fn(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                     struct kiln_error **err);

/* Indexed by enum kiln_df_kind. */
static const struct {
    const char *keyword;
    const char *name;
    parse_fn *parse;
} kinds[] = {
        [KILN_DF_FROM] = {"from", "FROM", kiln_df__parse_from},
        [KILN_DF_ADD] = {"add", "ADD", kiln_df__parse_copy},
        [KILN_DF_ARG] = {"arg", "ARG", kiln_df__parse_arg},
        [KILN_DF_CMD] = {"cmd", "CMD", kiln_df__parse_cmd},
        [KILN_DF_COPY] = {"copy", "COPY", kiln_df__parse_copy},
        [KILN_DF_ENTRYPOINT] = {"entrypoint", "ENTRYPOINT", kiln_df__parse_cmd},
        [KILN_DF_ENV] = {"env", "ENV", kiln_df__parse_keyvalue},
        [KILN_DF_EXPOSE] = {"expose", "EXPOSE", kiln_df__parse_expose},
        [KILN_DF_HEALTHCHECK] = {"healthcheck", "HEALTHCHECK", kiln_df__parse_healthcheck},
        [KILN_DF_LABEL] = {"label", "LABEL", kiln_df__parse_keyvalue},
        [KILN_DF_MAINTAINER] = {"maintainer", "MAINTAINER", kiln_df__parse_single},
        [KILN_DF_ONBUILD] = {"onbuild", "ONBUILD", kiln_df__parse_onbuild},
        [KILN_DF_RUN] = {"run", "RUN", kiln_df__parse_run},
        [KILN_DF_SHELL] = {"shell", "SHELL", kiln_df__parse_shell},
        [KILN_DF_STOPSIGNAL] = {"stopsignal", "STOPSIGNAL", kiln_df__parse_single},
        [KILN_DF_USER] = {"user", "USER", kiln_df__parse_single},
        [KILN_DF_VOLUME] = {"volume", "VOLUME", kiln_df__parse_volume},
        [KILN_DF_WORKDIR] = {"workdir", "WORKDIR", kiln_df__parse_single},
};

const char *kiln_df_kind_name(enum kiln_df_kind kind)
{
    return (size_t)kind < ELEMENTSOF(kinds) ? kinds[kind].name : "?";
}

int kiln_df__word_changes(const char *word, char escape, struct kiln_error **err)
{
    struct kiln_shell_options opt = {.escape = escape};
    _cleanup_free_ char *out = NULL;
    int r = kiln_shell_process_word(word, NULL, &opt, &out, NULL, err);
    if (r < 0)
        return r;
    return strcmp(out, word) != 0;
}

bool kiln_df_word_expands(const char *word, char escape)
{
    return kiln_df__word_changes(word, escape, NULL) != 0;
}

static void from_release(struct kiln_df_from *f)
{
    free(f->base);
    free(f->name);
    free(f->platform);
}

static void instruction_release(struct kiln_df_instruction *ins)
{
    free(ins->original);
    switch (ins->kind) {
    case KILN_DF_FROM: from_release(&ins->from); break;
    case KILN_DF_RUN: kiln_df__run_release(&ins->run); break;
    case KILN_DF_CMD:
    case KILN_DF_ENTRYPOINT: kiln_df__cmdline_release(&ins->cmd); break;
    case KILN_DF_COPY:
    case KILN_DF_ADD: kiln_df__copy_release(&ins->copy); break;
    case KILN_DF_HEALTHCHECK: kiln_strv_release(&ins->health.test); break;
    case KILN_DF_ONBUILD:
        free(ins->onbuild.trigger);
        free(ins->onbuild.expression);
        break;
    case KILN_DF_ENV:
    case KILN_DF_LABEL:
        for (size_t i = 0; i < ins->n_pairs; i++) {
            free(ins->pairs[i].key);
            free(ins->pairs[i].value);
        }
        free(ins->pairs);
        break;
    case KILN_DF_ARG:
        for (size_t i = 0; i < ins->n_args; i++) {
            free(ins->args[i].key);
            free(ins->args[i].value);
        }
        free(ins->args);
        break;
    case KILN_DF_EXPOSE:
    case KILN_DF_VOLUME:
    case KILN_DF_SHELL: kiln_strv_release(&ins->words); break;
    case KILN_DF_MAINTAINER:
    case KILN_DF_STOPSIGNAL:
    case KILN_DF_USER:
    case KILN_DF_WORKDIR: free(ins->value); break;
    }
}

void kiln_df_instruction_free(struct kiln_df_instruction *ins)
{
    if (!ins)
        return;
    instruction_release(ins);
    free(ins);
}

static void stage_release(struct kiln_df_stage *st)
{
    from_release(&st->from);
    free(st->original);
    for (size_t i = 0; i < st->n_instructions; i++)
        instruction_release(&st->instructions[i]);
    free(st->instructions);
}

void kiln_df_instructions_free(struct kiln_df_instructions *file)
{
    if (!file)
        return;
    for (size_t i = 0; i < file->n_meta_args; i++)
        instruction_release(&file->meta_args[i]);
    free(file->meta_args);
    for (size_t i = 0; i < file->n_stages; i++)
        stage_release(&file->stages[i]);
    free(file->stages);
    free(file);
}

/* "unknown instruction: FOO", the word as written, with BuildKit's suggestion. */
static int unknown_instruction(const struct kiln_df_node *node, struct kiln_error **err)
{
    const char *s = node->original;
    size_t n = strlen(s);
    size_t lead = kiln_df__span_space(s, n);
    size_t len = 0;
    while (lead + len < n && !kiln_df__ascii_ws(s[lead + len]))
        len++;
    _cleanup_free_ char *word = kiln_xstrndup(s + lead, len);
    const char *names[ELEMENTSOF(kinds)];
    for (size_t k = 0; k < ELEMENTSOF(kinds); k++)
        names[k] = kinds[k].name;
    const char *match = kiln_df__suggest(word, names, ELEMENTSOF(names), false);
    if (!match)
        return kiln_error_set_line(err, KILN_E_INVALID, node->start_line, "unknown instruction: %s",
                                   word);
    /* BuildKit's matchCase: the suggestion in the case the word was written in. */
    bool has_upper = false, has_lower = false;
    for (const char *p = word; *p; p++) {
        has_upper |= *p >= 'A' && *p <= 'Z';
        has_lower |= *p >= 'a' && *p <= 'z';
    }
    _cleanup_free_ char *shown = kiln_xstrdup(match);
    if (!has_upper || has_lower) /* all upper case only when the word was */
        for (char *p = shown; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + ('a' - 'A'));
    return kiln_error_set_line(err, KILN_E_INVALID, node->start_line,
                               "unknown instruction: %s (did you mean %s?)", word, shown);
}

/* kiln does not carry NUL bytes in strings; JSON "\u0000" is the only way in. */
static int check_nul(const struct kiln_df__req *rq, struct kiln_error **err)
{
    const struct kiln_df_node *node = rq->node;
    for (size_t i = 0; node->arg_len && i < node->args.n; i++)
        if (node->arg_len[i] != strlen(node->args.v[i]))
            return kiln_df__fail(rq, err,
                                 "argument %zu holds a NUL byte (\\u0000), which kiln does "
                                 "not support; remove it",
                                 i + 1);
    return 0;
}

static char *trimmed(const char *s)
{
    size_t n = strlen(s);
    size_t lead = kiln_df__span_space(s, n);
    return kiln_xstrndup(s + lead, kiln_df__trim_right_space(s + lead, n - lead));
}

/* Types `node` into *ins (zeroed by the caller); nothing to release on failure. */
static int parse_into(const struct kiln_df_node *node, char escape, struct kiln_df_instruction *ins,
                      struct kiln_error **err)
{
    size_t k = 0;
    while (k < ELEMENTSOF(kinds) && strcmp(kinds[k].keyword, node->keyword) != 0)
        k++;
    if (k == ELEMENTSOF(kinds))
        return unknown_instruction(node, err);
    struct kiln_df__req rq = {.node = node, .name = kinds[k].name, .escape = escape};
    int r = check_nul(&rq, err);
    if (r < 0)
        return r;
    struct kiln_df_instruction tmp = {
            .kind = (enum kiln_df_kind)k,
            .start_line = node->start_line,
            .end_line = node->end_line,
    };
    r = kinds[k].parse(&rq, &tmp, err);
    if (r < 0)
        return r;
    tmp.original = trimmed(node->original);
    *ins = tmp;
    return 0;
}

int kiln_df_instruction_parse(const struct kiln_df_node *node, char escape,
                              struct kiln_df_instruction **ret, struct kiln_error **err)
{
    _cleanup_(kiln_df_instruction_freep) struct kiln_df_instruction *ins =
            kiln_xcalloc(1, sizeof(*ins));
    int r = parse_into(node, escape, ins, err);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(ins);
    return 0;
}

/* Files the typed instruction: a meta arg, a new stage or a stage's step. */
static int add_instruction(struct kiln_df_instructions *file, struct kiln_df_instruction *ins,
                           struct kiln_error **err)
{
    if (ins->kind == KILN_DF_FROM) {
        KILN_GROW(file->stages, file->alloc_stages, file->n_stages + 1);
        file->stages[file->n_stages++] = (struct kiln_df_stage){
                .from = ins->from,
                .original = ins->original,
                .start_line = ins->start_line,
                .end_line = ins->end_line,
        };
        return 0;
    }
    if (file->n_stages == 0 && ins->kind == KILN_DF_ARG) {
        KILN_GROW(file->meta_args, file->alloc_meta_args, file->n_meta_args + 1);
        file->meta_args[file->n_meta_args++] = *ins;
        return 0;
    }
    if (file->n_stages == 0) {
        int r = kiln_error_set_line(err, KILN_E_INVALID, ins->start_line,
                                    "%s: no build stage in current context; a Dockerfile "
                                    "starts with FROM (only ARG may come before it)",
                                    kiln_df_kind_name(ins->kind));
        instruction_release(ins);
        return r;
    }
    struct kiln_df_stage *st = &file->stages[file->n_stages - 1];
    KILN_GROW(st->instructions, st->alloc_instructions, st->n_instructions + 1);
    st->instructions[st->n_instructions++] = *ins;
    st->end_line = ins->end_line;
    return 0;
}

int kiln_df_instructions_parse(const struct kiln_df_ast *ast, struct kiln_df_instructions **ret,
                               struct kiln_error **err)
{
    _cleanup_(kiln_df_instructions_freep) struct kiln_df_instructions *file =
            kiln_xcalloc(1, sizeof(*file));
    file->escape = ast->escape;
    for (size_t i = 0; i < ast->n_nodes; i++) {
        struct kiln_df_instruction ins = {0};
        int r = parse_into(ast->nodes[i], ast->escape, &ins, err);
        if (r >= 0)
            r = add_instruction(file, &ins, err);
        if (r < 0)
            return r;
    }
    *ret = TAKE_PTR(file);
    return 0;
}
