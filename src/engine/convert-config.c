/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert-config.c - the instructions that write the image config (ENV,
 * LABEL, CMD, ENTRYPOINT, EXPOSE, VOLUME, USER, STOPSIGNAL, MAINTAINER,
 * SHELL, HEALTHCHECK, ONBUILD, WORKDIR) and their history entries, as
 * BuildKit's dispatch* functions write them (docs/internals/convert.md).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/path.h"
#include "convert-private.h"
#include "oci/json.h"

#include "base/banned.h"

#define N(a) (sizeof(a) / sizeof(*(a)))

json_t *conv_config(struct conv_stage *s)
{
    json_t *cfg = json_object_get(s->image, "config");
    if (!json_is_object(cfg)) {
        cfg = json_object();
        json_object_set_new(s->image, "config", cfg);
    }
    return cfg;
}

const char *conv_config_str(struct conv_stage *s, const char *key)
{
    const char *v = json_string_value(json_object_get(conv_config(s), key));
    return v ? v : "";
}

static bool is_empty(json_t *v)
{
    return json_is_null(v) || json_is_false(v) || (json_is_string(v) && !*json_string_value(v)) ||
           (json_is_array(v) && !json_array_size(v)) ||
           (json_is_object(v) && !json_object_size(v)) ||
           (json_is_integer(v) && !json_integer_value(v));
}

/* Keeps the keys Go's struct has, dropping the empty ones (omitempty) unless `always`. */
static void keep_keys(json_t *o, const char *const *keys, size_t n, const char *const *always,
                      size_t n_always)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(o, tmp, k, v)
    {
        bool known = false, keep = false;
        for (size_t i = 0; i < n; i++)
            known |= strcmp(keys[i], k) == 0;
        for (size_t i = 0; i < n_always; i++)
            keep |= strcmp(always[i], k) == 0;
        if (!known || (!keep && is_empty(v)))
            json_object_del(o, k);
    }
}

void conv_image_normalize(json_t *image)
{
    static const char *const top[] = {"created",    "author",      "architecture", "os",
                                      "os.version", "os.features", "variant",      "config",
                                      "rootfs",     "history"};
    static const char *const always[] = {"architecture", "os", "rootfs", "config"};
    static const char *const cfg[] = {"User",       "ExposedPorts", "Env",         "Entrypoint",
                                      "Cmd",        "Volumes",      "WorkingDir",  "Labels",
                                      "StopSignal", "ArgsEscaped",  "Healthcheck", "OnBuild",
                                      "Shell"};
    static const char *const hc[] = {"Test",        "Interval",      "Timeout",
                                     "StartPeriod", "StartInterval", "Retries"};
    static const char *const hist[] = {"created", "created_by", "author", "comment", "empty_layer"};
    keep_keys(image, top, N(top), always, N(always));
    json_t *config = json_object_get(image, "config");
    if (json_is_object(config)) {
        json_t *health = json_object_get(config, "Healthcheck");
        if (json_is_object(health))
            keep_keys(health, hc, N(hc), NULL, 0);
        keep_keys(config, cfg, N(cfg), (const char *const[]){"Healthcheck"},
                  json_is_object(health) ? 1 : 0);
    } else {
        json_object_set_new(image, "config", json_object());
    }
    size_t i;
    json_t *h;
    json_array_foreach (json_object_get(image, "history"), i, h) {
        if (json_is_object(h))
            keep_keys(h, hist, N(hist), NULL, 0);
    }
}

