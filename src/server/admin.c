/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin.c - `kilnd admin`: the command table, argument handling shared by
 * every verb, and the account, builder and repository commands (the token
 * commands are in admin-tokens.c).
 */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "accounts.h"
#include "base/alloc.h"
#include "base/human.h"
#include "builders.h"
#include "db.h"
#include "scopes.h"

#include "base/banned.h"

int kilnd_admin_fail(int r, const struct kiln_error *e)
{
    fprintf(stderr, "kilnd admin: %s\n", kiln_error_message(e, r));
    return r == KILN_E_INVALID ? 2 : 1;
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "kilnd admin: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return 2;
}

void kilnd_admin_table(const struct kiln_strv *cells, size_t n_cols)
{
    size_t width[16] = {0};
    for (size_t i = 0; i < cells->n && n_cols <= ELEMENTSOF(width); i++) {
        size_t n = strlen(cells->v[i]);
        if (n > width[i % n_cols])
            width[i % n_cols] = n;
    }
    for (size_t i = 0; i < cells->n; i++) {
        bool last = i % n_cols == n_cols - 1;
        if (last)
            printf("%s\n", cells->v[i]);
        else
            printf("%-*s   ", (int)width[i % n_cols], cells->v[i]);
    }
}

/* The data directory (made 0700 when missing) and its database. */
static int open_data(const char *data_dir, struct kilnd_db **ret)
{
    struct kiln_error *e = NULL;
    if (mkdir(data_dir, 0700) < 0 && errno != EEXIST) {
        int r = kiln_error_set_errno(&e, -errno, "create data directory '%s'", data_dir);
        return kilnd_admin_fail(r, e);
    }
    int r = kilnd_db_open(data_dir, ret, &e);
    if (r < 0) {
        int code = kilnd_admin_fail(r, e);
        kiln_error_free(e);
        return code;
    }
    return 0;
}

static void verb_usage(FILE *f, const char *group, const struct kilnd_admin_verb *v)
{
    fprintf(f, "usage: kilnd admin [--data DIR] %s %s %s\n", group, v->name, v->usage);
}

static void group_usage(FILE *f, const char *group, const struct kilnd_admin_verb *verbs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s kilnd admin [--data DIR] %s %s %s\n", i ? "      " : "usage:", group,
                verbs[i].name, verbs[i].usage);
}

static void take_option(struct kilnd_admin_args *a, int idx, const char *value)
{
    if (!a->opt[idx]) {
        a->opt[idx] = value;
        return;
    }
    char *joined = kiln_xasprintf("%s,%s", a->opt[idx], value);
    kiln_strv_take(&a->joined, joined);
    a->opt[idx] = joined;
}

/* Options and positional arguments of argv (argv[0] the verb); 1 for --help, 2 for a usage error.
 */
static int parse_args(const char *group, const struct kilnd_admin_verb *v, int argc, char **argv,
                      struct kilnd_admin_args *a)
{
    static const struct option none[] = {{0}};
    const struct option *defined = v->options ? v->options : none;
    size_t n_opts = 0;
    while (defined[n_opts].name)
        n_opts++;
    struct option *opts = kiln_xcalloc(n_opts + 2, sizeof(*opts));
    memcpy(opts, defined, n_opts * sizeof(*opts));
    opts[n_opts] = (struct option){"help", no_argument, NULL, 'h'};
    optind = 0;
    opterr = 0;
    int c, r = 0;
    while (r == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h')
            r = 1;
        else if (c == '?')
            r = usage_error("unknown option '%s': see --help", argv[optind - 1]);
        else if (c == ':')
            r = usage_error("option '%s' needs a value", argv[optind - 1]);
        else
            take_option(a, c, optarg);
    }
    free(opts);
    if (r != 0)
        return r;
    a->pos = argv + optind;
    a->n_pos = argc - optind;
    if (a->n_pos < v->min_args || a->n_pos > v->max_args) {
        fprintf(stderr, "kilnd admin: %s %s takes %s arguments\n", group, v->name,
                a->n_pos < v->min_args ? "more" : "fewer");
        verb_usage(stderr, group, v);
        return 2;
    }
    return 0;
}

