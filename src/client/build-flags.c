/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build-flags.c - `kiln build` flags, read as buildx reads them, into a build
 * request (docs/internals/client.md).
 */
#include "build-flags.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "build-output.h"
#include "dockerfile/instructions.h"
#include "engine/request-json.h"
#include "oci/platform.h"
#include "oci/reference.h"

#include "base/banned.h"

static int push_capped(const char *flag, struct kiln_strv *to, char *value, struct kiln_error **err)
{
    if (to->n >= KILN_BUILD_FLAG_VALUES_MAX) {
        free(value);
        return kiln_error_set(err, KILN_E_LIMIT, "%s: more than %u values; use fewer", flag,
                              KILN_BUILD_FLAG_VALUES_MAX);
    }
    kiln_strv_take(to, value);
    return 0;
}

static int check_tag(const char *tag, struct kiln_error **err)
{
    struct kiln_oci_ref *ref = NULL;
    struct kiln_error *why = NULL;
    int r = kiln_oci_ref_parse_normalized(tag, &ref, &why);
    kiln_oci_ref_free(ref);
    if (r < 0)
        r = kiln_error_set(err, KILN_E_INVALID,
                           "--tag '%s': %s; use NAME[:TAG] such as registry.example.com/app:1", tag,
                           kiln_error_message(why, r));
    kiln_error_free(why);
    return r < 0 ? r : 0;
}

/* K=V as given; K alone takes $K (dropped when unset) or, for labels, an empty value. */
static int key_value(const char *flag, const char *v, struct kiln_strv *to, bool from_env,
                     struct kiln_error **err)
{
    const char *eq = strchr(v, '=');
    if (eq == v || !*v)
        return kiln_error_set(err, KILN_E_INVALID, "%s '%s': the name is empty; use KEY=VALUE",
                              flag, v);
    if (eq)
        return push_capped(flag, to, kiln_xstrdup(v), err);
    if (!from_env)
        return push_capped(flag, to, kiln_xasprintf("%s=", v), err);
    const char *env = getenv(v);
    return env ? push_capped(flag, to, kiln_xasprintf("%s=%s", v, env), err) : 0;
}

static int read_all(FILE *in, char **ret, struct kiln_error **err)
{
    struct kiln_buf b = KILN_BUF_INIT(KILN_DOCKERFILE_MAX);
    char chunk[65536];
    size_t n;
    int r = 0;
    while (r == 0 && (n = fread(chunk, 1, sizeof(chunk), in)) > 0)
        r = kiln_buf_add(&b, chunk, n);
    if (r == 0 && ferror(in))
        r = kiln_error_set_errno(err, -EIO, "--file -: cannot read the Dockerfile from stdin");
    else if (r < 0)
        r = kiln_error_set(err, KILN_E_LIMIT,
                           "--file -: the Dockerfile on stdin is larger than %u bytes",
                           KILN_DOCKERFILE_MAX);
    if (r < 0) {
        kiln_buf_release(&b);
        return r;
    }
    *ret = kiln_buf_detach(&b, NULL);
    return 0;
}

static int set_platforms(const char *v, struct kiln_build_request *req, struct kiln_error **err)
{
    _cleanup_free_ char *copy = kiln_xstrdup(v);
    char *save = NULL;
    for (char *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        struct kiln_oci_platform p;
        struct kiln_error *why = NULL;
        int r = kiln_oci_platform_parse(s, &p, &why);
        if (r < 0) {
            r = kiln_error_set(err, KILN_E_INVALID,
                               "--platform '%s': %s; use OS/ARCH such as linux/amd64", s,
                               kiln_error_message(why, r));
            kiln_error_free(why);
            return r;
        }
        kiln_oci_platform_normalize(&p);
        char *name = kiln_oci_platform_format(&p);
        kiln_oci_platform_release(&p);
        if (kiln_strv_find(&req->platforms, name) >= 0)
            free(name);
        else if ((r = push_capped("--platform", &req->platforms, name, err)) < 0)
            return r;
    }
    return 0;
}

/* A flag that takes a value: what it does with it. */
struct value_flag {
    const char *name;
    char short_name; /* '\0': none */
    int (*apply)(const char *v, FILE *in, struct kiln_build_request *req,
                 struct kiln_build_cli *cli, struct kiln_error **err);
};

#define SETTER(fn)                                                         \
    static int fn(const char *v, FILE *in, struct kiln_build_request *req, \
                  struct kiln_build_cli *cli, struct kiln_error **err)

