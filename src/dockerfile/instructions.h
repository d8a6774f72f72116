/* SPDX-License-Identifier: Apache-2.0 */
/*
 * instructions.h - layer 2 of the frontend: the syntax tree (ast.h) turned
 * into typed instructions, flags and argument counts checked as BuildKit's
 * frontend/dockerfile/instructions package checks them.
 *
 * Nothing here expands variables; conversion (layer 3) does, and only the
 * fields marked [expanded] below (BuildKit's SupportsSingleWordExpansion).
 * [global] marks fields expanded against the meta args only (FROM).
 * String fields of flags are "" when the flag was not given (BuildKit makes
 * no difference between an absent flag and `--flag=`).
 *
 * docs/internals/instructions.md explains the design.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ast.h"
#include "base/error.h"
#include "base/strv.h"

enum kiln_df_kind {
    KILN_DF_FROM,
    KILN_DF_ADD,
    KILN_DF_ARG,
    KILN_DF_CMD,
    KILN_DF_COPY,
    KILN_DF_ENTRYPOINT,
    KILN_DF_ENV,
    KILN_DF_EXPOSE,
    KILN_DF_HEALTHCHECK,
    KILN_DF_LABEL,
    KILN_DF_MAINTAINER,
    KILN_DF_ONBUILD,
    KILN_DF_RUN,
    KILN_DF_SHELL,
    KILN_DF_STOPSIGNAL,
    KILN_DF_USER,
    KILN_DF_VOLUME,
    KILN_DF_WORKDIR,
};

/* An optional boolean flag: unset unless the Dockerfile gave it. */
enum kiln_df_tristate {
    KILN_DF_UNSET = -1,
    KILN_DF_FALSE = 0,
    KILN_DF_TRUE = 1,
};

/* FROM [--platform=P] BASE [AS NAME] */
struct kiln_df_from {
    char *base;     /* [global] */
    char *name;     /* lower-cased, "" for an unnamed stage */
    char *platform; /* [global] "" when not given */
};

/* A heredoc of RUN (or CMD/ENTRYPOINT): body kept as read, chomped on use. */
struct kiln_df_inline_file {
    char *name;
    char *data;
    bool chomp;
};

/* RUN, CMD, ENTRYPOINT: BuildKit's ShellDependantCmdLine. */
struct kiln_df_cmdline {
    /* Exec form: the JSON words. Shell form: one word, the arguments joined
     * by spaces, to which conversion prepends SHELL. ENTRYPOINT with no words
     * unsets the entrypoint; CMD with none sets an empty one. */
    struct kiln_strv args;
    bool prepend_shell; /* shell form */
    struct kiln_df_inline_file *files;
    size_t n_files;
};

enum kiln_df_mount_type {
    KILN_DF_MOUNT_BIND,
    KILN_DF_MOUNT_CACHE,
    KILN_DF_MOUNT_TMPFS,
    KILN_DF_MOUNT_SECRET,
    KILN_DF_MOUNT_SSH,
};

enum kiln_df_mount_sharing {
    KILN_DF_SHARING_UNSET, /* not a cache mount */
    KILN_DF_SHARING_SHARED,
    KILN_DF_SHARING_PRIVATE,
    KILN_DF_SHARING_LOCKED,
};

/*
 * One typed RUN --mount. Besides what was written, the defaults of §1.4 are
 * filled in: readonly (bind, secret, ssh: true; cache, tmpfs: false); id
 * (cache: the cleaned target; secret: source, else id, else the base name of
 * the target; ssh: "default"); cache sharing (shared); a secret's target (/run/secrets/<id> unless
 * env= was given); mode (cache 0755, secret 0400, ssh 0600) with uid/gid 0.
 * has_mode/has_uid/has_gid tell what was written: a cache mount with none of
 * them and no source uses the directory as it is.
 */
struct kiln_df_mount {
    enum kiln_df_mount_type type;
    char *from;   /* stage, image or context; "" for the build context */
    char *source; /* "" when not given */
    char *target; /* "" when not given (ssh: the agent socket default) */
    char *id;
    char *env; /* secret: the variable to set, NULL when not given */
    enum kiln_df_mount_sharing sharing;
    bool readonly;
    bool required; /* secret, ssh */
    bool has_mode, has_uid, has_gid;
    uint32_t mode, uid, gid;
    int64_t size; /* tmpfs: bytes, 0 for no limit */
};

