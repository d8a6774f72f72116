/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accounts.h - users and organisations (one namespace: a name is either),
 * and the members of organisations (docs/internals/server-identity.md).
 */
#pragma once

#include <stdbool.h>

#include "base/error.h"

struct kilnd_db;

#define KILND_ACCOUNT_NAME_MAX 39 /* [a-z0-9][a-z0-9-]{0,38} */

enum kilnd_account_kind {
    KILND_ACCOUNT_USER,
    KILND_ACCOUNT_ORG,
};

/* Whether name is a valid account name: [a-z0-9][a-z0-9-]{0,38}. */
bool kilnd_account_name_valid(const char *name);

/*
 * Creates user or organisation `name`. KILN_E_INVALID for a bad name,
 * KILN_E_CONFLICT when the name is taken (by either kind).
 */
int kilnd_account_create(struct kilnd_db *db, const char *name, enum kilnd_account_kind kind,
                         struct kiln_error **err);

/* The kind of account `name`. KILN_E_NOTFOUND naming it. */
int kilnd_account_kind(struct kilnd_db *db, const char *name, enum kilnd_account_kind *ret,
                       struct kiln_error **err);

/*
 * Makes user `user` a member of organisation `org`. KILN_E_NOTFOUND for a
 * missing account, KILN_E_INVALID when org is not an organisation or user
 * not a user, KILN_E_CONFLICT when already a member.
 */
int kilnd_member_add(struct kilnd_db *db, const char *org, const char *user,
                     struct kiln_error **err);

/* 1 when user is a member of org, 0 when not, negative on a database failure. */
int kilnd_member_is(struct kilnd_db *db, const char *org, const char *user,
                    struct kiln_error **err);
