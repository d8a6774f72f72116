/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin.h - `kilnd admin`: accounts, members, builders, tokens and public
 * repositories in DATA/kilnd.db, usable while kilnd serves from the same
 * data directory (docs/internals/server-identity.md).
 *
 * Exit codes: 0 done, 1 failed, 2 usage (a bad argument, option or value).
 */
#pragma once

#include <getopt.h>
#include <stddef.h>

#include "base/error.h"
#include "base/strv.h"

struct kilnd_db;

#define KILND_DATA_DEFAULT "/var/lib/kilnd"
#define KILND_ADMIN_OPTS   8 /* options one verb takes at most */

/* `kilnd admin ...`: argv[0] is "admin". Returns the exit code. */
int kilnd_admin_main(int argc, char **argv);

/*
 * The registry token service's commands (registry-config.c, signing.c):
 * `kilnd admin [--data DIR] registry-config ...` and `... signing-key ...`;
 * argv[0] is the command's name. They return the exit code.
 */
int kilnd_admin_registry_config(const char *data_dir, int argc, char **argv);
int kilnd_admin_signing_key(const char *data_dir, int argc, char **argv);

/* One verb of a command group ("builder create"). */
struct kilnd_admin_args {
    char **pos; /* the positional arguments */
    int n_pos;
    const char *opt[KILND_ADMIN_OPTS]; /* option values by their `val`; a repeated one is joined by
                                          ',' */
    struct kiln_strv joined;           /* storage of joined values */
};

struct kilnd_admin_verb {
    const char *name;
    const char *usage; /* the arguments after the verb */
    const char *help;  /* what it does, options explained */
    int min_args, max_args;
    const struct option *options; /* val: the index into opt[]; NULL: none */
    int (*run)(struct kilnd_db *db, const struct kilnd_admin_args *a);
};

/*
 * Runs `GROUP VERB ...` (argv[0] is GROUP) from verbs on the database of
 * data_dir (created, with the directory, when missing). Handles --help and
 * usage errors. Returns the exit code.
 */
int kilnd_admin_dispatch(const char *data_dir, const struct kilnd_admin_verb *verbs, size_t n,
                         int argc, char **argv);

/* Prints "kilnd admin: MESSAGE" and returns the exit code for r (2 for invalid input, else 1). */
int kilnd_admin_fail(int r, const struct kiln_error *e);

/* Prints rows of n_cols cells (the first row the header) as aligned columns. */
void kilnd_admin_table(const struct kiln_strv *cells, size_t n_cols);

/* admin-tokens.c: `kilnd admin token create|ls|revoke`. */
int kilnd_admin_token(const char *data_dir, int argc, char **argv);