SETTER(set_file)
{
    free(req->dockerfile);
    req->dockerfile = kiln_xstrdup(v);
    free(req->dockerfile_text);
    req->dockerfile_text = NULL;
    return strcmp(v, "-") == 0 ? read_all(in, &req->dockerfile_text, err) : 0;
}
SETTER(set_tag)
{
    int r = check_tag(v, err);
    return r < 0 ? r : push_capped("--tag", &req->tags, kiln_xstrdup(v), err);
}
SETTER(set_build_arg)
{
    return key_value("--build-arg", v, &req->build_args, true, err);
}
SETTER(set_label)
{
    return key_value("--label", v, &req->labels, false, err);
}
SETTER(set_target)
{
    if (!*v)
        return kiln_error_set(err, KILN_E_INVALID, "--target: the stage name is empty");
    free(req->target);
    req->target = kiln_xstrdup(v);
    return 0;
}
SETTER(set_platform)
{
    return set_platforms(v, req, err);
}
SETTER(set_output)
{
    return kiln_build_output_parse(v, req, err);
}
SETTER(set_progress)
{
    struct kiln_error *why = NULL;
    int r = kiln_progress_mode_parse(v, &cli->progress, &why);
    if (r < 0)
        r = kiln_error_set(err, r, "--progress: %s", kiln_error_message(why, r));
    kiln_error_free(why);
    return r;
}
SETTER(set_metadata)
{
    cli->metadata_file = v;
    return 0;
}
SETTER(set_iidfile)
{
    cli->iidfile = v;
    return 0;
}

SETTER(set_builder)
{
    if (!*v)
        return kiln_error_set(err, KILN_E_INVALID, "--builder: the builder name is empty");
    cli->builder_name = v;
    return 0;
}

SETTER(set_oci_runtime)
{
    if (!*v)
        return kiln_error_set(err, KILN_E_INVALID,
                              "--oci-runtime: the runtime is empty; give a name such as runc or "
                              "crun, or a path");
    free(req->oci_runtime);
    req->oci_runtime = kiln_xstrdup(v);
    return 0;
}

SETTER(set_allow)
{
    if (strcmp(v, "network.host") == 0) {
        req->allow_network_host = true;
        return 0;
    }
    return kiln_error_set(err, KILN_E_INVALID,
                          "--allow %s: unknown entitlement (kiln grants network.host)", v);
}

/* buildx's parseSecret: type=file|env, id=, src=|source=, env=; nothing but id: $ID, else file ID.
 */
struct secret_spec {
    char *id, *src, *env;
};

static int secret_fields(const char *v, struct secret_spec *ret, struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv fields = KILN_STRV_INIT;
    int r = kiln_df__csv_fields(v, &fields, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "--secret '%s'", v);
    const char *type = "";
    for (size_t i = 0; i < fields.n; i++) {
        char *f = fields.v[i], *eq = strchr(f, '=');
        if (!eq)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "--secret '%s': '%s' must be a key=value pair such as id=ID", v,
                                  f);
        *eq = '\0';
        char **slot = strcasecmp(f, "id") == 0                                    ? &ret->id
                      : strcasecmp(f, "src") == 0 || strcasecmp(f, "source") == 0 ? &ret->src
                      : strcasecmp(f, "env") == 0                                 ? &ret->env
                                                                                  : NULL;
        if (strcasecmp(f, "type") == 0 &&
            (strcmp(eq + 1, "file") == 0 || strcmp(eq + 1, "env") == 0))
            type = strcmp(eq + 1, "env") == 0 ? "env" : "file";
        else if (!slot)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "--secret '%s': unexpected '%s=%s'; use id=ID with src=FILE or "
                                  "env=VARIABLE (type=file|env)",
                                  v, f, eq + 1);
        else {
            free(*slot);
            *slot = kiln_xstrdup(eq + 1);
        }
    }
    if (strcmp(type, "env") == 0 && !ret->env) {
        ret->env = ret->src;
        ret->src = NULL;
    }
    if (!ret->id || !*ret->id)
        return kiln_error_set(err, KILN_E_INVALID,
                              "--secret '%s': the secret has no id; write id=ID,src=FILE", v);
    if (!ret->src && !ret->env) {
        if (getenv(ret->id))
            ret->env = kiln_xstrdup(ret->id);
        else
            ret->src = kiln_xstrdup(ret->id);
    }
    return 0;
}

