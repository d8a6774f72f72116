/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build-flags.c - `kiln build` flags, as buildx reads them, into a build
 * request (docs/internals/client.md).
 */
#include "build-flags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "oci/reference.h"

#include "base/banned.h"

static struct kiln_build_output *add_output(struct kiln_build_request *req)
{
    req->outputs = kiln_xrealloc(req->outputs, (req->n_outputs + 1) * sizeof(*req->outputs));
    struct kiln_build_output *o = &req->outputs[req->n_outputs++];
    *o = (struct kiln_build_output){.names = KILN_STRV_INIT,
                                    .compression = KILN_OCI_COMPRESSION_GZIP,
                                    .compression_level = KILN_OCI_LEVEL_DEFAULT,
                                    .oci_mediatypes = KILN_DF_UNSET};
    return o;
}

static int parse_bool(const char *key, const char *v, bool *ret, struct kiln_error **err)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *ret = true;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *ret = false;
    else
        return kiln_error_set(err, KILN_E_INVALID, "--output: %s=%s: use true or false", key, v);
    return 0;
}

static int output_type(const char *v, struct kiln_build_output *o, struct kiln_error **err)
{
    static const struct {
        const char *name;
        enum kiln_output_type type;
        bool push;
    } types[] = {
            {"image", KILN_OUTPUT_IMAGE, false},
            {"registry", KILN_OUTPUT_IMAGE, true},
            {"oci", KILN_OUTPUT_OCI, false},
            {"docker", KILN_OUTPUT_DOCKER, false},
            {"tar", KILN_OUTPUT_TAR, false},
            {"local", KILN_OUTPUT_LOCAL, false},
            {"cacheonly", KILN_OUTPUT_CACHEONLY, false},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++)
        if (strcmp(v, types[i].name) == 0) {
            o->type = types[i].type;
            o->push |= types[i].push;
            return 0;
        }
    return kiln_error_set(err, KILN_E_INVALID,
                          "--output: unknown type '%s': use registry, image, oci, docker, tar, "
                          "local or cacheonly",
                          v);
}

static int output_field(const char *key, const char *v, struct kiln_build_output *o,
                        struct kiln_error **err)
{
    if (strcmp(key, "type") == 0)
        return output_type(v, o, err);
    if (strcmp(key, "dest") == 0) {
        free(o->dest);
        o->dest = kiln_xstrdup(v);
        return 0;
    }
    if (strcmp(key, "name") == 0) {
        _cleanup_free_ char *copy = kiln_xstrdup(v);
        char *save = NULL;
        for (char *n = strtok_r(copy, ",", &save); n; n = strtok_r(NULL, ",", &save))
            kiln_strv_push(&o->names, n);
        return 0;
    }
    if (strcmp(key, "push") == 0)
        return parse_bool(key, v, &o->push, err);
    if (strcmp(key, "force-compression") == 0)
        return parse_bool(key, v, &o->force_compression, err);
    if (strcmp(key, "oci-mediatypes") == 0) {
        bool b;
        int r = parse_bool(key, v, &b, err);
        o->oci_mediatypes = b ? KILN_DF_TRUE : KILN_DF_FALSE;
        return r;
    }
    if (strcmp(key, "compression") == 0)
        return kiln_oci_compression_parse(v, &o->compression, err);
    if (strcmp(key, "compression-level") == 0) {
        char *end;
        long l = strtol(v, &end, 10);
        if (*end || l < 0 || l > 22)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "--output: compression-level=%s: use 0-9 (gzip) or 0-22 (zstd)",
                                  v);
        o->compression_level = (int)l;
        return 0;
    }
    return kiln_error_set(err, KILN_E_INVALID,
                          "--output: unknown key '%s' (known: type, dest, name, push, "
                          "compression, compression-level, force-compression, oci-mediatypes)",
                          key);
}

