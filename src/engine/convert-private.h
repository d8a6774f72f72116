/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert-private.h - what the files of the converter share: the state of
 * one stage while its instructions are dispatched (docs/internals/convert.md).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "base/buf.h"
#include "convert.h"
#include "dockerfile/shell.h"

/* Caps on what a base image's config (untrusted) may bring into a stage. */
#define KILN_CONVERT_ONBUILD_MAX 64    /* OnBuild triggers of one base image */
#define KILN_CONVERT_TRIGGER_MAX 65536 /* bytes of one trigger's text */
#define KILN_CONVERT_ENV_MAX     4096  /* Env entries of one base image */

#define KILN_CONVERT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* An ARG declared in a stage, in order; value NULL when it has none (unset). */
struct conv_arg {
    char *key;
    char *value;
};

struct conv_stage {
    const struct kiln_df_stage *st;
    size_t index;
    char *name;                /* the progress prefix: the stage name, "stage-N", or "" */
    char *base_name;           /* FROM's base expanded with the meta args */
    long base_stage;           /* the earlier stage FROM names, or -1 */
    int status;                /* 0 unvisited, 1 converting, 2 done */
    struct kiln_vertex *state; /* NULL: scratch */
    json_t *image; /* the image config being built (architecture, os, config, history) */
    /* BuildKit's state env: image Env, ARG and ENV values; a key set again
     * moves to the end (llb.EnvList). Words expand against it; RUN gets it. */
    struct kiln_shell_env env;
    struct conv_arg *args; /* every ARG of the stage (and of the stage it is FROM) */
    size_t n_args, alloc_args;
    bool cmd_set;         /* CMD given in this stage: ENTRYPOINT keeps it */
    bool onbuild;         /* dispatching an ONBUILD trigger */
    unsigned step, total; /* progress numbering */
    bool has_platform;    /* FROM --platform given */
    struct kiln_oci_platform platform;
    struct kiln_df_instruction **triggers; /* parsed ONBUILD triggers (owned) */
    size_t n_triggers, alloc_triggers;
};

/* A resolved image: resolve() is called once per ref and platform. */
struct conv_image {
    char *key; /* "ref platform" */
    char *pinned;
    json_t *config;
};

struct conv {
    const struct kiln_df_instructions *df;
    const struct kiln_convert_opts *o;
    struct kiln_graph *g;
    struct conv_stage *stages;
    size_t n_stages;
    size_t n_states; /* stages plus the images COPY --from names: BuildKit's dispatch states */
    struct kiln_shell_env global; /* meta args and the predefined platform args */
    struct kiln_shell_options shopt;
    struct kiln_oci_platform target; /* the target platform */
    bool implicit_target;            /* no platform was asked for */
    struct conv_image *images;
    size_t n_images, alloc_images;
};

/* convert.c */
/* Dispatches one instruction of stage s. */
int conv_dispatch(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                  struct kiln_error **err);
/* Makes sure stage `i` is converted; `from` (NULL for the target) must come after it. */
int conv_stage_need(struct conv *c, size_t i, const struct conv_stage *from, unsigned line,
                    struct kiln_error **err);

/* convert-stage.c */
/* FROM: the stage's starting state, config and env. */
int conv_stage_from(struct conv *c, struct conv_stage *s, struct kiln_error **err);
/* Finds a stage by name (case-insensitive) or index; -1 when the text names none. */
long conv_find_stage(const struct conv *c, const char *name);
/* An image for COPY --from / --mount from=: resolved, a named IMAGE vertex. */
int conv_image_vertex(struct conv *c, const char *ref, const struct kiln_oci_platform *p,
                      unsigned line, struct kiln_vertex **ret, struct kiln_error **err);
/* The progress name of the next step: "[stage 2/5] TEXT" (counts the step). Caller frees. */
char *conv_step_name(struct conv *c, struct conv_stage *s, const char *text);
/* The text of an instruction for its progress name: `original` expanded, first word upper-cased. */
char *conv_step_text(const struct conv *c, const struct conv_stage *s, const char *original,
                     bool raw);