/* The secret's value, read now: the build only ever sees it in memory. */
static int secret_value(const struct secret_spec *sp, struct kiln_build_secret *ret,
                        struct kiln_error **err)
{
    struct kiln_buf b = KILN_BUF_INIT(KILN_BUILD_SECRET_MAX);
    int r = 0;
    if (sp->env) {
        const char *val = getenv(sp->env);
        if (!val)
            r = kiln_error_set(err, KILN_E_INVALID,
                               "--secret id=%s: the environment variable '%s' is not set; "
                               "export it or use src=FILE",
                               sp->id, sp->env);
        else if (kiln_buf_adds(&b, val) < 0)
            r = KILN_E_LIMIT;
    } else if ((r = kiln_buf_read_file(&b, sp->src)) < 0 && r != KILN_E_LIMIT) {
        r = kiln_error_set_errno(err, r, "--secret id=%s: cannot read the file '%s'", sp->id,
                                 sp->src);
    }
    if (r == KILN_E_LIMIT)
        r = kiln_error_set(err, KILN_E_LIMIT,
                           "--secret id=%s: the secret is larger than %u KiB (BuildKit's limit)",
                           sp->id, KILN_BUILD_SECRET_MAX / 1024);
    if (r < 0) {
        explicit_bzero(b.buf, b.len);
        kiln_buf_release(&b);
        return r;
    }
    ret->len = b.len;
    ret->data = (uint8_t *)kiln_buf_detach(&b, NULL);
    return 0;
}

SETTER(set_secret)
{
    if (req->n_secrets >= KILN_BUILD_FLAG_VALUES_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "--secret: more than %u values; use fewer",
                              KILN_BUILD_FLAG_VALUES_MAX);
    struct secret_spec sp = {0};
    struct kiln_build_secret s = {0};
    int r = secret_fields(v, &sp, err);
    if (r >= 0)
        r = secret_value(&sp, &s, err);
    if (r >= 0) {
        size_t i = 0;
        while (i < req->n_secrets && strcmp(req->secrets[i].id, sp.id) != 0)
            i++;
        if (i == req->n_secrets)
            req->secrets = kiln_xrealloc(req->secrets, ++req->n_secrets * sizeof(*req->secrets));
        else {
            free(req->secrets[i].id);
            explicit_bzero(req->secrets[i].data, req->secrets[i].len);
            free(req->secrets[i].data);
        }
        s.id = TAKE_PTR(sp.id);
        req->secrets[i] = s;
    }
    free(sp.id);
    free(sp.src);
    free(sp.env);
    return r;
}

/* buildx's --ssh default|ID[=SOCKET|KEYFILE]: an agent socket, or a private key file that an
 * agent of kiln's will hold for the build (ssh-keys.h). */
SETTER(set_ssh)
{
    const char *eq = strchr(v, '=');
    _cleanup_free_ char *id = eq ? kiln_xstrndup(v, (size_t)(eq - v)) : kiln_xstrdup(v);
    const char *path = eq ? eq + 1 : getenv("SSH_AUTH_SOCK");
    if (!*id)
        return kiln_error_set(err, KILN_E_INVALID,
                              "--ssh '%s': the id is empty; use default or ID=SOCKET", v);
    if (!path || !*path)
        return kiln_error_set(err, KILN_E_INVALID,
                              "--ssh %s: invalid empty ssh agent socket: make sure SSH_AUTH_SOCK "
                              "is set (start ssh-agent) or give ID=SOCKET",
                              id);
    if (strchr(path, ','))
        return kiln_error_set(err, KILN_E_INVALID,
                              "--ssh %s: several paths are not supported; give one agent socket",
                              id);
    struct stat st;
    if (stat(path, &st) < 0)
        return kiln_error_set_errno(err, -errno, "--ssh %s: '%s'", id, path);
    if (!S_ISSOCK(st.st_mode) && !S_ISREG(st.st_mode))
        return kiln_error_set(err, KILN_E_INVALID,
                              "--ssh %s: '%s' is neither an agent socket nor a key file", id, path);
    char *abs = realpath(path, NULL);
    if (!abs)
        return kiln_error_set_errno(err, -errno, "--ssh %s: '%s'", id, path);
    if (req->n_ssh >= KILN_BUILD_FLAG_VALUES_MAX) {
        free(abs);
        return kiln_error_set(err, KILN_E_LIMIT, "--ssh: more than %u values; use fewer",
                              KILN_BUILD_FLAG_VALUES_MAX);
    }
    req->ssh = kiln_xrealloc(req->ssh, (req->n_ssh + 1) * sizeof(*req->ssh));
    req->ssh[req->n_ssh++] = S_ISSOCK(st.st_mode)
                                     ? (struct kiln_build_ssh){.id = TAKE_PTR(id), .socket = abs}
                                     : (struct kiln_build_ssh){.id = TAKE_PTR(id), .key_file = abs};
    return 0;
}

