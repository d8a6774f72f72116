/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin-tokens.c - `kilnd admin token create|ls|revoke`. The token itself
 * is printed once, by create, alone on the last line of stdout.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "admin.h"
#include "base/alloc.h"
#include "base/human.h"
#include "db.h"
#include "tokens.h"

#include "base/banned.h"

enum { OPT_SCOPE, OPT_EXPIRES, OPT_DESCRIPTION };

static void format_time(int64_t t, char out[32])
{
    if (t == 0) {
        snprintf(out, 32, "never");
        return;
    }
    struct tm tm;
    time_t tt = (time_t)t;
    strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&tt, &tm));
}

static char *scopes_text(const struct kiln_strv *v)
{
    char *s = kiln_xstrdup("");
    for (size_t i = 0; i < v->n; i++) {
        char *t = kiln_xasprintf("%s%s%s", s, i ? "," : "", v->v[i]);
        free(s);
        s = t;
    }
    return s;
}

static int token_create(struct kilnd_db *db, const struct kilnd_admin_args *a)
{
    const char *expires = a->opt[OPT_EXPIRES];
    int64_t ttl = 0;
    if (!a->opt[OPT_SCOPE]) {
        fprintf(stderr, "kilnd admin: token create needs --scope (cloud-connect, "
                        "repo:public-read, repo:NAME:pull, repo:NAME:push)\n");
        return 2;
    }
    if (expires && (kiln_parse_duration(expires, &ttl) < 0 || ttl <= 0)) {
        fprintf(stderr,
                "kilnd admin: invalid --expires '%s': write a duration such as 30d or 12h\n",
                expires);
        return 2;
    }
    struct kiln_error *e = NULL;
    struct kilnd_token_info t;
    char *token = NULL;
    int r = kilnd_token_create(db, a->pos[0], a->opt[OPT_SCOPE], a->opt[OPT_DESCRIPTION],
                               ttl ? kilnd_db_now() + ttl : 0, &t, &token, &e);
    if (r < 0) {
        int code = kilnd_admin_fail(r, e);
        kiln_error_free(e);
        return code;
    }
    char until[32];
    format_time(t.expires, until);
    _cleanup_free_ char *scopes = scopes_text(&t.scopes);
    printf("id:          %s\n"
           "owner:       %s (%s)\n"
           "scopes:      %s\n"
           "expires:     %s\n",
           t.id, t.owner, t.is_org ? "organisation token" : "personal token", scopes, until);
    if (*t.description)
        printf("description: %s\n", t.description);
    fflush(stdout);
    fprintf(stderr, "the token follows; it is shown this once: store it now\n");
    printf("%s\n", token);
    OPENSSL_cleanse(token, strlen(token));
    free(token);
    kilnd_token_info_release(&t);
    return 0;
}

static const char *status(const struct kilnd_token_info *t, int64_t now)
{
    if (t->revoked)
        return "revoked";
    if (t->expires != 0 && t->expires <= now)
        return "expired";
    return "active";
}

static int token_ls(struct kilnd_db *db, const struct kilnd_admin_args *a)
{
    struct kiln_error *e = NULL;
    struct kilnd_token_info *list = NULL;
    size_t n = 0;
    int r = kilnd_token_list(db, a->pos[0], &list, &n, &e);
    if (r < 0) {
        int code = kilnd_admin_fail(r, e);
        kiln_error_free(e);
        return code;
    }
    static const char *const header[] = {"ID",      "KIND",      "SCOPES", "CREATED",
                                         "EXPIRES", "LAST USED", "STATUS", "DESCRIPTION"};
    _cleanup_strv_ struct kiln_strv cells = KILN_STRV_INIT;
    for (size_t i = 0; i < ELEMENTSOF(header); i++)
        kiln_strv_push(&cells, header[i]);
    int64_t now = kilnd_db_now();
    for (size_t i = 0; i < n; i++) {
        char created[32], expires[32], used[32];
        format_time(list[i].created, created);
        format_time(list[i].expires, expires);
        format_time(list[i].last_used, used);
        kiln_strv_push(&cells, list[i].id);
        kiln_strv_push(&cells, list[i].is_org ? "oat" : "pat");
        kiln_strv_take(&cells, scopes_text(&list[i].scopes));
        kiln_strv_push(&cells, created);
        kiln_strv_push(&cells, expires);
        kiln_strv_push(&cells, used);
        kiln_strv_push(&cells, status(&list[i], now));
        kiln_strv_push(&cells, list[i].description);
    }
    kilnd_admin_table(&cells, ELEMENTSOF(header));
    kilnd_token_list_free(list, n);
    return 0;
}

static int token_revoke(struct kilnd_db *db, const struct kilnd_admin_args *a)
{
    struct kiln_error *e = NULL;
    int r = kilnd_token_revoke(db, a->pos[0], &e);
    if (r < 0) {
        int code = kilnd_admin_fail(r, e);
        kiln_error_free(e);
        return code;
    }
    printf("revoked token %s\n", a->pos[0]);
    return 0;
}

static const struct option create_opts[] = {
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"expires", required_argument, NULL, OPT_EXPIRES},
        {"description", required_argument, NULL, OPT_DESCRIPTION},
        {0},
};

static const struct kilnd_admin_verb token_verbs[] = {
        {"create", "ACCOUNT-OR-USER --scope S[,S...] [--expires 30d] [--description TEXT]",
         "Creates an access token: a user's is personal (kiln_pat_...), an organisation's\n"
         "is the organisation's (kiln_oat_...). Prints what it made, then the token alone\n"
         "on the last line. The token is shown only this once: kilnd keeps its hash.\n\n"
         "  --scope S[,S...]     what it allows (repeatable):\n"
         "                         cloud-connect      use the account's builders\n"
         "                         repo:public-read   pull repositories marked public\n"
         "                         repo:NAME:pull     pull NAME (NAME may end in '*')\n"
         "                         repo:NAME:push     push and pull NAME\n"
         "  --expires DURATION   lifetime (30d, 12h, 90m; default: never expires)\n"
         "  --description TEXT   what it is for, shown by token ls\n",
         1, 1, create_opts, token_create},
        {"ls", "OWNER",
         "Lists the tokens of user or organisation OWNER (never the tokens themselves).\n", 1, 1,
         NULL, token_ls},
        {"revoke", "ID", "Revokes token ID: it is refused from now on.\n", 1, 1, NULL,
         token_revoke},
};

int kilnd_admin_token(const char *data_dir, int argc, char **argv)
{
    return kilnd_admin_dispatch(data_dir, token_verbs, ELEMENTSOF(token_verbs), argc, argv);
}
