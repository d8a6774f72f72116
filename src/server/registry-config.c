/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry-config.c - DATA/signing/config.json and `kilnd admin
 * registry-config`, which prints the registry's `auth:` section.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "admin.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "registry-config.h"
#include "signing.h"

#include "base/banned.h"

void kilnd_registry_config_release(struct kilnd_registry_config *c)
{
    free(c->service);
    free(c->realm);
    free(c->issuer);
    free(c->registry);
    *c = (struct kilnd_registry_config){0};
}

static int check_value(const char *what, const char *v, struct kiln_error **err)
{
    if (!v || !*v)
        return kiln_error_set(err, KILN_E_INVALID, "%s is empty", what);
    if (strlen(v) > KILND_REGISTRY_VALUE_MAX)
        return kiln_error_set(err, KILN_E_INVALID, "%s is longer than %u bytes", what,
                              KILND_REGISTRY_VALUE_MAX);
    for (const char *p = v; *p; p++)
        if (*p <= ' ' || *p > '~' || *p == '"' || *p == '\\')
            return kiln_error_set(err, KILN_E_INVALID,
                                  "%s '%s' holds a space, quote, backslash or non-ASCII "
                                  "character: use plain printable characters",
                                  what, v);
    return 0;
}

/* HOST[:PORT]: letters, digits, '.', '-', or a bracketed IPv6 address, then an optional port. */
static bool host_port_valid(const char *s)
{
    const char *p = s;
    if (*p == '[') {
        p = strchr(p, ']');
        if (!p++)
            return false;
    } else {
        while (*p && *p != ':' &&
               (strchr(".-", *p) || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                (*p >= '0' && *p <= '9')))
            p++;
        if (p == s)
            return false;
    }
    if (*p == ':') {
        char *end = NULL;
        long port = strtol(p + 1, &end, 10);
        return p[1] >= '0' && p[1] <= '9' && *end == '\0' && port > 0 && port < 65536;
    }
    return *p == '\0';
}

int kilnd_registry_config_check(const struct kilnd_registry_config *c, struct kiln_error **err)
{
    int r = check_value("service", c->service, err);
    if (r >= 0)
        r = check_value("realm", c->realm, err);
    if (r >= 0)
        r = check_value("issuer", c->issuer, err);
    if (r >= 0 && c->registry)
        r = check_value("registry", c->registry, err);
    if (r < 0)
        return r;
    if (strncmp(c->realm, "https://", 8) != 0 && strncmp(c->realm, "http://", 7) != 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "realm '%s' is not an http:// or https:// URL: give the URL of "
                              "kilnd's /token as clients reach it",
                              c->realm);
    if (strcmp(c->service, KILND_REFRESH_AUDIENCE) == 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "service '%s' is reserved for kilnd's refresh tokens: choose "
                              "another name",
                              c->service);
    if (c->registry && !host_port_valid(c->registry))
        return kiln_error_set(err, KILN_E_INVALID,
                              "registry '%s' is not HOST[:PORT] (as in image references)",
                              c->registry);
    return 0;
}

int kilnd_registry_config_save(const char *data_dir, const struct kilnd_registry_config *c,
                               struct kiln_error **err)
{
    int r = kilnd_registry_config_check(c, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *dir = kiln_xasprintf("%s/" KILND_SIGNING_DIR, data_dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", dir);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s?}", "service", c->service, "realm", c->realm,
                          "issuer", c->issuer, "registry", c->registry);
    _cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    _cleanup_free_ char *path = kiln_xasprintf("%s/" KILND_REGISTRY_CONFIG_FILE, dir);
    return kilnd_signing_write_file(path, 0600, text, strlen(text), err);
}

static char *dup_member(json_t *j, const char *key)
{
    const char *v = json_string_value(json_object_get(j, key));
    return v ? kiln_xstrdup(v) : NULL;
}

int kilnd_registry_config_load(const char *data_dir, struct kilnd_registry_config *ret,
                               struct kiln_error **err)
{
    _cleanup_free_ char *path =
            kiln_xasprintf("%s/" KILND_SIGNING_DIR "/" KILND_REGISTRY_CONFIG_FILE, data_dir);
    _cleanup_(kiln_buf_releasep) struct kiln_buf b = KILN_BUF_INIT(KILND_SIGNING_FILE_MAX);
    int r = kiln_buf_read_file(&b, path);
    if (r == -ENOENT)
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "kilnd is not a registry token service yet: run kilnd admin "
                              "--data %s registry-config --service NAME --realm URL",
                              data_dir);
    if (r < 0)
        return kiln_error_set_errno(err, r, "cannot read '%s'", path);
    json_t *j = json_loadb(b.buf, b.len, JSON_REJECT_DUPLICATES, NULL);
    struct kilnd_registry_config c = {
            .service = dup_member(j, "service"),
            .realm = dup_member(j, "realm"),
            .issuer = dup_member(j, "issuer"),
            .registry = dup_member(j, "registry"),
    };
    json_decref(j);
    if (kilnd_registry_config_check(&c, NULL) < 0) {
        kilnd_registry_config_release(&c);
        return kiln_error_set(err, KILN_E_INVALID,
                              "'%s' is damaged: run kilnd admin registry-config again", path);
    }
    *ret = c;
    return 0;
}