/*
 * A --mount as RUN carries it. Its values are [expanded] at conversion, so
 * a mount is typed here only when no value holds a variable, a quote or the
 * escape token. As in BuildKit, only a CSV error and a `from=` holding '$'
 * fail the RUN here; anything else wrong with a mount is recorded in `error`
 * and is the conversion's error, raised only for stages the build reaches.
 */
struct kiln_df_run_mount {
    char *spec;                  /* the flag value, e.g. "type=cache,target=/root/.cache" */
    bool expand;                 /* typed at conversion: kiln_df_mount_parse() with values */
    struct kiln_df_mount *mount; /* typed now: !expand and valid */
    char *error;                 /* !expand and invalid: the message conversion reports */
};

enum kiln_df_network {
    KILN_DF_NETWORK_DEFAULT,
    KILN_DF_NETWORK_NONE,
    KILN_DF_NETWORK_HOST,
};

enum kiln_df_security {
    KILN_DF_SECURITY_SANDBOX,
    KILN_DF_SECURITY_INSECURE,
};

/* RUN --device=NAME[,required]: a CDI device; optional unless required. */
struct kiln_df_device {
    char *name;
    bool required;
};

struct kiln_df_run {
    struct kiln_df_cmdline cmd;
    struct kiln_df_run_mount *mounts;
    size_t n_mounts;
    struct kiln_df_device *devices;
    size_t n_devices;
    enum kiln_df_network network;
    enum kiln_df_security security;
};

/* A heredoc source of COPY/ADD: a file named `path` holding `data`. */
struct kiln_df_copy_content {
    char *path;
    char *data;  /* chomped already when the heredoc was <<- */
    bool expand; /* the body is expanded (quotes kept) at conversion */
};

/* COPY and ADD. */
struct kiln_df_copy {
    struct kiln_strv sources; /* [expanded] paths, URLs, git refs; heredocs not */
    struct kiln_df_copy_content *contents;
    size_t n_contents;
    char *dest;     /* [expanded] */
    char *from;     /* COPY --from: stage, index, context or image; never expanded */
    char *chown;    /* [expanded] */
    char *chmod;    /* [expanded] */
    char *checksum; /* ADD, [expanded] */
    struct kiln_strv excludes;
    bool link;
    bool parents;                       /* COPY */
    enum kiln_df_tristate keep_git_dir; /* ADD */
    enum kiln_df_tristate unpack;       /* ADD */
};

/* ENV and LABEL: both key and value [expanded]. */
struct kiln_df_keyvalue {
    char *key;
    char *value;
    bool no_delim; /* legacy `KEY value` form */
};

/* ARG: key and value [expanded]. */
struct kiln_df_argdef {
    char *key;
    char *value; /* NULL when the ARG gives no default */
};

struct kiln_df_healthcheck {
    /* ["NONE"], ["CMD", exec words...] or ["CMD-SHELL", command line] */
    struct kiln_strv test;
    /* Nanoseconds; 0 when not given (the image's or the runtime's default). */
    int64_t interval, timeout, start_period, start_interval;
    int retries;
};

struct kiln_df_onbuild {
    char *trigger;    /* the upper-cased instruction, e.g. "RUN" */
    char *expression; /* the text after ONBUILD, heredoc bodies appended */
};

struct kiln_df_instruction {
    enum kiln_df_kind kind;
    unsigned start_line, end_line;
    char *original; /* the instruction as written, white space trimmed */
    union {
        struct kiln_df_from from;          /* FROM */
        struct kiln_df_run run;            /* RUN */
        struct kiln_df_cmdline cmd;        /* CMD, ENTRYPOINT */
        struct kiln_df_copy copy;          /* COPY, ADD */
        struct kiln_df_healthcheck health; /* HEALTHCHECK */
        struct kiln_df_onbuild onbuild;    /* ONBUILD */
        struct {                           /* ENV, LABEL */
            struct kiln_df_keyvalue *pairs;
            size_t n_pairs;
        };
        struct { /* ARG */
            struct kiln_df_argdef *args;
            size_t n_args;
        };
        /* EXPOSE (sorted as BuildKit sorts them; [expanded] and split),
         * VOLUME ([expanded]), SHELL */
        struct kiln_strv words;
        /* USER, WORKDIR, STOPSIGNAL ([expanded]); MAINTAINER */
        char *value;
    };
};

