/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scopes.c - token scopes: validation, what they grant, public repositories.
 */
#include "scopes.h"

#include <string.h>

#include "accounts.h"
#include "base/alloc.h"
#include "db.h"
#include "tokens.h"

#include "base/banned.h"

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*, n bytes. */
static bool component_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (!alnum(s[i]))
            return false;
        while (i < n && alnum(s[i]))
            i++;
        if (i == n)
            return true;
        size_t sep = i;
        if (s[i] == '-') {
            while (i < n && s[i] == '-')
                i++;
        } else if (s[i] == '_' && i + 1 < n && s[i + 1] == '_') {
            i += 2;
        } else if (s[i] == '.' || s[i] == '_') {
            i++;
        } else {
            return false;
        }
        if (i == n || i == sep)
            return false;
    }
    return n > 0;
}

bool kilnd_repo_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > KILND_REPO_NAME_MAX)
        return false;
    for (const char *p = name;;) {
        size_t n = strcspn(p, "/");
        if (!component_valid(p, n))
            return false;
        if (!p[n])
            return true;
        p += n + 1;
    }
}

/* A prefix ending in '*': characters a repository path may hold, no "//", no leading '/'. */
static bool prefix_valid(const char *s, size_t n)
{
    if (n > KILND_REPO_NAME_MAX || (n > 0 && s[0] == '/'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(alnum(s[i]) || strchr("._-/", s[i])) || (s[i] == '/' && i > 0 && s[i - 1] == '/'))
            return false;
    return true;
}

static bool pattern_valid(const char *s, size_t n)
{
    if (n > 0 && s[n - 1] == '*')
        return prefix_valid(s, n - 1);
    _cleanup_free_ char *name = kiln_xstrndup(s, n);
    return kilnd_repo_name_valid(name);
}

/* "repo:NAME:ACTION" split at its last ':'; false when s is not of that form. */
static bool split_repo(const char *s, const char **ret_name, size_t *ret_n, const char **ret_act)
{
    if (strncmp(s, "repo:", 5) != 0)
        return false;
    const char *colon = strrchr(s, ':');
    if (colon < s + 5)
        return false;
    *ret_name = s + 5;
    *ret_n = (size_t)(colon - (s + 5));
    *ret_act = colon + 1;
    return true;
}

bool kilnd_scope_valid(const char *s)
{
    if (strcmp(s, KILND_SCOPE_CONNECT) == 0 || strcmp(s, KILND_SCOPE_PUBLIC_READ) == 0)
        return true;
    const char *name, *act;
    size_t n;
    if (!split_repo(s, &name, &n, &act))
        return false;
    return (strcmp(act, "pull") == 0 || strcmp(act, "push") == 0) && pattern_valid(name, n);
}

int kilnd_scopes_parse(const char *list, struct kiln_strv *ret, struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv v = KILN_STRV_INIT;
    for (const char *p = list;;) {
        size_t n = strcspn(p, ",");
        _cleanup_free_ char *s = kiln_xstrndup(p, n);
        if (!kilnd_scope_valid(s))
            return kiln_error_set(err, KILN_E_INVALID,
                                  "invalid scope '%s': use cloud-connect, repo:public-read, "
                                  "repo:NAME:pull or repo:NAME:push (NAME may end in '*')",
                                  s);
        if (kiln_strv_find(&v, s) < 0) {
            if (v.n == KILND_SCOPES_MAX)
                return kiln_error_set(err, KILN_E_LIMIT, "more than %d scopes on one token",
                                      KILND_SCOPES_MAX);
            kiln_strv_take(&v, TAKE_PTR(s));
        }
        if (!p[n])
            break;
        p += n + 1;
    }
    kiln_strv_release(ret);
    *ret = v;
    v = (struct kiln_strv)KILN_STRV_INIT;
    return 0;
}

bool kilnd_scopes_have(const struct kiln_strv *scopes, const char *scope)
{
    return kiln_strv_find(scopes, scope) >= 0;
}

static bool pattern_match(const char *pat, size_t n, const char *repo)
{
    if (n > 0 && pat[n - 1] == '*')
        return strncmp(repo, pat, n - 1) == 0;
    return strlen(repo) == n && memcmp(repo, pat, n) == 0;
}

unsigned kilnd_scopes_repo_actions(const struct kiln_strv *scopes, const char *repo, bool is_public)
{
    unsigned actions = 0;
    if (!kilnd_repo_name_valid(repo))
        return 0;
    for (size_t i = 0; i < scopes->n; i++) {
        const char *s = scopes->v[i], *name, *act;
        size_t n;
        if (strcmp(s, KILND_SCOPE_PUBLIC_READ) == 0) {
            if (is_public)
                actions |= KILND_ACTION_PULL;
            continue;
        }
        if (!split_repo(s, &name, &n, &act) || !pattern_match(name, n, repo))
            continue;
        if (strcmp(act, "push") == 0)
            actions |= KILND_ACTION_PUSH | KILND_ACTION_PULL;
        else if (strcmp(act, "pull") == 0)
            actions |= KILND_ACTION_PULL;
    }
    return actions;
}

unsigned kilnd_principal_repo_actions(struct kilnd_db *db, const struct kilnd_principal *p,
                                      const char *repo)
{
    bool is_public = false;
    if (kilnd_scopes_have(&p->scopes, KILND_SCOPE_PUBLIC_READ))
        is_public = kilnd_repo_is_public(db, repo, NULL) > 0;
    return kilnd_scopes_repo_actions(&p->scopes, repo, is_public);
}

int kilnd_principal_can_connect(struct kilnd_db *db, const struct kilnd_principal *p,
                                const char *account, struct kiln_error **err)
{
    if (!kilnd_scopes_have(&p->scopes, KILND_SCOPE_CONNECT))
        return kiln_error_set(err, KILN_E_DENIED,
                              "token lacks scope cloud-connect: create a token with --scope "
                              "cloud-connect");
    if (strcmp(p->name, account) == 0)
        return 0;
    if (p->is_org)
        return kiln_error_set(err, KILN_E_DENIED,
                              "token %s belongs to organisation %s and cannot use the builders "
                              "of %s",
                              p->token_id, p->name, account);
    int r = kilnd_member_is(db, account, p->name, err);
    if (r < 0)
        return r;
    if (r == 0)
        return kiln_error_set(err, KILN_E_DENIED,
                              "token's owner %s is not a member of %s: ask an administrator to "
                              "run kilnd admin org add-member %s %s",
                              p->name, account, account, p->name);
    return 0;
}

int kilnd_repo_set_public(struct kilnd_db *db, const char *name, bool public,
                          struct kiln_error **err)
{
    if (!kilnd_repo_name_valid(name))
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid repository '%s': write a path such as acme/app", name);
    int r = public ? kilnd_db_run(db, "INSERT OR IGNORE INTO public_repos (name) VALUES (?)", "t",
                                  err, name)
                   : kilnd_db_run(db, "DELETE FROM public_repos WHERE name = ?", "t", err, name);
    return r < 0 ? r : 0;
}

int kilnd_repo_is_public(struct kilnd_db *db, const char *name, struct kiln_error **err)
{
    _cleanup_(kilnd_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kilnd_db_prepare(db, "SELECT 1 FROM public_repos WHERE name = ?", "t", &st, err, name);
    return r < 0 ? r : kilnd_db_step(st, err);
}
