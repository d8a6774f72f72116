/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shell.h - variable expansion exactly as BuildKit's Dockerfile lexer
 * (frontend/dockerfile/shell): $V, ${V}, ${V:-w} ${V-w} ${V:+w} ${V+w}
 * ${V:?m} ${V?m}, ${V#p} ${V##p} ${V%p} ${V%%p}, ${V/p/r} ${V//p/r}, quotes,
 * escapes, and the word splitting of ProcessWords.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/strv.h"

/* An environment: names and their values; a name absent here is unset. */
struct kiln_shell_env {
    struct kiln_strv names;
    struct kiln_strv values; /* values.v[i] belongs to names.v[i] */
};

#define KILN_SHELL_ENV_INIT            \
    {                                  \
        KILN_STRV_INIT, KILN_STRV_INIT \
    }

/* Sets name to value (copies both), replacing an earlier value. */
void kiln_shell_env_set(struct kiln_shell_env *env, const char *name, const char *value);
/*
 * Adds "NAME=value" entries as BuildKit's EnvsFromSlice: split at the first
 * '=', an entry without '=' sets NAME to "", a later entry wins.
 */
void kiln_shell_env_add_entries(struct kiln_shell_env *env, char *const *entries, size_t n);
/* The value of name, or NULL when it is unset. env may be NULL (empty). */
const char *kiln_shell_env_get(const struct kiln_shell_env *env, const char *name);
void kiln_shell_env_release(struct kiln_shell_env *env);

struct kiln_shell_options {
    char escape;              /* '\\' or '`' */
    bool raw_quotes;          /* keep quote characters in the result */
    bool raw_escapes;         /* keep escape tokens in the result */
    bool skip_process_quotes; /* quotes are ordinary characters */
    bool skip_unset_env;      /* leave references to unset names as written */
};

/* The names a word looked up: found (matched) and not found (unmatched). */
struct kiln_shell_matches {
    struct kiln_strv matched;
    struct kiln_strv unmatched;
};

/*
 * ProcessWord: expands `word` into one string (*ret, caller frees). When
 * matches is not NULL the names looked up are added to it (each once).
 * Errors: KILN_E_INVALID (bad substitution, unmatched quote, ${V:?m} on an
 * unset V, ...: "failed to process "WORD": REASON"), KILN_E_LIMIT (nesting
 * deeper than KILN_EXPAND_DEPTH_MAX, a result over KILN_EXPAND_RESULT_MAX, a
 * pattern match too costly to decide).
 */
int kiln_shell_process_word(const char *word, const struct kiln_shell_env *env,
                            const struct kiln_shell_options *opt, char **ret,
                            struct kiln_shell_matches *matches, struct kiln_error **err);

/*
 * ProcessWords: expands `word` and appends its words to ret: split at white
 * space that is neither quoted nor escaped, including white space produced
 * by an unquoted expansion. Errors as kiln_shell_process_word().
 */
int kiln_shell_process_words(const char *word, const struct kiln_shell_env *env,
                             const struct kiln_shell_options *opt, struct kiln_strv *ret,
                             struct kiln_error **err);
