/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builders.h - the builders kiln knows (buildx's builder instances) and the
 * kilnd servers it logged in to, in $XDG_CONFIG_HOME/kiln/builders.json
 * (default ~/.config/kiln; mode 0600, replaced atomically):
 *
 *   {"current": "cloud-acme-app",
 *    "builders": {"cloud-acme-app": {"driver": "cloud",
 *                                    "endpoint": "http://127.0.0.1:8080",
 *                                    "builder": "acme/app"}},
 *    "servers": {"127.0.0.1:8080": {"endpoint": "http://127.0.0.1:8080",
 *                                   "logged_in": 1700000000}}}
 *
 * The builder `default` (driver `local`: the engine in this process) always
 * exists without being stored, and cannot be removed.
 */
#pragma once

#include "base/cleanup.h"
#include "base/error.h"
#include "base/strv.h"

/* Caps on the builders file, which a user may edit by hand. */
#define KILN_BUILDERS_FILE_MAX (4u * 1024 * 1024)
#define KILN_BUILDERS_MAX      1000u /* builders, and servers */
#define KILN_BUILDER_NAME_MAX  64u   /* a builder's name, an account's, a cloud builder's */

#define KILN_BUILDER_DEFAULT "default"

struct kiln_builder_entry {
    char *name;
    char *driver;   /* "local" or "cloud" */
    char *endpoint; /* cloud: kilnd's URL ("http://127.0.0.1:8080"); local: NULL */
    char *builder;  /* cloud: "ACCOUNT/NAME" on kilnd; local: NULL */
};

void kiln_builder_entry_free(struct kiln_builder_entry *b);
KILN_DEFINE_CLEANUP(struct kiln_builder_entry, kiln_builder_entry_free)

/*
 * The builder a command runs on: `flag` (--builder) when not NULL, else
 * $KILN_BUILDER, else $BUILDX_BUILDER, else the current one, else
 * `default`. *ret is the caller's. KILN_E_NOTFOUND "no builder named X: kiln
 * ls lists them"; errors of kiln_builders_load().
 */
int kiln_builder_select(const char *flag, struct kiln_builder_entry **ret, struct kiln_error **err);

/*
 * A builder name as buildx takes them: a letter, then letters, digits, '.',
 * '_', '-', at most KILN_BUILDER_NAME_MAX. KILN_E_INVALID saying so.
 */
int kiln_builder_name_check(const char *name, struct kiln_error **err);

/*
 * A cloud builder's "ACCOUNT/NAME": two parts of letters, digits, '.', '_',
 * '-' (not "." or ".."), each at most KILN_BUILDER_NAME_MAX. KILN_E_INVALID.
 */
int kiln_builder_ref_check(const char *ref, struct kiln_error **err);

/* buildx's name for a cloud builder: "cloud-ACCOUNT-NAME", lower case. Caller frees. */
char *kiln_builder_default_name(const char *ref);

/* The builders file, loaded. */
struct kiln_builders;

/* $XDG_CONFIG_HOME/kiln/builders.json, else ~/.config/kiln/builders.json. Caller frees. */
int kiln_builders_path(char **ret, struct kiln_error **err);

/*
 * Loads the file at `path` (NULL: kiln_builders_path()); a missing file is
 * an empty one. *ret is the caller's. KILN_E_INVALID naming the file and
 * the entry for a malformed file, KILN_E_LIMIT past the caps, -errno.
 */
int kiln_builders_load(const char *path, struct kiln_builders **ret, struct kiln_error **err);

/*
 * Writes bs back where it was loaded from: directory created 0700, the file
 * 0600 through a temporary file, fsynced and renamed. -errno naming the path.
 */
int kiln_builders_save(const struct kiln_builders *bs, struct kiln_error **err);

void kiln_builders_free(struct kiln_builders *bs);
KILN_DEFINE_CLEANUP(struct kiln_builders, kiln_builders_free)

/* The builder called `name` (`default` included). *ret is the caller's. KILN_E_NOTFOUND. */
int kiln_builders_get(const struct kiln_builders *bs, const char *name,
                      struct kiln_builder_entry **ret, struct kiln_error **err);

/* Every builder's name: `default` first, then the stored ones in the file's order. */
void kiln_builders_names(const struct kiln_builders *bs, struct kiln_strv *ret);

/* The current builder's name (`default` when none is). Borrowed from bs. */
const char *kiln_builders_current(const struct kiln_builders *bs);

/*
 * Stores a cloud builder (driver, endpoint and builder of e are checked).
 * KILN_E_CONFLICT when the name is taken (`default` always is),
 * KILN_E_INVALID, KILN_E_LIMIT past KILN_BUILDERS_MAX.
 */
int kiln_builders_add(struct kiln_builders *bs, const struct kiln_builder_entry *e,
                      struct kiln_error **err);

/*
 * Removes the builder `name`; the current one becomes `default` when it was
 * that one. KILN_E_INVALID for `default`, KILN_E_NOTFOUND.
 */
int kiln_builders_remove(struct kiln_builders *bs, const char *name, struct kiln_error **err);

/* Makes `name` the current builder. KILN_E_NOTFOUND. */
int kiln_builders_use(struct kiln_builders *bs, const char *name, struct kiln_error **err);

/*
 * Records the kilnd server at `endpoint` (a URL) under its host[:port],
 * logged in to at `now` (seconds since the epoch). KILN_E_LIMIT past
 * KILN_BUILDERS_MAX servers.
 */
int kiln_builders_add_server(struct kiln_builders *bs, const char *endpoint, long long now,
                             struct kiln_error **err);

/*
 * The endpoint of the server `kiln create` uses by default: the only one
 * recorded, or the one logged in to last. *ret is the caller's.
 * KILN_E_NOTFOUND "no kilnd server to create the builder on: kiln login
 * SERVER first, or give --endpoint SERVER".
 */
int kiln_builders_server(const struct kiln_builders *bs, char **ret, struct kiln_error **err);