struct kiln_df_stage {
    struct kiln_df_from from;
    char *original; /* the FROM line */
    unsigned start_line, end_line;
    struct kiln_df_instruction *instructions;
    size_t n_instructions;
    size_t alloc_instructions;
};

/* A whole Dockerfile: BuildKit's instructions.Parse result. */
struct kiln_df_instructions {
    char escape;                           /* the escape token the file uses */
    struct kiln_df_instruction *meta_args; /* the ARGs before the first FROM */
    size_t n_meta_args;
    struct kiln_df_stage *stages;
    size_t n_stages;
    size_t alloc_meta_args, alloc_stages;
};

/*
 * Types every instruction of `ast`, groups them into stages and collects the
 * meta args. On success *ret owns the result (kiln_df_instructions_free); it
 * copies what it keeps, so the ast may be freed first. Errors:
 * KILN_E_INVALID with err->line at the instruction, the message starting with
 * the instruction ("COPY: unknown flag --frm (did you mean --from?)").
 */
int kiln_df_instructions_parse(const struct kiln_df_ast *ast, struct kiln_df_instructions **ret,
                               struct kiln_error **err);

/*
 * Types one node (an ONBUILD trigger at conversion, say); `escape` is the
 * file's escape token. On success *ret (kiln_df_instruction_free) owns a copy.
 * Errors as kiln_df_instructions_parse().
 */
int kiln_df_instruction_parse(const struct kiln_df_node *node, char escape,
                              struct kiln_df_instruction **ret, struct kiln_error **err);

void kiln_df_instruction_free(struct kiln_df_instruction *ins);
void kiln_df_instructions_free(struct kiln_df_instructions *file);
KILN_DEFINE_CLEANUP(struct kiln_df_instruction, kiln_df_instruction_free)
KILN_DEFINE_CLEANUP(struct kiln_df_instructions, kiln_df_instructions_free)

/* "RUN", "COPY", ...: the instruction's name as the Dockerfile reference spells it. */
const char *kiln_df_kind_name(enum kiln_df_kind kind);
/* "bind", "cache", ...; "shared", ...; "default", ...; "sandbox", ... */
const char *kiln_df_mount_type_name(enum kiln_df_mount_type type);
const char *kiln_df_sharing_name(enum kiln_df_mount_sharing sharing);
const char *kiln_df_network_name(enum kiln_df_network network);
const char *kiln_df_security_name(enum kiln_df_security security);

/*
 * Expands one word as conversion does (shell-word rules, current env). On
 * success *ret is a new string the caller frees.
 */
typedef int kiln_df_expand_fn(void *userdata, const char *word, char **ret,
                              struct kiln_error **err);

/*
 * BuildKit's parseMount: the CSV `spec` of a --mount (Go encoding/csv rules)
 * to a typed mount with the defaults filled in. Each value goes through
 * `expand` first; with expand NULL values are taken as written. On success
 * *ret (kiln_df_mount_free) is the mount. Errors: KILN_E_INVALID with a
 * message naming the option at fault (no line: the caller knows it).
 */
int kiln_df_mount_parse(const char *spec, kiln_df_expand_fn *expand, void *userdata,
                        struct kiln_df_mount **ret, struct kiln_error **err);
void kiln_df_mount_free(struct kiln_df_mount *m);
KILN_DEFINE_CLEANUP(struct kiln_df_mount, kiln_df_mount_free)

/*
 * Whether shell-word processing (with no variable set) would change `word`
 * or fail on it: it holds a variable, a quote or the escape token.
 * Conversion expands only such words; COPY --from rejects them.
 */
bool kiln_df_word_expands(const char *word, char escape);

/* ---- internal to src/dockerfile (instructions.c and instr-*.c), not API ---- */

