/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builders.h - an account's builders: each a name, a time limit per build,
 * the platforms it builds, how many builds run at once, its cache's size
 * limit and the entitlements it grants (docs/internals/server-identity.md).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strv.h"

struct kilnd_db;

#define KILND_BUILDER_NAME_MAX        63 /* [a-z0-9][a-z0-9._-]{0,62} */
#define KILND_BUILDER_TIMEOUT_DEFAULT 5400
#define KILND_BUILDER_TIMEOUT_MAX     (7 * 86400)
#define KILND_BUILDER_PLATFORMS       "linux/amd64,linux/arm64"
#define KILND_BUILDER_PLATFORMS_MAX   32
#define KILND_BUILDER_CONCURRENCY     4
#define KILND_BUILDER_CONCURRENCY_MAX 256
#define KILND_BUILDER_CACHE_MAX       20000000000ULL /* 20 GB */
#define KILND_BUILDERS_LIST_MAX       10000          /* rows one list returns at most */

struct kilnd_builder {
    char *account, *name;
    int64_t timeout_s;
    struct kiln_strv platforms; /* normalised, "os/arch[/variant]" */
    int concurrency;
    uint64_t cache_max;      /* bytes */
    bool allow_network_host; /* the network.host entitlement: builds may run RUN --network=host */
};

/* A builder spec with the defaults; the caller sets account and name. */
void kilnd_builder_init(struct kilnd_builder *b);
void kilnd_builder_release(struct kilnd_builder *b);
/* Releases and frees b (NULL is fine). */
void kilnd_builder_free(struct kilnd_builder *b);
KILN_DEFINE_CLEANUP(struct kilnd_builder, kilnd_builder_free)

/*
 * Parses "ACCOUNT/NAME" into ret_account and ret_name (the caller frees
 * both). KILN_E_INVALID naming what is wrong.
 */
int kilnd_builder_ref_parse(const char *ref, char **ret_account, char **ret_name,
                            struct kiln_error **err);

/*
 * Parses a comma list of platforms, normalised and without duplicates, into
 * ret (the caller's, released on failure). KILN_E_INVALID naming the bad one.
 */
int kilnd_builder_platforms_parse(const char *list, struct kiln_strv *ret, struct kiln_error **err);

/*
 * Adds builder b. KILN_E_INVALID for a bad name or setting, KILN_E_NOTFOUND
 * when the account does not exist, KILN_E_CONFLICT when the builder does.
 */
int kilnd_builder_create(struct kilnd_db *db, const struct kilnd_builder *b,
                         struct kiln_error **err);

/*
 * Replaces the settings of builder b (b->account, b->name) with b's.
 * KILN_E_INVALID for a bad setting, KILN_E_NOTFOUND naming it. Builds
 * created afterwards get the new settings.
 */
int kilnd_builder_update(struct kilnd_db *db, const struct kilnd_builder *b,
                         struct kiln_error **err);

/* Builder ACCOUNT/NAME into *ret (the caller frees). KILN_E_NOTFOUND naming it. */
int kilnd_builder_get(struct kilnd_db *db, const char *account, const char *name,
                      struct kilnd_builder **ret, struct kiln_error **err);

/*
 * The builders of `account` (every account's when NULL), sorted by account
 * and name: *ret an array of *ret_n builders (kilnd_builder_list_free).
 */
int kilnd_builder_list(struct kilnd_db *db, const char *account, struct kilnd_builder **ret,
                       size_t *ret_n, struct kiln_error **err);
void kilnd_builder_list_free(struct kilnd_builder *list, size_t n);

/*
 * Removes builder ACCOUNT/NAME. KILN_E_NOTFOUND naming it, KILN_E_CONFLICT
 * while builds of it are uploading, queued or running.
 */
int kilnd_builder_remove(struct kilnd_db *db, const char *account, const char *name,
                         struct kiln_error **err);