static const struct value_flag value_flags[] = {
        {"--file", 'f', set_file},
        {"--tag", 't', set_tag},
        {"--build-arg", 0, set_build_arg},
        {"--label", 0, set_label},
        {"--target", 0, set_target},
        {"--platform", 0, set_platform},
        {"--output", 'o', set_output},
        {"--progress", 0, set_progress},
        {"--metadata-file", 0, set_metadata},
        {"--iidfile", 0, set_iidfile},
        {"--allow", 0, set_allow},
        {"--oci-runtime", 0, set_oci_runtime},
        {"--builder", 0, set_builder},
        {"--secret", 0, set_secret},
        {"--ssh", 0, set_ssh},
};

static bool bool_flag(const char *a, struct kiln_build_cli *cli, bool *push, bool *load,
                      struct kiln_build_request *req)
{
    if (strcmp(a, "--push") == 0)
        *push = true;
    else if (strcmp(a, "--load") == 0)
        *load = true;
    else if (strcmp(a, "--no-cache") == 0)
        req->no_cache = true;
    else if (strcmp(a, "--pull") == 0)
        req->pull = true;
    else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
        cli->quiet = true;
    else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
        cli->help = true;
    else if (strcmp(a, "--dry-run-request") == 0)
        cli->dry_run = true;
    else
        return false;
    return true;
}

/*
 * Matches argv[*i] against a value flag: "--name V", "--name=V", "-x V",
 * "-xV", "-x=V" (pflag's forms). Returns 1 with *ret_value, 0 for no match.
 */
static int take(int argc, char **argv, int *i, const struct value_flag *f, const char **ret_value,
                struct kiln_error **err)
{
    const char *a = argv[*i], *v = NULL;
    size_t n = strlen(f->name);
    if (strncmp(a, f->name, n) == 0 && (a[n] == '=' || !a[n]))
        v = a[n] == '=' ? a + n + 1 : NULL;
    else if (f->short_name && a[0] == '-' && a[1] == f->short_name)
        v = a[2] == '=' ? a + 3 : a[2] ? a + 2 : NULL;
    else
        return 0;
    if (!v) {
        if (*i + 1 >= argc)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "flag needs an argument: %s (see kiln build --help)", a);
        v = argv[++*i];
    }
    *ret_value = v;
    return 1;
}

static int flag(int argc, char **argv, int *i, FILE *in, struct kiln_build_request *req,
                struct kiln_build_cli *cli, struct kiln_error **err)
{
    for (size_t k = 0; k < ELEMENTSOF(value_flags); k++) {
        const char *v;
        int r = take(argc, argv, i, &value_flags[k], &v, err);
        if (r != 0)
            return r < 0 ? r : value_flags[k].apply(v, in, req, cli, err);
    }
    return kiln_error_set(err, KILN_E_INVALID, "unknown flag: %s (see kiln build --help)",
                          argv[*i]);
}

static int set_context(const char *a, struct kiln_build_request *req, struct kiln_error **err)
{
    if (req->context_dir)
        return kiln_error_set(err, KILN_E_INVALID,
                              "kiln build takes one build context, not '%s' and '%s'",
                              req->context_dir, a);
    if (strcmp(a, "-") == 0 || strstr(a, "://") || strncmp(a, "git@", 4) == 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "context '%s': only a local directory is supported yet; clone or "
                              "unpack it and pass the directory",
                              a);
    /* A missing directory is the build's failure (exit 1), as buildx's "unable to prepare context".
     */
    req->context_dir = kiln_xstrdup(a);
    return 0;
}

/* buildx takes SOURCE_DATE_EPOCH from the environment as a build argument unless one is given. */
static int epoch(struct kiln_build_request *req, struct kiln_error **err)
{
    const char *v = NULL;
    for (size_t i = 0; i < req->build_args.n; i++)
        if (strncmp(req->build_args.v[i], "SOURCE_DATE_EPOCH=", 18) == 0)
            v = req->build_args.v[i] + 18;
    const char *env = getenv("SOURCE_DATE_EPOCH");
    if (!v && env) {
        v = env;
        int r = push_capped("--build-arg", &req->build_args,
                            kiln_xasprintf("SOURCE_DATE_EPOCH=%s", env), err);
        if (r < 0)
            return r;
    }
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    long long e = strtoll(v, &end, 10);
    if (*end || errno || e < 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "SOURCE_DATE_EPOCH=%s: use whole seconds since 1970 (e.g. "
                              "$(git log -1 --format=%%ct))",
                              v);
    req->has_epoch = true;
    req->epoch = e;
    return 0;
}

