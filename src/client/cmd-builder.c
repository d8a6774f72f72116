/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd-builder.c - `kiln create`, `use`, `ls`, `rm`, `inspect`: the builders
 * of builders.json, with buildx's words (docs/internals/client-cloud.md).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/human.h"
#include "builders.h"
#include "cloud-http.h"
#include "commands.h"
#include "oci/platform.h"

#include "base/banned.h"

/* How long `kiln ls` waits for each server. */
#define LS_TIMEOUT 3L

void kiln_cmd_create_help(void)
{
    printf("Usage:  kiln create [OPTIONS] ACCOUNT/NAME\n"
           "\n"
           "Create a builder for the cloud builder ACCOUNT/NAME of a kilnd server, after\n"
           "checking with the server that the stored token may use it.\n"
           "\n"
           "Options:\n"
           "      --driver string     Driver to use: cloud (the default; the local driver is "
           "the\n"
           "                          builder \"default\")\n"
           "      --endpoint string   kilnd server (default: the one logged in to last)\n"
           "      --name string       Builder name (default: cloud-ACCOUNT-NAME)\n"
           "      --use               Set the current builder\n"
           "\n"
           "Exit status: 0 created, 1 the server refused or cannot be reached, 2 the command "
           "line is wrong.\n");
}

void kiln_cmd_use_help(void)
{
    printf("Usage:  kiln use NAME\n"
           "\n"
           "Set the current builder (\"default\" is kiln's own engine).\n"
           "\n"
           "Exit status: 0 set, 1 no such builder, 2 the command line is wrong.\n");
}

void kiln_cmd_ls_help(void)
{
    printf("Usage:  kiln ls\n"
           "\n"
           "List builders; '*' marks the current one. STATUS asks each cloud builder's server\n"
           "(at most %ld s each): running, unreachable, token refused, not logged in.\n"
           "\n"
           "Exit status: 0 listed, 1 the builders file cannot be read, 2 the command line is "
           "wrong.\n",
           LS_TIMEOUT);
}

void kiln_cmd_rm_help(void)
{
    printf("Usage:  kiln rm [NAME]\n"
           "\n"
           "Remove a builder (default: the current one). The builder on the kilnd server and\n"
           "its cache stay; the builder \"default\" cannot be removed.\n"
           "\n"
           "Exit status: 0 removed, 1 no such builder, 2 the command line is wrong.\n");
}

void kiln_cmd_inspect_help(void)
{
    printf("Usage:  kiln inspect [NAME]\n"
           "\n"
           "Show a builder (default: --builder's rule: $KILN_BUILDER, $BUILDX_BUILDER, the\n"
           "current one) with what its server says of it: status, platforms, time limit,\n"
           "concurrency.\n"
           "\n"
           "Exit status: 0 shown, 1 no such builder or the server refused or cannot be "
           "reached,\n"
           "2 the command line is wrong.\n");
}

static int usage(const char *cmd, const char *fmt, ...) _printf_(2, 3);
static int usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kiln %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see kiln %s --help)\n", cmd);
    va_end(ap);
    return KILN_EXIT_USAGE;
}

static int failed(const char *cmd, struct kiln_error *e, int r)
{
    fprintf(stderr, "kiln %s: %s\n", cmd, kiln_error_message(e, r));
    kiln_error_free(e);
    return KILN_EXIT_FAILURE;
}

/*
 * Matches argv[*i] against "--NAME V" or "--NAME=V". Returns 1 with *ret, 0
 * for no match, -1 when the value is missing.
 */
static int value_flag(int argc, char **argv, int *i, const char *name, const char **ret)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *ret = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] || *i + 1 >= argc)
        return argv[*i][n] ? 0 : -1;
    *ret = argv[++*i];
    return 1;
}

/* Commands with at most one NAME and only --help: the name, or NULL. Returns -1 on bad usage. */
static int one_name(int argc, char **argv, bool required, const char **ret, bool *help)
{
    const char *cmd = argv[0];
    *ret = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            *help = true;
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1])
            return usage(cmd, "unknown flag: %s", argv[i]), -1;
        if (*ret)
            return usage(cmd, "takes one builder name, not also '%s'", argv[i]), -1;
        *ret = argv[i];
    }
    if (required && !*ret)
        return usage(cmd, "name the builder"), -1;
    return 0;
}