int conv_env_from_config(struct conv_stage *s, unsigned line, struct kiln_error **err)
{
    json_t *env = json_object_get(conv_config(s), "Env");
    if (!json_is_array(env)) {
        env = json_array();
        json_object_set_new(conv_config(s), "Env", env);
    }
    if (json_array_size(env) > KILN_CONVERT_ENV_MAX)
        return kiln_error_set_line(err, KILN_E_LIMIT, line,
                                   "the base image sets %zu environment variables, more than %d",
                                   json_array_size(env), KILN_CONVERT_ENV_MAX);
    bool has_path = false;
    size_t i;
    json_t *e;
    json_array_foreach (env, i, e) {
        const char *kv = json_string_value(e);
        if (!kv)
            continue;
        const char *eq = strchr(kv, '=');
        _cleanup_free_ char *k = kiln_xstrndup(kv, eq ? (size_t)(eq - kv) : strlen(kv));
        has_path |= strcmp(k, "PATH") == 0;
    }
    if (!has_path && strcmp(s->platform.os ? s->platform.os : "", "windows") != 0)
        json_array_append_new(env, json_string("PATH=" KILN_CONVERT_DEFAULT_PATH));
    json_array_foreach (env, i, e) {
        const char *kv = json_string_value(e);
        if (!kv)
            continue;
        const char *eq = strchr(kv, '=');
        _cleanup_free_ char *k = kiln_xstrndup(kv, eq ? (size_t)(eq - kv) : strlen(kv));
        conv_env_put(&s->env, k, eq ? eq + 1 : "");
    }
    return 0;
}

void conv_with_shell(struct conv_stage *s, const struct kiln_strv *words, struct kiln_strv *ret)
{
    json_t *sh = json_object_get(conv_config(s), "Shell");
    if (json_array_size(sh)) {
        size_t i;
        json_t *w;
        json_array_foreach (sh, i, w)
            kiln_strv_push(ret, json_string_value(w));
    } else {
        kiln_strv_push(ret, "/bin/sh");
        kiln_strv_push(ret, "-c");
    }
    struct kiln_buf b = KILN_BUF_INIT(SIZE_MAX);
    for (size_t i = 0; i < words->n; i++)
        kiln_buf_addf(&b, "%s%s", i ? " " : "", words->v[i]);
    kiln_strv_take(ret, kiln_buf_detach(&b, NULL));
}

/* config.Env: BuildKit's addEnv, which replaces a key in place. */
static void config_env_set(struct conv_stage *s, const char *k, const char *v)
{
    json_t *env = json_object_get(conv_config(s), "Env");
    _cleanup_free_ char *kv = kiln_xasprintf("%s=%s", k, v);
    size_t i, n = strlen(k);
    json_t *e;
    json_array_foreach (env, i, e) {
        const char *cur = json_string_value(e);
        if (cur && strncmp(cur, k, n) == 0 && (cur[n] == '=' || !cur[n])) {
            json_array_set_new(env, i, json_string(kv));
            return;
        }
    }
    json_array_append_new(env, json_string(kv));
}

static json_t *config_object(struct conv_stage *s, const char *key)
{
    json_t *o = json_object_get(conv_config(s), key);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(conv_config(s), key, o);
    }
    return o;
}

/* Go's signal.ParseSignal (moby/sys/signal, Linux table): a number, or a name with or without SIG.
 */