static int finish(struct kiln_build_request *req, struct kiln_build_cli *cli, bool push, bool load,
                  bool progress_given, struct kiln_error **err)
{
    if (!req->context_dir)
        return kiln_error_set(err, KILN_E_INVALID,
                              "kiln build requires exactly 1 argument, the build context (e.g. "
                              "kiln build -t app .)");
    if (cli->quiet && progress_given && cli->progress != KILN_PROGRESS_AUTO &&
        cli->progress != KILN_PROGRESS_QUIET)
        return kiln_error_set(err, KILN_E_INVALID,
                              "--quiet and --progress cannot be used together; drop one of them");
    if (cli->quiet)
        cli->progress = KILN_PROGRESS_QUIET;
    int r = kiln_build_outputs_finish(req, push, load, isatty(STDOUT_FILENO), err);
    if (r < 0)
        return r;
    req->builder = kiln_xstrdup("local");
    return epoch(req, err);
}

int kiln_build_flags_parse(int argc, char **argv, FILE *in, struct kiln_build_request *req,
                           struct kiln_build_cli *cli, struct kiln_error **err)
{
    *req = (struct kiln_build_request){.tags = KILN_STRV_INIT,
                                       .build_args = KILN_STRV_INIT,
                                       .labels = KILN_STRV_INIT,
                                       .platforms = KILN_STRV_INIT};
    *cli = (struct kiln_build_cli){.progress = KILN_PROGRESS_AUTO};
    const char *env = getenv("BUILDKIT_PROGRESS");
    bool progress_given = env && *env, push = false, load = false, flags_done = false;
    struct kiln_error *why = NULL;
    if (progress_given && kiln_progress_mode_parse(env, &cli->progress, &why) < 0) {
        int r = kiln_error_set(err, KILN_E_INVALID, "BUILDKIT_PROGRESS: %s", why->message);
        kiln_error_free(why);
        return r;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = 0;
        if (flags_done || a[0] != '-' || strcmp(a, "-") == 0)
            r = set_context(a, req, err);
        else if (strcmp(a, "--") == 0)
            flags_done = true;
        else if (!bool_flag(a, cli, &push, &load, req)) {
            progress_given |= strncmp(a, "--progress", 10) == 0;
            r = flag(argc, argv, &i, in, req, cli, err);
        }
        if (r < 0)
            return r;
    }
    return cli->help ? 0 : finish(req, cli, push, load, progress_given, err);
}

json_t *kiln_build_request_json(const struct kiln_build_request *req,
                                const struct kiln_build_cli *cli)
{
    static const char *const modes[] = {"auto", "plain", "tty", "quiet", "rawjson"};
    json_t *j = kiln_build_request_to_json(req);
    json_object_set_new(j, "dockerfile_stdin_bytes",
                        req->dockerfile_text
                                ? json_integer((json_int_t)strlen(req->dockerfile_text))
                                : json_null());
    json_object_set_new(j, "progress", json_string(modes[cli->progress]));
    json_object_set_new(j, "quiet", json_boolean(cli->quiet));
    json_object_set_new(j, "metadata_file",
                        cli->metadata_file ? json_string(cli->metadata_file) : json_null());
    json_object_set_new(j, "iidfile", cli->iidfile ? json_string(cli->iidfile) : json_null());
    json_object_set_new(j, "builder_name",
                        cli->builder_name ? json_string(cli->builder_name) : json_null());
    json_t *secrets = json_array(), *ssh = json_array();
    for (size_t i = 0; i < req->n_secrets; i++) /* the ids and sizes: never a value */
        json_array_append_new(secrets, json_pack("{s:s, s:I}", "id", req->secrets[i].id, "bytes",
                                                 (json_int_t)req->secrets[i].len));
    for (size_t i = 0; i < req->n_ssh; i++)
        json_array_append_new(ssh, json_pack("{s:s}", "id", req->ssh[i].id));
    json_object_set_new(j, "secrets", secrets);
    json_object_set_new(j, "ssh", ssh);
    return j;
}