/* GET /v1/builders/ACCOUNT/NAME for a cloud builder; c stays open for the status. */
static int query(const struct kiln_builder_entry *b, long timeout, struct kiln_cloud **c,
                 json_t **ret, struct kiln_error **err)
{
    int r = kiln_cloud_open(b->endpoint, c, err);
    if (r < 0)
        return r;
    kiln_cloud_set_timeout(*c, timeout);
    _cleanup_free_ char *path = kiln_xasprintf("/v1/builders/%s", b->builder);
    return kiln_cloud_json(*c, "GET", path, NULL, ret, err);
}

/* What `kiln ls` and `kiln inspect` say of a query's outcome. */
static const char *status_word(const struct kiln_cloud *c, int r)
{
    if (r >= 0)
        return "running";
    if (!c)
        return r == KILN_E_DENIED ? "not logged in" : "error";
    long status = kiln_cloud_last_status(c, NULL);
    return status == 0     ? "unreachable"
           : status == 401 ? "token refused"
           : status == 403 ? "denied"
           : status == 404 ? "not found"
                           : "error";
}

/* The platforms of a builder: the server's list, or the host's for the local driver. */
static char *platforms(const struct kiln_builder_entry *b, json_t *info)
{
    if (strcmp(b->driver, "local") == 0) {
        struct kiln_oci_platform p = {0};
        kiln_oci_platform_host(&p);
        char *s = kiln_oci_platform_format(&p);
        kiln_oci_platform_release(&p);
        return s;
    }
    struct kiln_buf out = KILN_BUF_INIT(64 * 1024);
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(info, "platforms"), i, v) {
        if (json_is_string(v))
            kiln_buf_addf(&out, "%s%s", out.len ? ", " : "", json_string_value(v));
    }
    return kiln_buf_detach(&out, NULL);
}

int kiln_cmd_create(int argc, char **argv)
{
    const char *driver = "cloud", *name = NULL, *server = NULL, *ref = NULL, *v = NULL;
    bool use = false;
    for (int i = 1; i < argc; i++) {
        int m = 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            kiln_cmd_create_help();
            return KILN_EXIT_OK;
        } else if (strcmp(argv[i], "--use") == 0) {
            use = true;
        } else if ((m = value_flag(argc, argv, &i, "--driver", &v)) != 0) {
            driver = v;
        } else if ((m = value_flag(argc, argv, &i, "--name", &v)) != 0) {
            name = v;
        } else if ((m = value_flag(argc, argv, &i, "--endpoint", &v)) != 0) {
            server = v;
        } else if (argv[i][0] == '-') {
            return usage("create", "unknown flag: %s", argv[i]);
        } else if (ref) {
            return usage("create", "takes one ACCOUNT/NAME, not also '%s'", argv[i]);
        } else {
            ref = argv[i];
        }
        if (m < 0)
            return usage("create", "flag needs an argument: %s", argv[i]);
    }
    if (strcmp(driver, "cloud") != 0)
        return usage("create",
                     "unsupported driver '%s': kiln creates cloud builders (the local driver "
                     "is the builder \"default\")",
                     driver);
    if (!ref)
        return usage("create", "name the cloud builder: kiln create --driver cloud ACCOUNT/NAME");
    struct kiln_error *e = NULL;
    _cleanup_free_ char *def = name ? NULL : kiln_builder_default_name(ref);
    if (kiln_builder_ref_check(ref, &e) < 0 || kiln_builder_name_check(name ? name : def, &e) < 0) {
        usage("create", "%s", e->message);
        kiln_error_free(e);
        return KILN_EXIT_USAGE;
    }
    struct kiln_builder_entry b = {
            .name = (char *)(name ? name : def), .driver = "cloud", .builder = (char *)ref};
    _cleanup_(kiln_builders_freep) struct kiln_builders *bs = NULL;
    _cleanup_free_ char *endpoint = NULL;
    struct kiln_builder_entry *have = NULL;
    int r = kiln_builders_load(NULL, &bs, &e);
    if (r >= 0 && kiln_builders_get(bs, b.name, &have, NULL) >= 0)
        r = kiln_error_set(&e, KILN_E_CONFLICT,
                           "a builder named %s exists: kiln rm %s first, or choose another --name",
                           b.name, b.name);
    kiln_builder_entry_free(have);
    if (r >= 0 && server)
        endpoint = kiln_cloud_endpoint_for(server);
    else if (r >= 0)
        r = kiln_builders_server(bs, &endpoint, &e);
    b.endpoint = endpoint;
    _cleanup_(kiln_cloud_freep) struct kiln_cloud *c = NULL;
    json_t *info = NULL;
    if (r >= 0)
        r = query(&b, 0, &c, &info, &e);
    json_decref(info);
    if (r >= 0)
        r = kiln_builders_add(bs, &b, &e);
    if (r >= 0 && use)
        r = kiln_builders_use(bs, b.name, &e);
    if (r >= 0)
        r = kiln_builders_save(bs, &e);
    if (r < 0)
        return failed("create", e, r);
    printf("%s\n", b.name);
    return KILN_EXIT_OK;
}