/* -o VALUE: CSV key=value, or a bare path (type=local) or "-" (type=tar to stdout). */
static int parse_output(const char *value, struct kiln_build_request *req, struct kiln_error **err)
{
    struct kiln_build_output *o = add_output(req);
    if (!strchr(value, '=')) {
        o->type = strcmp(value, "-") == 0 ? KILN_OUTPUT_TAR : KILN_OUTPUT_LOCAL;
        o->dest = kiln_xstrdup(value);
        return 0;
    }
    _cleanup_free_ char *copy = kiln_xstrdup(value);
    char *save = NULL;
    bool typed = false;
    for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(f, '=');
        if (!eq) /* a value of name= continues after a comma */
            return kiln_error_set(err, KILN_E_INVALID, "--output: '%s' is not key=value", f);
        *eq = '\0';
        typed |= strcmp(f, "type") == 0;
        int r = output_field(f, eq + 1, o, err);
        if (r < 0)
            return r;
    }
    if (!typed)
        return kiln_error_set(err, KILN_E_INVALID,
                              "--output: type= is required (e.g. type=oci,dest=out.tar)");
    return 0;
}

static int check_tag(const char *tag, struct kiln_error **err)
{
    struct kiln_oci_ref *ref = NULL;
    int r = kiln_oci_ref_parse_normalized(tag, &ref, err);
    kiln_oci_ref_free(ref);
    return r < 0 ? kiln_error_wrap(err, r, "-t %s", tag) : 0;
}

static int key_value(const char *flag, const char *v, struct kiln_strv *to, bool from_env,
                     struct kiln_error **err)
{
    const char *eq = strchr(v, '=');
    if (eq == v)
        return kiln_error_set(err, KILN_E_INVALID, "%s '%s': the name is empty", flag, v);
    if (eq) {
        kiln_strv_push(to, v);
        return 0;
    }
    if (!from_env)
        return kiln_error_set(err, KILN_E_INVALID, "%s '%s': use KEY=VALUE", flag, v);
    const char *env = getenv(v);
    if (env)
        kiln_strv_take(to, kiln_xasprintf("%s=%s", v, env));
    return 0;
}

/* Matches flag `name` (and `short_name`) at argv[*i]; sets *value from "=..." or the next word. */
static int take(int argc, char **argv, int *i, const char *name, const char *short_name,
                const char **value, struct kiln_error **err)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) == 0 && a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (strcmp(a, name) != 0 && (!short_name || strcmp(a, short_name) != 0))
        return 0;
    if (*i + 1 >= argc)
        return kiln_error_set(err, KILN_E_INVALID, "flag %s needs a value", a);
    *value = argv[++*i];
    return 1;
}

struct value_flag {
    const char *name, *short_name;
    int (*apply)(const char *v, struct kiln_build_request *req, struct kiln_build_cli *cli,
                 struct kiln_error **err);
};

#define SETTER(fn)                                                                           \
    static int fn(const char *v, struct kiln_build_request *req, struct kiln_build_cli *cli, \
                  struct kiln_error **err)

SETTER(set_file)
{
    (void)cli, (void)err;
    free(req->dockerfile);
    req->dockerfile = kiln_xstrdup(v);
    return 0;
}
SETTER(set_tag)
{
    (void)cli;
    kiln_strv_push(&req->tags, v);
    return check_tag(v, err);
}
SETTER(set_build_arg)
{
    (void)cli;
    return key_value("--build-arg", v, &req->build_args, true, err);
}
SETTER(set_label)
{
    (void)cli;
    return key_value("--label", v, &req->labels, false, err);
}
SETTER(set_target)
{
    (void)cli, (void)err;
    free(req->target);
    req->target = kiln_xstrdup(v);
    return 0;
}
SETTER(set_platform)
{
    (void)cli, (void)err;
    _cleanup_free_ char *copy = kiln_xstrdup(v);
    char *save = NULL;
    for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
        kiln_strv_push(&req->platforms, p);
    return 0;
}
SETTER(set_output)
{
    (void)cli;
    return parse_output(v, req, err);
}
SETTER(set_progress)
{
    (void)req;
    return kiln_progress_mode_parse(v, &cli->progress, err);
}
SETTER(set_metadata)
{
    (void)req, (void)err;
    cli->metadata_file = v;
    return 0;
}
SETTER(set_iidfile)
{
    (void)req, (void)err;
    cli->iidfile = v;
    return 0;
}