int kilnd_admin_dispatch(const char *data_dir, const struct kilnd_admin_verb *verbs, size_t n,
                         int argc, char **argv)
{
    const char *group = argv[0];
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        group_usage(argc < 2 ? stderr : stdout, group, verbs, n);
        return argc < 2 ? 2 : 0;
    }
    const struct kilnd_admin_verb *v = NULL;
    for (size_t i = 0; i < n && !v; i++)
        if (strcmp(verbs[i].name, argv[1]) == 0)
            v = &verbs[i];
    if (!v) {
        fprintf(stderr, "kilnd admin: unknown command '%s %s'\n", group, argv[1]);
        group_usage(stderr, group, verbs, n);
        return 2;
    }
    struct kilnd_admin_args a = {.joined = KILN_STRV_INIT};
    int r = parse_args(group, v, argc - 1, argv + 1, &a);
    if (r == 1) {
        verb_usage(stdout, group, v);
        printf("\n%s", v->help);
        r = 0;
    } else if (r == 0) {
        _cleanup_(kilnd_db_closep) struct kilnd_db *db = NULL;
        r = open_data(data_dir, &db);
        if (r == 0)
            r = v->run(db, &a);
    }
    kiln_strv_release(&a.joined);
    return r;
}

/* Runs a library call's result through kilnd_admin_fail(), or prints `done` on success. */
static int report(int r, struct kiln_error *e, const char *done)
{
    int code = r < 0 ? kilnd_admin_fail(r, e) : 0;
    if (r >= 0 && done)
        printf("%s\n", done);
    kiln_error_free(e);
    return code;
}

static int org_create(struct kilnd_db *db, const struct kilnd_admin_args *a)
{
    struct kiln_error *e = NULL;
    int r = kilnd_account_create(db, a->pos[0], KILND_ACCOUNT_ORG, &e);
    _cleanup_free_ char *msg = kiln_xasprintf("created organisation %s", a->pos[0]);
    return report(r, e, msg);
}

static int org_add_member(struct kilnd_db *db, const struct kilnd_admin_args *a)
{
    struct kiln_error *e = NULL;
    int r = kilnd_member_add(db, a->pos[0], a->pos[1], &e);
    _cleanup_free_ char *msg = kiln_xasprintf("added %s to %s", a->pos[1], a->pos[0]);
    return report(r, e, msg);
}

static int user_create(struct kilnd_db *db, const struct kilnd_admin_args *a)
{
    struct kiln_error *e = NULL;
    int r = kilnd_account_create(db, a->pos[0], KILND_ACCOUNT_USER, &e);
    _cleanup_free_ char *msg = kiln_xasprintf("created user %s", a->pos[0]);
    return report(r, e, msg);
}

static int repo_set(const struct kilnd_admin_args *a, struct kilnd_db *db, bool public)
{
    struct kiln_error *e = NULL;
    int r = kilnd_repo_set_public(db, a->pos[0], public, &e);
    _cleanup_free_ char *msg = kiln_xasprintf("%s is %s", a->pos[0], public ? "public" : "private");
    return report(r, e, msg);
}

static int repo_set_public(struct kilnd_db *db, const struct kilnd_admin_args *a)
{
    return repo_set(a, db, true);
}

static int repo_set_private(struct kilnd_db *db, const struct kilnd_admin_args *a)
{
    return repo_set(a, db, false);
}

enum { OPT_TIMEOUT, OPT_PLATFORMS, OPT_CONCURRENCY, OPT_CACHE_MAX, OPT_ALLOW, OPT_DENY };

/* --allow / --deny ENTITLEMENT[,...]: network.host is the one a builder grants. */
static int entitlements(const char *flag, const char *list, bool grant, struct kilnd_builder *b,
                        struct kiln_error **err)
{
    for (const char *p = list;; p++) {
        size_t n = strcspn(p, ",");
        if (n != strlen("network.host") || strncmp(p, "network.host", n) != 0)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "invalid %s '%.*s': the entitlement a builder grants is "
                                  "network.host",
                                  flag, (int)n, p);
        b->allow_network_host = grant;
        p += n;
        if (!*p)
            return 0;
    }
}