int kiln_cmd_use(int argc, char **argv)
{
    const char *name;
    bool help = false;
    if (one_name(argc, argv, true, &name, &help) < 0)
        return KILN_EXIT_USAGE;
    if (help) {
        kiln_cmd_use_help();
        return KILN_EXIT_OK;
    }
    _cleanup_(kiln_builders_freep) struct kiln_builders *bs = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_builders_load(NULL, &bs, &e);
    if (r >= 0)
        r = kiln_builders_use(bs, name, &e);
    if (r >= 0)
        r = kiln_builders_save(bs, &e);
    return r < 0 ? failed("use", e, r) : KILN_EXIT_OK;
}

int kiln_cmd_rm(int argc, char **argv)
{
    const char *name;
    bool help = false;
    if (one_name(argc, argv, false, &name, &help) < 0)
        return KILN_EXIT_USAGE;
    if (help) {
        kiln_cmd_rm_help();
        return KILN_EXIT_OK;
    }
    _cleanup_(kiln_builders_freep) struct kiln_builders *bs = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_builders_load(NULL, &bs, &e);
    _cleanup_free_ char *target = NULL;
    if (r >= 0)
        target = kiln_xstrdup(name ? name : kiln_builders_current(bs));
    if (r >= 0)
        r = kiln_builders_remove(bs, target, &e);
    if (r >= 0)
        r = kiln_builders_save(bs, &e);
    if (r < 0)
        return failed("rm", e, r);
    fprintf(stderr, "%s removed\n", target);
    return KILN_EXIT_OK;
}

/* The rows of `kiln ls`, four columns each, printed once all widths are known. */
struct table {
    struct kiln_strv cells;
    size_t width[4];
};

static void row(struct table *t, const char *a, const char *b, const char *c, const char *d)
{
    const char *v[4] = {a, b, c, d};
    for (size_t i = 0; i < 4; i++) {
        kiln_strv_push(&t->cells, v[i]);
        size_t n = strlen(v[i]);
        t->width[i] = n > t->width[i] ? n : t->width[i];
    }
}

static void table_print(const struct table *t)
{
    struct kiln_buf line = KILN_BUF_INIT(SIZE_MAX);
    for (size_t i = 0; i + 3 < t->cells.n; i += 4) {
        kiln_buf_reset(&line);
        for (size_t k = 0; k < 4; k++)
            kiln_buf_addf(&line, "%-*s   ", (int)t->width[k], t->cells.v[i + k]);
        while (line.len && line.buf[line.len - 1] == ' ')
            kiln_buf_truncate(&line, line.len - 1);
        printf("%s\n", line.buf);
    }
    kiln_buf_release(&line);
}