enum kiln_df__flag_type {
    KILN_DF__FLAG_BOOL,
    KILN_DF__FLAG_STRING,
    KILN_DF__FLAG_LIST, /* repeatable string */
};

/* One flag an instruction accepts; `hint` names its value for messages. */
struct kiln_df__flag_spec {
    const char *name; /* without "--" */
    enum kiln_df__flag_type type;
    const char *hint; /* "STAGE", "true|false", ... */
};

/* A parsed flag: `value` points into the node (bool: "true"/"false"). */
struct kiln_df__flag {
    bool set;
    const char *value;
    struct kiln_strv list; /* LIST: every value, in order (caller releases) */
};

/* What an instruction parser sees. */
struct kiln_df__req {
    const struct kiln_df_node *node;
    const char *name; /* "COPY": for messages */
    char escape;
};

/*
 * BuildKit's BFlags.Parse over node->flags for the `n` specs; out[i] gets
 * spec i. Errors: KILN_E_INVALID with the line and an actionable message.
 */
int kiln_df__flags_parse(const struct kiln_df__req *rq, const struct kiln_df__flag_spec *specs,
                         size_t n, struct kiln_df__flag *out, struct kiln_error **err);
void kiln_df__flags_release(struct kiln_df__flag *flags, size_t n);

/*
 * BuildKit's ProcessWord of `word` over an empty environment: 1 when it
 * changes the word, 0 when not, the lexer's error (KILN_E_INVALID or
 * KILN_E_LIMIT) when it cannot process it.
 */
int kiln_df__word_changes(const char *word, char escape, struct kiln_error **err);

/* Fails the instruction: "NAME: message" at its start line. Returns KILN_E_INVALID. */
int kiln_df__fail(const struct kiln_df__req *rq, struct kiln_error **err, const char *fmt, ...)
        _printf_(3, 4);

/* The closest of `options` to `word` within edit distance 2 (BuildKit's suggest), or NULL. */
const char *kiln_df__suggest(const char *word, const char *const *options, size_t n,
                             bool case_sensitive);

/* go-csvvalue Fields: one CSV record (Go encoding/csv quoting) split into fields. */
int kiln_df__csv_fields(const char *s, struct kiln_strv *ret, struct kiln_error **err);

/* Go's value syntax; each returns 0, or a negative number when s is invalid. */
int kiln_df__go_bool(const char *s, bool *ret);                      /* strconv.ParseBool */
int kiln_df__go_uint32(const char *s, unsigned base, uint32_t *ret); /* ParseUint(s, b, 32) */
int kiln_df__go_int32(const char *s, int32_t *ret);     /* ParseInt(s, 10, 32): -2 out of range */
int kiln_df__go_duration(const char *s, int64_t *ret);  /* time.ParseDuration, nanoseconds */
int kiln_df__go_ram_bytes(const char *s, int64_t *ret); /* go-units RAMInBytes */

/* Per-instruction parsers (instr-*.c): on success they fill the union of `ins`. */
int kiln_df__parse_from(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                        struct kiln_error **err);
int kiln_df__parse_run(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                       struct kiln_error **err);
int kiln_df__parse_copy(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                        struct kiln_error **err);
int kiln_df__parse_cmd(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                       struct kiln_error **err);
int kiln_df__parse_keyvalue(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                            struct kiln_error **err);
int kiln_df__parse_arg(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                       struct kiln_error **err);
int kiln_df__parse_expose(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                          struct kiln_error **err);
int kiln_df__parse_volume(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                          struct kiln_error **err);
int kiln_df__parse_shell(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                         struct kiln_error **err);
int kiln_df__parse_single(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                          struct kiln_error **err);
int kiln_df__parse_healthcheck(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                               struct kiln_error **err);
int kiln_df__parse_onbuild(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                           struct kiln_error **err);

/* RUN, CMD, ENTRYPOINT: BuildKit's parseShellDependentCommand. */
void kiln_df__cmdline_init(const struct kiln_df_node *node, struct kiln_df_cmdline *ret);

/* Releases what the parsers above put into the instruction's union. */
void kiln_df__cmdline_release(struct kiln_df_cmdline *c);
void kiln_df__run_release(struct kiln_df_run *run);
void kiln_df__copy_release(struct kiln_df_copy *c);