/* A new vertex on the stage's state, named, no_cache applied; it becomes the state. */
struct kiln_vertex *conv_add_vertex(struct conv *c, struct conv_stage *s,
                                    enum kiln_vertex_kind kind, const char *name);
void conv_platform_copy(struct kiln_oci_platform *dst, const struct kiln_oci_platform *src);

/* convert-args.c */
/* Sets key in the env BuildKit's way: the entry moves to the end. */
void conv_env_put(struct kiln_shell_env *env, const char *key, const char *value);
/* Expands one word against the stage's env; ret is the caller's. Errors carry the line. */
int conv_expand(const struct conv *c, const struct conv_stage *s, const char *word, unsigned line,
                char **ret, struct kiln_error **err);
/* Expands against an explicit env (FROM uses the meta args). */
int conv_expand_env(const struct conv *c, const struct kiln_shell_env *env, const char *word,
                    unsigned line, char **ret, struct kiln_error **err);
/* The --build-arg value of `name`, or NULL. */
const char *conv_build_arg(const struct conv *c, const char *name);
/* The predefined args and the meta args (ARG before the first FROM). */
int conv_global_args(struct conv *c, struct kiln_error **err);
/* ARG inside a stage. */
int conv_arg(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
             struct kiln_error **err);
void conv_args_copy(struct conv_stage *dst, const struct conv_stage *src);
void conv_args_release(struct conv_stage *s);

/* convert-config.c */
/* Metadata instructions: ENV LABEL CMD ENTRYPOINT EXPOSE VOLUME USER STOPSIGNAL
 * MAINTAINER SHELL HEALTHCHECK ONBUILD, and WORKDIR (with its mkdir). */
int conv_config_dispatch(struct conv *c, struct conv_stage *s,
                         const struct kiln_df_instruction *ins, struct kiln_error **err);
/* The stage's config object ("config" of the image), created when missing. */
json_t *conv_config(struct conv_stage *s);
/* A string field of the config, or "" when unset. */
const char *conv_config_str(struct conv_stage *s, const char *key);
/* The image as Go decodes it into DockerOCIImage: unknown keys and empty values dropped. */
void conv_image_normalize(json_t *image);
/* Adds PATH to the config Env when missing, and loads Env into the stage's env. */
int conv_env_from_config(struct conv_stage *s, unsigned line, struct kiln_error **err);
/* The configured SHELL, or /bin/sh -c, followed by the words joined by spaces. */
void conv_with_shell(struct conv_stage *s, const struct kiln_strv *words, struct kiln_strv *ret);

/* convert-copy.c */
int conv_copy(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
              struct kiln_error **err);

/* convert-run.c */
int conv_run(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
             struct kiln_error **err);

/* convert-history.c: history entries, with Go's formatting of their text */
/* Appends {created_by, comment, empty_layer} (created is the exporter's). */
void conv_history(struct conv_stage *s, const char *created_by, bool layer);
/* Go's %q of a []string: ["a" "b"]. */
void conv_fmt_quoted(struct kiln_buf *b, const struct kiln_strv *words);
/* Go's %v of a []string: [a b]. */
void conv_fmt_list(struct kiln_buf *b, const struct kiln_strv *words);
/* Go's time.Duration.String(): "1m30s", "1.5ms", "0s". */
void conv_fmt_duration(struct kiln_buf *b, int64_t ns);

/* convert-onbuild.c */
/* Parses the triggers a stage runs first: its base image's OnBuild, or the
 * ONBUILD lines of the stage it is FROM. Clears config.OnBuild. */
int conv_onbuild_init(struct conv *c, struct conv_stage *s, struct kiln_error **err);
/* Records ONBUILD in config.OnBuild. */
void conv_onbuild_record(struct conv_stage *s, const struct kiln_df_instruction *ins);