static void ls_builder(struct table *t, const struct kiln_builder_entry *b, bool current)
{
    _cleanup_free_ char *name = kiln_xasprintf("%s%s", b->name, current ? "*" : "");
    row(t, name, b->driver, "", "");
    struct kiln_cloud *c = NULL;
    json_t *info = NULL;
    int r = strcmp(b->driver, "local") == 0 ? 0 : query(b, LS_TIMEOUT, &c, &info, NULL);
    _cleanup_free_ char *node = kiln_xasprintf(" \\_ %s", b->builder ? b->builder : b->name);
    _cleanup_free_ char *ep = kiln_xasprintf(" \\_ %s", b->endpoint ? b->endpoint : "local");
    _cleanup_free_ char *plat = r >= 0 ? platforms(b, info) : kiln_xstrdup("");
    row(t, node, ep, status_word(c, r), plat);
    json_decref(info);
    kiln_cloud_free(c);
}

int kiln_cmd_ls(int argc, char **argv)
{
    const char *name;
    bool help = false;
    if (one_name(argc, argv, false, &name, &help) < 0)
        return KILN_EXIT_USAGE;
    if (help) {
        kiln_cmd_ls_help();
        return KILN_EXIT_OK;
    }
    if (name)
        return usage("ls", "takes no arguments, not '%s'", name);
    _cleanup_(kiln_builders_freep) struct kiln_builders *bs = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_builders_load(NULL, &bs, &e);
    if (r < 0)
        return failed("ls", e, r);
    _cleanup_strv_ struct kiln_strv names = KILN_STRV_INIT;
    kiln_builders_names(bs, &names);
    struct table t = {.cells = KILN_STRV_INIT};
    row(&t, "NAME/NODE", "DRIVER/ENDPOINT", "STATUS", "PLATFORMS");
    for (size_t i = 0; i < names.n; i++) {
        struct kiln_builder_entry *b = NULL;
        if (kiln_builders_get(bs, names.v[i], &b, NULL) < 0)
            continue;
        ls_builder(&t, b, strcmp(b->name, kiln_builders_current(bs)) == 0);
        kiln_builder_entry_free(b);
    }
    table_print(&t);
    kiln_strv_release(&t.cells);
    return KILN_EXIT_OK;
}

static void inspect_print(const struct kiln_builder_entry *b, const char *status, json_t *info)
{
    printf("Name:          %s\n", b->name);
    printf("Driver:        %s\n", b->driver);
    if (b->endpoint)
        printf("Endpoint:      %s\n", b->endpoint);
    if (b->builder)
        printf("Builder:       %s\n", b->builder);
    printf("Status:        %s\n", status);
    if (!info)
        return;
    _cleanup_free_ char *plat = platforms(b, info);
    printf("Platforms:     %s\n", plat);
    json_t *t = json_object_get(info, "timeout_s"), *n = json_object_get(info, "concurrency");
    if (json_is_integer(t)) {
        char d[KILN_HUMAN_DURATION_MAX];
        kiln_human_duration(json_integer_value(t), d);
        printf("Timeout:       %s\n", d);
    }
    if (json_is_integer(n))
        printf("Concurrency:   %lld\n", (long long)json_integer_value(n));
    json_t *allow = json_object_get(info, "allow"), *v;
    size_t i;
    if (json_is_array(allow)) {
        printf("Entitlements: ");
        json_array_foreach (allow, i, v)
            printf("%s %s", i ? "," : "", json_string_value(v) ? json_string_value(v) : "?");
        printf("%s\n", json_array_size(allow) ? "" : " none");
    }
}

int kiln_cmd_inspect(int argc, char **argv)
{
    const char *name;
    bool help = false;
    if (one_name(argc, argv, false, &name, &help) < 0)
        return KILN_EXIT_USAGE;
    if (help) {
        kiln_cmd_inspect_help();
        return KILN_EXIT_OK;
    }
    _cleanup_(kiln_builder_entry_freep) struct kiln_builder_entry *b = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_builder_select(name, &b, &e);
    if (r < 0)
        return failed("inspect", e, r);
    if (strcmp(b->driver, "local") == 0) {
        json_t *none = json_object();
        inspect_print(b, "running", none);
        json_decref(none);
        return KILN_EXIT_OK;
    }
    _cleanup_(kiln_cloud_freep) struct kiln_cloud *c = NULL;
    json_t *info = NULL;
    r = query(b, 0, &c, &info, &e);
    inspect_print(b, status_word(c, r), r >= 0 ? info : NULL);
    json_decref(info);
    return r < 0 ? failed("inspect", e, r) : KILN_EXIT_OK;
}
