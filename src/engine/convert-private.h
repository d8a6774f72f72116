/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert-private.h - what the files of the converter share: the state of
 * one stage while its instructions are dispatched.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "convert.h"
#include "dockerfile/shell.h"

struct conv_stage {
    const struct kiln_df_stage *st;
    size_t index;
    char *name;                /* the progress prefix: the stage name, "stage-N", or "" */
    int status;                /* 0 unvisited, 1 converting, 2 done */
    struct kiln_vertex *state; /* NULL: scratch */
    json_t *image; /* the image config being built (architecture, os, config, history) */
    struct kiln_shell_env env;  /* the config's Env */
    struct kiln_shell_env args; /* ARGs in scope with a value */
    struct kiln_strv arg_names; /* every ARG declared in the stage, in order */
    bool cmd_set;
    unsigned step, total; /* progress numbering */
    struct kiln_oci_platform platform;
};

struct conv {
    const struct kiln_df_instructions *df;
    const struct kiln_convert_opts *o;
    struct kiln_graph *g;
    struct conv_stage *stages;
    size_t n_stages;
    struct kiln_shell_env global; /* meta args and the predefined platform args */
    struct kiln_shell_options shopt;
};

/* The env a word of stage s expands against: ARGs, overridden by ENV. Caller releases. */
void conv_word_env(const struct conv_stage *s, struct kiln_shell_env *ret);
/* The --build-arg value of `name`, or NULL. */
const char *conv_build_arg(const struct conv *c, const char *name);
/* Expands one word against env; ret is the caller's. Errors carry the line. */
int conv_expand(const struct conv *c, const struct kiln_shell_env *env, const char *word,
                unsigned line, char **ret, struct kiln_error **err);

/* Appends a history entry (created is filled at export). */
void conv_history(struct conv_stage *s, const char *created_by, bool layer);
/* The stage's config object ("config" of the image), created when missing. */
json_t *conv_config(struct conv_stage *s);
/* Rewrites config.Env from s->env. */
void conv_sync_env(struct conv_stage *s);
/* Go's %q of a word list: ["a" "b"]. Caller frees. */
char *conv_goquote_list(const struct kiln_strv *words);

/* Dispatches one instruction of stage s (metadata, COPY/ADD, WORKDIR, RUN). */
int conv_dispatch(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                  struct kiln_error **err);
/* Makes sure stage `i` is converted (it must come before `from`). */
int conv_stage_need(struct conv *c, size_t i, const struct conv_stage *from,
                    struct kiln_error **err);
/* Finds a stage by name or index; -1 when the text names none. */
long conv_find_stage(const struct conv *c, const char *name);
/* A progress name "[stage 2/5] TEXT"; counts the step. Caller frees. */
char *conv_step_name(struct conv_stage *s, const char *text);
/* COPY and ADD (convert-copy.c). */
int conv_copy(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
              struct kiln_error **err);
