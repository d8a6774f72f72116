/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accounts.c - users, organisations and members in kilnd.db.
 */
#include "accounts.h"

#include <string.h>

#include "db.h"

#include "base/banned.h"

static const char *kind_name(enum kilnd_account_kind k)
{
    return k == KILND_ACCOUNT_ORG ? "org" : "user";
}

static const char *kind_word(enum kilnd_account_kind k)
{
    return k == KILND_ACCOUNT_ORG ? "an organisation" : "a user";
}

bool kilnd_account_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > KILND_ACCOUNT_NAME_MAX || name[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '-'))
            return false;
    return true;
}

int kilnd_account_kind(struct kilnd_db *db, const char *name, enum kilnd_account_kind *ret,
                       struct kiln_error **err)
{
    _cleanup_(kilnd_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kilnd_db_prepare(db, "SELECT kind FROM accounts WHERE name = ?", "t", &st, err, name);
    if (r >= 0)
        r = kilnd_db_step(st, err);
    if (r < 0)
        return r;
    if (r == 0)
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "no user or organisation '%s': create it with kilnd admin user "
                              "create or org create",
                              name);
    *ret = strcmp((const char *)sqlite3_column_text(st, 0), "org") == 0 ? KILND_ACCOUNT_ORG
                                                                        : KILND_ACCOUNT_USER;
    return 0;
}

int kilnd_account_create(struct kilnd_db *db, const char *name, enum kilnd_account_kind kind,
                         struct kiln_error **err)
{
    if (!kilnd_account_name_valid(name))
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid name '%s': use 1 to %d lower-case letters, digits and "
                              "'-', not starting with '-'",
                              name, KILND_ACCOUNT_NAME_MAX);
    int r = kilnd_db_run(db, "INSERT INTO accounts (name, kind, created) VALUES (?, ?, ?)", "tti",
                         err, name, kind_name(kind), kilnd_db_now());
    if (r == KILN_E_CONFLICT) {
        enum kilnd_account_kind have = KILND_ACCOUNT_USER;
        (void)kilnd_account_kind(db, name, &have, NULL);
        return kiln_error_set(err, KILN_E_CONFLICT, "the name '%s' is taken by %s", name,
                              kind_word(have));
    }
    return r < 0 ? r : 0;
}

static int expect_kind(struct kilnd_db *db, const char *name, enum kilnd_account_kind want,
                       struct kiln_error **err)
{
    enum kilnd_account_kind have;
    int r = kilnd_account_kind(db, name, &have, err);
    if (r < 0)
        return r;
    if (have != want)
        return kiln_error_set(err, KILN_E_INVALID, "'%s' is %s, not %s", name, kind_word(have),
                              kind_word(want));
    return 0;
}

int kilnd_member_add(struct kilnd_db *db, const char *org, const char *user,
                     struct kiln_error **err)
{
    int r = expect_kind(db, org, KILND_ACCOUNT_ORG, err);
    if (r >= 0)
        r = expect_kind(db, user, KILND_ACCOUNT_USER, err);
    if (r >= 0)
        r = kilnd_db_run(db, "INSERT INTO members (org, user) VALUES (?, ?)", "tt", err, org, user);
    if (r == KILN_E_CONFLICT)
        return kiln_error_set(err, KILN_E_CONFLICT, "'%s' is already a member of '%s'", user, org);
    return r < 0 ? r : 0;
}

int kilnd_member_is(struct kilnd_db *db, const char *org, const char *user, struct kiln_error **err)
{
    _cleanup_(kilnd_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kilnd_db_prepare(db, "SELECT 1 FROM members WHERE org = ? AND user = ?", "tt", &st, err,
                             org, user);
    return r < 0 ? r : kilnd_db_step(st, err);
}