static int builder_options(const struct kilnd_admin_args *a, struct kilnd_builder *b,
                           struct kiln_error **err)
{
    const char *t = a->opt[OPT_TIMEOUT], *c = a->opt[OPT_CONCURRENCY], *m = a->opt[OPT_CACHE_MAX];
    if (t && kiln_parse_duration(t, &b->timeout_s) < 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid --timeout '%s': write a duration such as 90m or 1h30m", t);
    if (c) {
        char *end = NULL;
        errno = 0;
        long n = strtol(c, &end, 10);
        if (errno || end == c || *end || n <= 0 || n > KILND_BUILDER_CONCURRENCY_MAX)
            return kiln_error_set(err, KILN_E_INVALID, "invalid --concurrency '%s': give 1 to %d",
                                  c, KILND_BUILDER_CONCURRENCY_MAX);
        b->concurrency = (int)n;
    }
    if (m && (kiln_parse_size(m, &b->cache_max) < 0 || b->cache_max == 0))
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid --cache-max '%s': write a size such as 20GB or 500MiB", m);
    if (a->opt[OPT_ALLOW] && a->opt[OPT_DENY])
        return kiln_error_set(err, KILN_E_INVALID, "--allow and --deny together: give one of them");
    int r = 0;
    if (a->opt[OPT_ALLOW])
        r = entitlements("--allow", a->opt[OPT_ALLOW], true, b, err);
    if (a->opt[OPT_DENY])
        r = entitlements("--deny", a->opt[OPT_DENY], false, b, err);
    if (r >= 0 && a->opt[OPT_PLATFORMS])
        r = kilnd_builder_platforms_parse(a->opt[OPT_PLATFORMS], &b->platforms, err);
    return r;
}

static void builder_cells(struct kiln_strv *cells, const struct kilnd_builder *b)
{
    char timeout[KILN_HUMAN_DURATION_MAX], size[KILN_HUMAN_SIZE_MAX];
    kiln_human_duration(b->timeout_s, timeout);
    kiln_human_size(b->cache_max, size);
    kiln_strv_take(cells, kiln_xasprintf("%s/%s", b->account, b->name));
    kiln_strv_push(cells, timeout);
    _cleanup_free_ char *platforms = NULL;
    for (size_t i = 0; i < b->platforms.n; i++) {
        char *p = kiln_xasprintf("%s%s%s", platforms ? platforms : "", i ? "," : "",
                                 b->platforms.v[i]);
        free(platforms);
        platforms = p;
    }
    kiln_strv_push(cells, platforms ? platforms : "");
    kiln_strv_take(cells, kiln_xasprintf("%d", b->concurrency));
    kiln_strv_push(cells, size);
    kiln_strv_push(cells, b->allow_network_host ? "network.host" : "-");
}

static const char *const builder_header[] = {"NAME",        "TIMEOUT",   "PLATFORMS",
                                             "CONCURRENCY", "CACHE MAX", "ALLOW"};

static void builder_table(const struct kilnd_builder *list, size_t n)
{
    _cleanup_strv_ struct kiln_strv cells = KILN_STRV_INIT;
    for (size_t i = 0; i < ELEMENTSOF(builder_header); i++)
        kiln_strv_push(&cells, builder_header[i]);
    for (size_t i = 0; i < n; i++)
        builder_cells(&cells, &list[i]);
    kilnd_admin_table(&cells, ELEMENTSOF(builder_header));
}

static int builder_create(struct kilnd_db *db, const struct kilnd_admin_args *a)
{
    struct kiln_error *e = NULL;
    struct kilnd_builder b;
    kilnd_builder_init(&b);
    int r = kilnd_builder_ref_parse(a->pos[0], &b.account, &b.name, &e);
    if (r >= 0)
        r = builder_options(a, &b, &e);
    if (r >= 0)
        r = kilnd_builder_create(db, &b, &e);
    if (r >= 0)
        builder_table(&b, 1);
    kilnd_builder_release(&b);
    return report(r, e, NULL);
}

static int builder_set(struct kilnd_db *db, const struct kilnd_admin_args *a)
{
    struct kiln_error *e = NULL;
    _cleanup_free_ char *account = NULL, *name = NULL;
    _cleanup_(kilnd_builder_freep) struct kilnd_builder *b = NULL;
    int r = kilnd_builder_ref_parse(a->pos[0], &account, &name, &e);
    if (r >= 0)
        r = kilnd_builder_get(db, account, name, &b, &e);
    if (r >= 0)
        r = builder_options(a, b, &e);
    if (r >= 0)
        r = kilnd_builder_update(db, b, &e);
    if (r >= 0)
        builder_table(b, 1);
    return report(r, e, NULL);
}

static int builder_ls(struct kilnd_db *db, const struct kilnd_admin_args *a)
{
    struct kiln_error *e = NULL;
    struct kilnd_builder *list = NULL;
    size_t n = 0;
    int r = kilnd_builder_list(db, a->n_pos ? a->pos[0] : NULL, &list, &n, &e);
    if (r >= 0) {
        builder_table(list, n);
        kilnd_builder_list_free(list, n);
    }
    return report(r, e, NULL);
}

static int builder_rm(struct kilnd_db *db, const struct kilnd_admin_args *a)
{
    struct kiln_error *e = NULL;
    _cleanup_free_ char *account = NULL, *name = NULL;
    int r = kilnd_builder_ref_parse(a->pos[0], &account, &name, &e);
    if (r >= 0)
        r = kilnd_builder_remove(db, account, name, &e);
    _cleanup_free_ char *msg = kiln_xasprintf(
            "removed builder %s (its cache stays under builders/%s in the data directory until "
            "you delete it)",
            a->pos[0], a->pos[0]);
    return report(r, e, msg);
}

static const struct option builder_create_opts[] = {
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"platforms", required_argument, NULL, OPT_PLATFORMS},
        {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
        {"cache-max", required_argument, NULL, OPT_CACHE_MAX},
        {"allow", required_argument, NULL, OPT_ALLOW},
        {0},
};

static const struct option builder_set_opts[] = {
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"platforms", required_argument, NULL, OPT_PLATFORMS},
        {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
        {"cache-max", required_argument, NULL, OPT_CACHE_MAX},
        {"allow", required_argument, NULL, OPT_ALLOW},
        {"deny", required_argument, NULL, OPT_DENY},
        {0},
};

static const struct kilnd_admin_verb org_verbs[] = {
        {"create", "ACCOUNT",
         "Creates organisation ACCOUNT (names are unique across users and\n"
         "organisations: [a-z0-9][a-z0-9-]{0,38}).\n",
         1, 1, NULL, org_create},
        {"add-member", "ACCOUNT USER",
         "Makes user USER a member of organisation ACCOUNT: the user's personal tokens\n"
         "with cloud-connect may then use ACCOUNT's builders.\n",
         2, 2, NULL, org_add_member},
};

static const struct kilnd_admin_verb user_verbs[] = {
        {"create", "NAME",
         "Creates user NAME ([a-z0-9][a-z0-9-]{0,38}, unique across users and\n"
         "organisations).\n",
         1, 1, NULL, user_create},
};

static const struct kilnd_admin_verb builder_verbs[] = {
        {"create",
         "ACCOUNT/NAME [--timeout 90m] [--platforms LIST] [--concurrency N] [--cache-max SIZE]\n"
         "       [--allow network.host]",
         "Creates builder NAME of account ACCOUNT.\n\n"
         "  --timeout DURATION   a build's time limit (default 1h30m; 20s, 90m, 1h30m)\n"
         "  --platforms LIST     platforms it builds (default linux/amd64,linux/arm64)\n"
         "  --concurrency N      builds that run at once (default 4)\n"
         "  --cache-max SIZE     its build cache's limit (default 20GB; 500MiB, 1TB)\n"
         "  --allow network.host grant the network.host entitlement: its builds may ask\n"
         "                       for RUN --network=host (kiln build --allow network.host);\n"
         "                       off by default, as such a step shares the builder's network\n",
         1, 1, builder_create_opts, builder_create},
        {"set",
         "ACCOUNT/NAME [--timeout 90m] [--platforms LIST] [--concurrency N] [--cache-max SIZE]\n"
         "       [--allow network.host | --deny network.host]",
         "Changes the settings given of builder ACCOUNT/NAME; the others stay. Builds\n"
         "created afterwards get them.\n\n"
         "  options as for create, and\n"
         "  --deny network.host  withdraw the network.host entitlement\n",
         1, 1, builder_set_opts, builder_set},
        {"ls", "[ACCOUNT]", "Lists the builders of ACCOUNT, or of every account.\n", 0, 1, NULL,
         builder_ls},
        {"rm", "ACCOUNT/NAME",
         "Removes builder ACCOUNT/NAME (refused while builds of it are in progress).\n", 1, 1, NULL,
         builder_rm},
};

static const struct kilnd_admin_verb repo_verbs[] = {
        {"set-public", "NAME",
         "Marks repository NAME public: tokens with repo:public-read may pull it.\n", 1, 1, NULL,
         repo_set_public},
        {"set-private", "NAME", "Marks repository NAME private again.\n", 1, 1, NULL,
         repo_set_private},
};

#define GROUP(fn, verbs)                                                             \
    static int fn(const char *data_dir, int argc, char **argv)                       \
    {                                                                                \
        return kilnd_admin_dispatch(data_dir, verbs, ELEMENTSOF(verbs), argc, argv); \
    }
GROUP(admin_org, org_verbs)
GROUP(admin_user, user_verbs)
GROUP(admin_builder, builder_verbs)
GROUP(admin_repo, repo_verbs)

struct command {
    const char *name;
    int (*run)(const char *data_dir, int argc, char **argv);
    const char *summary;
};

/* The command table: `kilnd admin [--data DIR] NAME ...` runs run(data_dir, argc, argv). */
static const struct command commands[] = {
        {"org", admin_org, "create organisations, add members"},
        {"user", admin_user, "create users"},
        {"builder", admin_builder, "create, change, list and remove builders"},
        {"token", kilnd_admin_token, "create, list and revoke access tokens"},
        {"repo", admin_repo, "mark repositories public or private"},
        /* The registry token service's commands (registry-config.c, signing.c) follow. */
        {"registry-config", kilnd_admin_registry_config, "make kilnd a registry's token service"},
        {"signing-key", kilnd_admin_signing_key, "list, rotate and activate token signing keys"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: kilnd admin [--data DIR] COMMAND ...\n\n"
               "Manages kilnd's accounts, builders and tokens in DIR/kilnd.db (default\n"
               "$KILND_DATA, else " KILND_DATA_DEFAULT "), also while kilnd serves from DIR.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < ELEMENTSOF(commands); i++)
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'kilnd admin COMMAND --help' for a command's usage.\n");
}

int kilnd_admin_main(int argc, char **argv)
{
    const char *data = getenv("KILND_DATA");
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--data") == 0) {
            if (i + 1 == argc)
                return usage_error("option '%s' needs a value", argv[i]);
            data = argv[++i];
        } else if (strncmp(argv[i], "--data=", 7) == 0) {
            data = argv[i] + 7;
        } else {
            return usage_error("unknown option '%s': see kilnd admin --help", argv[i]);
        }
    }
    if (!data || !*data)
        data = KILND_DATA_DEFAULT;
    if (i == argc) {
        usage(stderr);
        return 2;
    }
    for (size_t k = 0; k < ELEMENTSOF(commands); k++)
        if (strcmp(commands[k].name, argv[i]) == 0)
            return commands[k].run(data, argc - i, argv + i);
    fprintf(stderr, "kilnd admin: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return 2;
}