char *kilnd_registry_config_yaml(const struct kilnd_registry_config *c, const char *bundle_path)
{
    /* Checked values hold no quote or backslash: double quotes suffice. */
    return kiln_xasprintf("auth:\n"
                          "  token:\n"
                          "    realm: \"%s\"\n"
                          "    service: \"%s\"\n"
                          "    issuer: \"%s\"\n"
                          "    rootcertbundle: \"%s\"\n",
                          c->realm, c->service, c->issuer, bundle_path);
}

/* `kilnd admin registry-config` */

static int config_usage(FILE *f)
{
    fprintf(f, "usage: kilnd admin [--data DIR] registry-config --service NAME --realm URL\n"
               "                   [--issuer NAME] [--registry HOST:PORT]\n\n"
               "Makes kilnd the token service of a distribution registry and prints the\n"
               "auth: section of that registry's configuration (a signing key is made in\n"
               "DIR/" KILND_SIGNING_DIR "/ when there is none).\n\n"
               "  --service NAME        the registry's service name (tokens' audience)\n"
               "  --realm URL           kilnd's /token URL as clients reach it\n"
               "  --issuer NAME         tokens' issuer (default " KILND_ISSUER_DEFAULT ")\n"
               "  --registry HOST:PORT  the registry, as image references name it: builds\n"
               "                        pushing there get tokens from this kilnd\n");
    return f == stdout ? 0 : 2;
}

static int parse_config_args(int argc, char **argv, struct kilnd_registry_config *c)
{
    static const struct option opts[] = {
            {"service", required_argument, NULL, 's'}, {"realm", required_argument, NULL, 'r'},
            {"issuer", required_argument, NULL, 'i'},  {"registry", required_argument, NULL, 'g'},
            {"help", no_argument, NULL, 'h'},          {0},
    };
    optind = 1;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (o == 'h')
            return config_usage(stdout) - 1;
        if (o == '?' || o == ':') {
            fprintf(stderr, "kilnd admin: registry-config: bad option '%s'\n", argv[optind - 1]);
            return config_usage(stderr);
        }
        char **slot = o == 's'   ? &c->service
                      : o == 'r' ? &c->realm
                      : o == 'i' ? &c->issuer
                                 : &c->registry;
        *slot = optarg;
    }
    if (optind != argc || !c->service || !c->realm) {
        fprintf(stderr, "kilnd admin: registry-config needs --service and --realm\n");
        return config_usage(stderr);
    }
    if (!c->issuer)
        c->issuer = KILND_ISSUER_DEFAULT;
    return 0;
}

int kilnd_admin_registry_config(const char *data_dir, int argc, char **argv)
{
    struct kilnd_registry_config c = {0}; /* points into argv: not released */
    int code = parse_config_args(argc, argv, &c);
    if (code != 0)
        return code < 0 ? 0 : code;
    struct kiln_error *e = NULL;
    _cleanup_free_ char *bundle = NULL;
    int r = kilnd_registry_config_check(&c, &e);
    if (r >= 0 && mkdir(data_dir, 0700) < 0 && errno != EEXIST)
        r = kiln_error_set_errno(&e, -errno, "cannot create data directory '%s'", data_dir);
    if (r >= 0)
        r = kilnd_keyring_open(data_dir, true, (int64_t)time(NULL), NULL, &e);
    if (r >= 0)
        r = kilnd_registry_config_save(data_dir, &c, &e);
    if (r >= 0)
        r = kilnd_signing_bundle_path(data_dir, &bundle, &e);
    if (r < 0) {
        code = kilnd_admin_fail(r, e);
        kiln_error_free(e);
        return code;
    }
    _cleanup_free_ char *yaml = kilnd_registry_config_yaml(&c, bundle);
    fputs(yaml, stdout);
    return 0;
}