static bool signal_valid(const char *raw)
{
    static const char *const names[] = {
            "ABRT", "ALRM",   "BUS",  "CHLD",   "CLD",   "CONT", "FPE",  "HUP",   "ILL",
            "INT",  "IO",     "IOT",  "KILL",   "PIPE",  "POLL", "PROF", "PWR",   "QUIT",
            "SEGV", "STKFLT", "STOP", "SYS",    "TERM",  "TRAP", "TSTP", "TTIN",  "TTOU",
            "URG",  "USR1",   "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX"};
    char *end;
    long n = strtol(raw, &end, 10);
    if (*raw && !*end)
        return n != 0;
    _cleanup_free_ char *up = kiln_xstrdup(raw);
    for (char *p = up; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    const char *name = strncmp(up, "SIG", 3) == 0 ? up + 3 : up;
    for (size_t i = 0; i < N(names); i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    /* RTMIN+1..RTMIN+15 and RTMAX-14..RTMAX-1 */
    const char *rest = strncmp(name, "RTMIN+", 6) == 0   ? name + 6
                       : strncmp(name, "RTMAX-", 6) == 0 ? name + 6
                                                         : NULL;
    if (!rest || !isdigit((unsigned char)*rest))
        return false;
    n = strtol(rest, &end, 10);
    return !*end && *rest != '0' && n >= 1 && n <= (name[3] == 'I' ? 15 : 14);
}

/* BuildKit's parsePortRange: "80" or "8000-8010". */
static bool port_range(const char *s, long *start, long *end)
{
    const char *dash = strchr(s, '-');
    _cleanup_free_ char *a = kiln_xstrndup(s, dash ? (size_t)(dash - s) : strlen(s));
    char *e;
    if (!*a || !isdigit((unsigned char)*a) || (*start = strtol(a, &e, 10), *e) || *start > 65535)
        return false;
    *end = *start;
    if (!dash || strcmp(a, dash + 1) == 0)
        return true;
    const char *b = dash + 1;
    if (!*b || !isdigit((unsigned char)*b) || (*end = strtol(b, &e, 10), *e) || *end > 65535)
        return false;
    return *end >= *start;
}

/* BuildKit's parsePort: "[ip:][hostPort:]port[-end][/proto]" to "port/proto" entries. */
static int parse_port(const char *raw, unsigned line, struct kiln_strv *ret,
                      struct kiln_error **err)
{
    const char *colon = strrchr(raw, ':');
    const char *ctr = colon ? colon + 1 : raw;
    _cleanup_free_ char *host = NULL;
    if (colon) {
        const char *h = colon;
        while (h > raw && h[-1] != ':')
            h--;
        host = kiln_xstrndup(h, (size_t)(colon - h));
    }
    const char *slash = strchr(ctr, '/');
    _cleanup_free_ char *port = kiln_xstrndup(ctr, slash ? (size_t)(slash - ctr) : strlen(ctr));
    _cleanup_free_ char *proto = kiln_xstrdup(slash ? slash + 1 : "");
    for (char *p = proto; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (!*port)
        return kiln_error_set_line(err, KILN_E_INVALID, line,
                                   "invalid port: \"%s\": no port specified", raw);
    if (*proto && strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
        strcmp(proto, "sctp") != 0)
        return kiln_error_set_line(err, KILN_E_INVALID, line,
                                   "invalid port: \"%s\": invalid proto: %s", raw, slash + 1);
    long start, end, hs, he;
    if (!port_range(port, &start, &end))
        return kiln_error_set_line(err, KILN_E_INVALID, line, "invalid containerPort: %s", port);
    if (host && *host) {
        if (!port_range(host, &hs, &he))
            return kiln_error_set_line(err, KILN_E_INVALID, line, "invalid hostPort: %s", host);
        if (end - start != he - hs && end != start)
            return kiln_error_set_line(err, KILN_E_INVALID, line,
                                       "invalid ranges specified for container and host Ports: "
                                       "%s and %s",
                                       port, host);
    }
    for (long p = start; p <= end; p++)
        kiln_strv_take(ret, kiln_xasprintf("%ld/%s", p, *proto ? proto : "tcp"));
    return 0;
}

/* EXPOSE: each word expanded and split (ProcessWords), ranges expanded to one key per port. */
/* The history entry "WORD [a b c]" of EXPOSE and VOLUME (Go's %v of a list). */
static void list_history(struct conv_stage *s, const char *word, const struct kiln_strv *items)
{
    struct kiln_buf msg = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&msg, word);
    conv_fmt_list(&msg, items);
    conv_history(s, msg.buf, false);
    kiln_buf_release(&msg);
}

static int expose(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                  struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv words = KILN_STRV_INIT, ports = KILN_STRV_INIT;
    for (size_t i = 0; i < ins->words.n; i++) {
        int r = kiln_shell_process_words(ins->words.v[i], &s->env, &c->shopt, &words, err);
        if (r < 0)
            return kiln_error_at_line(err, r, ins->start_line);
    }
    for (size_t i = 0; i < words.n; i++) {
        int r = parse_port(words.v[i], ins->start_line, &ports, err);
        if (r < 0)
            return r;
    }
    json_t *set = config_object(s, "ExposedPorts");
    for (size_t i = 0; i < ports.n; i++)
        json_object_set_new(set, ports.v[i], json_object());
    list_history(s, "EXPOSE ", &ports);
    return 0;
}

/* ENV and LABEL: every word expands against the env as it was before the line. */
static int env_or_label(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                        struct kiln_error **err)
{
    bool env = ins->kind == KILN_DF_ENV;
    size_t n = ins->n_pairs;
    char **kv = kiln_xcalloc(2 * n + 1, sizeof(char *));
    int r = 0;
    for (size_t i = 0; i < n && r >= 0; i++) {
        r = conv_expand(c, s, ins->pairs[i].key, ins->start_line, &kv[2 * i], err);
        if (r >= 0)
            r = conv_expand(c, s, ins->pairs[i].value, ins->start_line, &kv[2 * i + 1], err);
    }
    struct kiln_buf msg = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&msg, env ? "ENV" : "LABEL");
    for (size_t i = 0; i < n && r >= 0; i++) {
        const char *k = kv[2 * i], *v = kv[2 * i + 1];
        kiln_buf_addf(&msg, " %s=%s", k, v);
        if (env) {
            conv_env_put(&s->env, k, v);
            config_env_set(s, k, v);
        } else {
            json_object_set_new(config_object(s, "Labels"), k, json_string(v));
        }
    }
    if (r >= 0)
        conv_history(s, msg.buf, false);
    kiln_buf_release(&msg);
    for (size_t i = 0; i < 2 * n; i++)
        free(kv[i]);
    free(kv);
    return r;
}

static void command(struct conv_stage *s, const struct kiln_df_instruction *ins)
{
    _cleanup_strv_ struct kiln_strv args = KILN_STRV_INIT;
    if (ins->cmd.prepend_shell)
        conv_with_shell(s, &ins->cmd.args, &args);
    else
        for (size_t i = 0; i < ins->cmd.args.n; i++)
            kiln_strv_push(&args, ins->cmd.args.v[i]);
    json_t *cfg = conv_config(s);
    bool cmd = ins->kind == KILN_DF_CMD;
    json_object_set_new(cfg, cmd ? "Cmd" : "Entrypoint", kiln_oci_json_strv(&args));
    if (cmd) {
        json_object_set_new(cfg, "ArgsEscaped", json_true());
        s->cmd_set = true;
    } else if (!s->cmd_set) {
        json_object_del(cfg, "Cmd");
    }
    struct kiln_buf msg = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&msg, cmd ? "CMD " : "ENTRYPOINT ");
    conv_fmt_quoted(&msg, &args);
    conv_history(s, msg.buf, false);
    kiln_buf_release(&msg);
}

