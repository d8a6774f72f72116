/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scopes.h - what an access token allows: its scopes, checked when it is
 * made and when it is used, and the repositories marked public
 * (docs/internals/server-identity.md, docs/internals/cloud-api.md).
 *
 *   cloud-connect       use the builders of the token's account (a personal
 *                       token: the user's and those of the user's organisations)
 *   repo:public-read    pull repositories marked public
 *   repo:NAME:pull      pull NAME
 *   repo:NAME:push      push and pull NAME
 *
 * NAME is a repository path ("acme/app") or a prefix of one ending in '*'
 * ("acme/" followed by a star matches every repository under acme).
 */
#pragma once

#include <stdbool.h>

#include "base/error.h"
#include "base/strv.h"

struct kilnd_db;
struct kilnd_principal;

#define KILND_SCOPE_CONNECT     "cloud-connect"
#define KILND_SCOPE_PUBLIC_READ "repo:public-read"
#define KILND_SCOPES_MAX        64  /* scopes on one token */
#define KILND_REPO_NAME_MAX     255 /* distribution's limit on a repository path */

#define KILND_ACTION_PULL 1u
#define KILND_ACTION_PUSH 2u

/*
 * Whether name is a repository path as distribution's reference grammar has
 * it: components of [a-z0-9] runs joined by '.', '_', '__' or '-'s,
 * separated by '/', at most KILND_REPO_NAME_MAX characters.
 */
bool kilnd_repo_name_valid(const char *name);

/* Whether s is one valid scope. */
bool kilnd_scope_valid(const char *s);

/*
 * Parses a comma list of scopes (a repeated scope counts once) into ret (the
 * caller's; untouched on failure). KILN_E_INVALID naming the bad scope,
 * KILN_E_LIMIT past KILND_SCOPES_MAX.
 */
int kilnd_scopes_parse(const char *list, struct kiln_strv *ret, struct kiln_error **err);

/* Whether scopes hold `scope` exactly. */
bool kilnd_scopes_have(const struct kiln_strv *scopes, const char *scope);

/*
 * The actions (KILND_ACTION_PULL | KILND_ACTION_PUSH) `scopes` grant on
 * repository `repo`, marked public or not: push implies pull; public-read
 * grants pull on public repositories. Pure.
 */
unsigned kilnd_scopes_repo_actions(const struct kiln_strv *scopes, const char *repo,
                                   bool is_public);

/* kilnd_scopes_repo_actions() for p's scopes, looking up whether repo is public. */
unsigned kilnd_principal_repo_actions(struct kilnd_db *db, const struct kilnd_principal *p,
                                      const char *repo);

/*
 * Whether p may use the builders of `account`: 0, or KILN_E_DENIED naming
 * what is missing (the scope, or the membership).
 */
int kilnd_principal_can_connect(struct kilnd_db *db, const struct kilnd_principal *p,
                                const char *account, struct kiln_error **err);

/* Marks repository name public (anonymous and repo:public-read pull) or private. */
int kilnd_repo_set_public(struct kilnd_db *db, const char *name, bool public,
                          struct kiln_error **err);
/* 1 when repository name is public, 0 when not, negative on a database failure. */
int kilnd_repo_is_public(struct kilnd_db *db, const char *name, struct kiln_error **err);