static const struct value_flag value_flags[] = {
        {"--file", "-f", set_file},
        {"--tag", "-t", set_tag},
        {"--build-arg", NULL, set_build_arg},
        {"--label", NULL, set_label},
        {"--target", NULL, set_target},
        {"--platform", NULL, set_platform},
        {"--output", "-o", set_output},
        {"--progress", NULL, set_progress},
        {"--metadata-file", NULL, set_metadata},
        {"--iidfile", NULL, set_iidfile},
};

static int bool_flag(const char *a, struct kiln_build_request *req, struct kiln_build_cli *cli)
{
    if (strcmp(a, "--push") == 0)
        add_output(req)->push = true;
    else if (strcmp(a, "--load") == 0)
        add_output(req)->type = KILN_OUTPUT_DOCKER;
    else if (strcmp(a, "--no-cache") == 0)
        req->no_cache = true;
    else if (strcmp(a, "--pull") == 0)
        req->pull = true;
    else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
        cli->quiet = true;
    else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
        cli->help = true;
    else
        return 0;
    return 1;
}

static int epoch(struct kiln_build_request *req, struct kiln_error **err)
{
    const char *v = getenv("SOURCE_DATE_EPOCH");
    for (size_t i = 0; i < req->build_args.n; i++)
        if (strncmp(req->build_args.v[i], "SOURCE_DATE_EPOCH=", 18) == 0)
            v = req->build_args.v[i] + 18;
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    long long e = strtoll(v, &end, 10);
    if (*end || errno || e < 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "SOURCE_DATE_EPOCH=%s: use seconds since 1970 (e.g. $(git log -1 "
                              "--format=%%ct))",
                              v);
    req->has_epoch = true;
    req->epoch = e;
    return 0;
}

int kiln_build_flags_parse(int argc, char **argv, struct kiln_build_request *req,
                           struct kiln_build_cli *cli, struct kiln_error **err)
{
    *req = (struct kiln_build_request){.tags = KILN_STRV_INIT,
                                       .build_args = KILN_STRV_INIT,
                                       .labels = KILN_STRV_INIT,
                                       .platforms = KILN_STRV_INIT};
    *cli = (struct kiln_build_cli){.progress = KILN_PROGRESS_AUTO};
    const char *env = getenv("BUILDKIT_PROGRESS");
    if (env && *env && kiln_progress_mode_parse(env, &cli->progress, err) < 0)
        return kiln_error_wrap(err, KILN_E_INVALID, "BUILDKIT_PROGRESS");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (req->context_dir)
                return kiln_error_set(err, KILN_E_INVALID, "one build context only ('%s' and '%s')",
                                      req->context_dir, a);
            req->context_dir = kiln_xstrdup(a);
            continue;
        }
        if (bool_flag(a, req, cli))
            continue;
        int r = 0;
        size_t k;
        for (k = 0; k < sizeof(value_flags) / sizeof(*value_flags); k++) {
            const char *v;
            r = take(argc, argv, &i, value_flags[k].name, value_flags[k].short_name, &v, err);
            if (r < 0)
                return r;
            if (r > 0) {
                r = value_flags[k].apply(v, req, cli, err);
                break;
            }
        }
        if (r < 0)
            return r;
        if (k == sizeof(value_flags) / sizeof(*value_flags))
            return kiln_error_set(err, KILN_E_INVALID, "unknown flag: %s (see kiln build --help)",
                                  a);
    }
    if (cli->help)
        return 0;
    if (!req->context_dir)
        return kiln_error_set(err, KILN_E_INVALID,
                              "kiln build needs exactly one argument, the build context (e.g. .)");
    if (cli->quiet)
        cli->progress = KILN_PROGRESS_QUIET;
    return epoch(req, err);
}