static int volume(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                  struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv vols = KILN_STRV_INIT;
    for (size_t i = 0; i < ins->words.n; i++) {
        char *w = NULL;
        int r = conv_expand(c, s, ins->words.v[i], ins->start_line, &w, err);
        if (r < 0)
            return r;
        kiln_strv_take(&vols, w);
    }
    json_t *set = config_object(s, "Volumes");
    for (size_t i = 0; i < vols.n; i++) {
        if (!*vols.v[i])
            return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line,
                                       "VOLUME specified can not be an empty string");
        json_object_set_new(set, vols.v[i], json_object());
    }
    list_history(s, "VOLUME ", &vols);
    return 0;
}

/* USER, STOPSIGNAL, MAINTAINER: one value, history "NAME value". */
static int single(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                  struct kiln_error **err)
{
    _cleanup_free_ char *v = NULL;
    int r = 0;
    if (ins->kind == KILN_DF_MAINTAINER)
        v = kiln_xstrdup(ins->value);
    else
        r = conv_expand(c, s, ins->value, ins->start_line, &v, err);
    if (r < 0)
        return r;
    if (ins->kind == KILN_DF_USER) {
        json_object_set_new(conv_config(s), "User", json_string(v));
    } else if (ins->kind == KILN_DF_STOPSIGNAL) {
        if (!signal_valid(v))
            return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line, "Invalid signal: %s",
                                       v);
        json_object_set_new(conv_config(s), "StopSignal", json_string(v));
    } else {
        json_object_set_new(s->image, "author", json_string(v));
    }
    _cleanup_free_ char *msg = kiln_xasprintf("%s %s", kiln_df_kind_name(ins->kind), v);
    conv_history(s, msg, false);
    return 0;
}

static void healthcheck(struct conv_stage *s, const struct kiln_df_instruction *ins)
{
    const struct kiln_df_healthcheck *h = &ins->health;
    json_t *hc = json_object();
    if (h->test.n)
        json_object_set_new(hc, "Test", kiln_oci_json_strv(&h->test));
    const struct {
        const char *key;
        int64_t v;
    } d[] = {{"Interval", h->interval},
             {"Timeout", h->timeout},
             {"StartPeriod", h->start_period},
             {"StartInterval", h->start_interval}};
    struct kiln_buf msg = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&msg, "HEALTHCHECK {Test:");
    conv_fmt_list(&msg, &h->test);
    for (size_t i = 0; i < N(d); i++) {
        if (d[i].v)
            json_object_set_new(hc, d[i].key, json_integer(d[i].v));
        kiln_buf_addf(&msg, " %s:", d[i].key);
        conv_fmt_duration(&msg, d[i].v);
    }
    if (h->retries)
        json_object_set_new(hc, "Retries", json_integer(h->retries));
    kiln_buf_addf(&msg, " Retries:%d}", h->retries);
    json_object_set_new(conv_config(s), "Healthcheck", hc);
    conv_history(s, msg.buf, false);
    kiln_buf_release(&msg);
}

static void shell(struct conv_stage *s, const struct kiln_df_instruction *ins)
{
    json_object_set_new(conv_config(s), "Shell", kiln_oci_json_strv(&ins->words));
    struct kiln_buf msg = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&msg, "SHELL ");
    conv_fmt_list(&msg, &ins->words);
    conv_history(s, msg.buf, false);
    kiln_buf_release(&msg);
}

/* BuildKit's NormalizeWorkdir: absolute paths are kept as written, relative ones joined. */
static char *workdir_join(const char *cur, const char *wd)
{
    _cleanup_free_ char *parent = *cur == '/' ? kiln_xstrdup(cur) : kiln_xasprintf("/%s", cur);
    if (!*wd)
        return kiln_path_clean(parent, strlen(parent));
    if (*wd == '/')
        return kiln_xstrdup(wd);
    _cleanup_free_ char *joined = kiln_xasprintf("%s/%s", parent, wd);
    return kiln_path_clean(joined, strlen(joined));
}

static int workdir(struct conv *c, struct conv_stage *s, const struct kiln_df_instruction *ins,
                   struct kiln_error **err)
{
    _cleanup_free_ char *v = NULL;
    int r = conv_expand(c, s, ins->value, ins->start_line, &v, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *wd = workdir_join(conv_config_str(s, "WorkingDir"), v);
    json_object_set_new(conv_config(s), "WorkingDir", json_string(wd));
    bool layer = strcmp(wd, "/") != 0;
    if (layer) {
        _cleanup_free_ char *text = conv_step_text(c, s, ins->original, false);
        _cleanup_free_ char *name = conv_step_name(c, s, text);
        struct kiln_vertex *x = conv_add_vertex(c, s, KILN_VERTEX_MKDIR, name);
        x->mkdir.path = kiln_path_clean(wd, strlen(wd));
        x->mkdir.user = kiln_xstrdup(conv_config_str(s, "User"));
    }
    _cleanup_free_ char *msg = kiln_xasprintf("WORKDIR %s", wd);
    conv_history(s, msg, layer);
    return 0;
}

int conv_config_dispatch(struct conv *c, struct conv_stage *s,
                         const struct kiln_df_instruction *ins, struct kiln_error **err)
{
    switch (ins->kind) {
    case KILN_DF_ENV:
    case KILN_DF_LABEL: return env_or_label(c, s, ins, err);
    case KILN_DF_CMD:
    case KILN_DF_ENTRYPOINT: command(s, ins); return 0;
    case KILN_DF_EXPOSE: return expose(c, s, ins, err);
    case KILN_DF_VOLUME: return volume(c, s, ins, err);
    case KILN_DF_USER:
    case KILN_DF_STOPSIGNAL:
    case KILN_DF_MAINTAINER: return single(c, s, ins, err);
    case KILN_DF_SHELL: shell(s, ins); return 0;
    case KILN_DF_HEALTHCHECK: healthcheck(s, ins); return 0;
    case KILN_DF_ONBUILD: conv_onbuild_record(s, ins); return 0;
    case KILN_DF_WORKDIR: return workdir(c, s, ins, err);
    default:
        return kiln_error_set_line(err, KILN_E_INVALID, ins->start_line,
                                   "%s does not change the image config",
                                   kiln_df_kind_name(ins->kind));
    }
}
