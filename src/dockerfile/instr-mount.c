/* SPDX-License-Identifier: Apache-2.0 */
/*
 * instr-mount.c - RUN and its --mount, --network and --security flags
 * (BuildKit's commands_runmount.go, commands_runnetwork.go,
 * commands_runsecurity.go, and the mount defaults of convert_runmount.go,
 * convert_secrets.go and convert_ssh.go).
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/path.h"
#include "goquote.h"
#include "instructions.h"

#include "base/banned.h"

static const char *const mount_types[] = {
        [KILN_DF_MOUNT_BIND] = "bind",   [KILN_DF_MOUNT_CACHE] = "cache",
        [KILN_DF_MOUNT_TMPFS] = "tmpfs", [KILN_DF_MOUNT_SECRET] = "secret",
        [KILN_DF_MOUNT_SSH] = "ssh",
};
static const char *const sharings[] = {
        [KILN_DF_SHARING_UNSET] = "",
        [KILN_DF_SHARING_SHARED] = "shared",
        [KILN_DF_SHARING_PRIVATE] = "private",
        [KILN_DF_SHARING_LOCKED] = "locked",
};
static const char *const networks[] = {
        [KILN_DF_NETWORK_DEFAULT] = "default",
        [KILN_DF_NETWORK_NONE] = "none",
        [KILN_DF_NETWORK_HOST] = "host",
};
static const char *const securities[] = {
        [KILN_DF_SECURITY_SANDBOX] = "sandbox",
        [KILN_DF_SECURITY_INSECURE] = "insecure",
};
const char *kiln_df_mount_type_name(enum kiln_df_mount_type type)
{
    return mount_types[type];
}

const char *kiln_df_sharing_name(enum kiln_df_mount_sharing sharing)
{
    return sharings[sharing];
}

const char *kiln_df_network_name(enum kiln_df_network network)
{
    return networks[network];
}

const char *kiln_df_security_name(enum kiln_df_security security)
{
    return securities[security];
}

static int lookup(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

static char *go_lower(const char *s)
{
    struct kiln_buf b = KILN_BUF_INIT((size_t)-1 / 4);
    (void)kiln_go_tolower(&b, s, strlen(s));
    return kiln_buf_detach(&b, NULL);
}

/* Go's path.Base. */
static char *path_base(const char *p)
{
    size_t n = strlen(p);
    if (n == 0)
        return kiln_xstrdup(".");
    while (n > 0 && p[n - 1] == '/')
        n--;
    if (n == 0)
        return kiln_xstrdup("/");
    size_t s = n;
    while (s > 0 && p[s - 1] != '/')
        s--;
    return kiln_xstrndup(p + s, n - s);
}

enum opt {
    O_TYPE,
    O_FROM,
    O_SOURCE,
    O_TARGET,
    O_RO,
    O_ID,
    O_SHARING,
    O_REQUIRED,
    O_SIZE,
    O_MODE,
    O_UID,
    O_GID,
    O_RW,
    O_ENV,
};

/* In BuildKit's order of allKeys, which decides between equal suggestions. */
static const char *const option_names[] = {
        "type",        "from", "source", "target",    "readonly", "id",  "sharing",
        "required",    "size", "mode",   "uid",       "gid",      "src", "dst",
        "destination", "ro",   "rw",     "readwrite", "env",
};
static const enum opt option_ids[] = {
        O_TYPE, O_FROM, O_SOURCE, O_TARGET, O_RO,     O_ID, O_SHARING, O_REQUIRED, O_SIZE, O_MODE,
        O_UID,  O_GID,  O_SOURCE, O_TARGET, O_TARGET, O_RO, O_RW,      O_RW,       O_ENV,
};

struct mount_state {
    struct kiln_df_mount *m;
    bool ro_auto;       /* neither ro nor rw given: the type decides */
    bool sharing_given; /* sharing= was written */
};

static int only_for(const struct kiln_df_mount *m, const char *key, const char *types,
                    struct kiln_error **err)
{
    return kiln_error_set(err, KILN_E_INVALID,
                          "'%s' is for %s mounts only; this mount is '%s' where '%s' appears "
                          "(type= must come before it)",
                          key, types, mount_types[m->type], key);
}

static int choose(const char *key, const char *value, const char *const *names, size_t n, int *ret,
                  struct kiln_error **err)
{
    _cleanup_free_ char *lo = go_lower(value);
    int i = lookup(names, n, lo);
    if (i >= 0) {
        *ret = i;
        return 0;
    }
    const char *match = kiln_df__suggest(value, names, n, true);
    if (match)
        return kiln_error_set(err, KILN_E_INVALID, "unknown %s '%s' (did you mean %s?)", key, value,
                              match);
    _cleanup_buf_ struct kiln_buf all = KILN_BUF_INIT(4096);
    for (size_t k = 0; k < n; k++)
        (void)kiln_buf_addf(&all, "%s%s", k == 0 ? "" : k + 1 == n ? " or " : ", ", names[k]);
    return kiln_error_set(err, KILN_E_INVALID, "unknown %s '%s'; use %s", key, value, all.buf);
}

static int set_flag_value(const char *key, const char *value, bool *ret, struct kiln_error **err)
{
    if (kiln_df__go_bool(value, ret) < 0)
        return kiln_error_set(err, KILN_E_INVALID, "%s=%s: use true or false", key, value);
    return 0;
}

static int set_number(const char *key, const char *value, unsigned base, uint32_t *ret,
                      bool *ret_has, struct kiln_error **err)
{
    if (kiln_df__go_uint32(value, base, ret) < 0)
        return kiln_error_set(err, KILN_E_INVALID, "%s=%s: write %s", key, value,
                              base == 8 ? "an octal mode such as 0755" : "a number such as 1000");
    *ret_has = true;
    return 0;
}

static void set_string(char **slot, const char *value)
{
    free(*slot);
    *slot = kiln_xstrdup(value);
}

/* One key=value option (BuildKit parseMount's switch). */
static int set_option(struct mount_state *st, enum opt o, const char *key, const char *value,
                      struct kiln_error **err)
{
    struct kiln_df_mount *m = st->m;
    int r = 0, i = 0;
    bool b = false;
    switch (o) {
    case O_TYPE:
        r = choose("mount type", value, mount_types, ELEMENTSOF(mount_types), &i, err);
        m->type = (enum kiln_df_mount_type)i;
        return r;
    case O_SHARING:
        r = choose("sharing", value, sharings + 1, ELEMENTSOF(sharings) - 1, &i, err);
        m->sharing = (enum kiln_df_mount_sharing)(i + 1);
        st->sharing_given = true;
        return r;
    case O_FROM: set_string(&m->from, value); return 0;
    case O_SOURCE: set_string(&m->source, value); return 0;
    case O_TARGET: set_string(&m->target, value); return 0;
    case O_ID: set_string(&m->id, value); return 0;
    case O_ENV: set_string(&m->env, value); return 0;
    case O_RO:
    case O_RW:
        r = set_flag_value(key, value, &b, err);
        m->readonly = o == O_RO ? b : !b;
        st->ro_auto = false;
        return r;
    case O_REQUIRED:
        if (m->type != KILN_DF_MOUNT_SECRET && m->type != KILN_DF_MOUNT_SSH)
            return only_for(m, key, "secret and ssh", err);
        return set_flag_value(key, value, &m->required, err);
    case O_SIZE:
        if (m->type != KILN_DF_MOUNT_TMPFS)
            return only_for(m, key, "tmpfs", err);
        if (kiln_df__go_ram_bytes(value, &m->size) < 0)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "size=%s: write bytes, or a number with k, m, g, t or p "
                                  "such as 512m",
                                  value);
        return 0;
    case O_MODE: return set_number(key, value, 8, &m->mode, &m->has_mode, err);
    case O_UID: return set_number(key, value, 10, &m->uid, &m->has_uid, err);
    case O_GID: return set_number(key, value, 10, &m->gid, &m->has_gid, err);
    }
    return 0;
}

/* A field without '=': ro, rw and required mean true; nothing else may be bare. */
static int bare_word(struct mount_state *st, const char *key, const char *field,
                     struct kiln_error **err)
{
    int i = lookup(option_names, ELEMENTSOF(option_names), key);
    enum opt o = i < 0 ? O_TYPE : option_ids[i];
    if (i >= 0 && (o == O_RO || o == O_RW || o == O_REQUIRED))
        return set_option(st, o, key, "true", err);
    if (field[0] == '\0')
        return kiln_error_set(err, KILN_E_INVALID,
                              "empty option (a doubled or trailing comma); remove it");
    return kiln_error_set(err, KILN_E_INVALID, "'%s' needs a value: write %s=VALUE", field, field);
}

static int apply_field(struct mount_state *st, const char *field, kiln_df_expand_fn *expand,
                       void *userdata, struct kiln_error **err)
{
    const char *eq = strchr(field, '=');
    _cleanup_free_ char *raw_key = eq ? kiln_xstrndup(field, (size_t)(eq - field)) : NULL;
    _cleanup_free_ char *key = go_lower(eq ? raw_key : field);
    if (!eq)
        return bare_word(st, key, field, err);
    _cleanup_free_ char *value = NULL;
    if (expand) {
        int r = expand(userdata, eq + 1, &value, err);
        if (r < 0)
            return r;
    } else {
        value = kiln_xstrdup(eq + 1);
    }
    int i = lookup(option_names, ELEMENTSOF(option_names), key);
    if (i >= 0)
        return set_option(st, option_ids[i], key, value, err);
    const char *match = kiln_df__suggest(key, option_names, ELEMENTSOF(option_names), true);
    if (match)
        return kiln_error_set(err, KILN_E_INVALID, "unknown option '%s' in '%s' (did you mean %s?)",
                              key, field, match);
    return kiln_error_set(err, KILN_E_INVALID,
                          "unknown option '%s' in '%s'; a mount takes type, target, source, "
                          "from, id, sharing, mode, uid, gid, size, env, ro, rw, required",
                          key, field);
}

/* The checks after the options (BuildKit parseMount's tail, and dispatchSSH). */
static int check_mount(const struct mount_state *st, struct kiln_error **err)
{
    const struct kiln_df_mount *m = st->m;
    const char *type = mount_types[m->type];
    bool file_info = m->type == KILN_DF_MOUNT_CACHE || m->type == KILN_DF_MOUNT_SECRET ||
                     m->type == KILN_DF_MOUNT_SSH;
    const char *bad = m->has_mode ? "mode" : m->has_uid ? "uid" : m->has_gid ? "gid" : NULL;
    if (!file_info && bad)
        return kiln_error_set(err, KILN_E_INVALID,
                              "'%s' is not allowed for %s mounts (only cache, secret and ssh)", bad,
                              type);
    if (m->type == KILN_DF_MOUNT_SECRET) {
        if (m->from[0])
            return kiln_error_set(err, KILN_E_INVALID, "a secret mount takes no from=");
        if (st->sharing_given)
            return kiln_error_set(err, KILN_E_INVALID, "a secret mount takes no sharing=");
        if (!m->source[0] && !m->target[0] && !m->id[0])
            return kiln_error_set(err, KILN_E_INVALID, "a secret mount needs id=ID or target=PATH");
        if (m->source[0] && m->id[0])
            return kiln_error_set(err, KILN_E_INVALID,
                                  "a secret mount takes source= or id=, not both");
    }
    if (st->sharing_given && m->type != KILN_DF_MOUNT_CACHE)
        return kiln_error_set(err, KILN_E_INVALID, "sharing= is for cache mounts only, not %s",
                              type);
    if (m->type == KILN_DF_MOUNT_SSH && m->source[0])
        return kiln_error_set(err, KILN_E_INVALID, "an ssh mount takes no source=; use id=ID");
    return 0;
}

/* The defaults conversion applies (convert_runmount.go, _secrets.go, _ssh.go). */
static void fill_defaults(struct mount_state *st)
{
    struct kiln_df_mount *m = st->m;
    if (st->ro_auto)
        m->readonly = m->type != KILN_DF_MOUNT_CACHE && m->type != KILN_DF_MOUNT_TMPFS;
    switch (m->type) {
    case KILN_DF_MOUNT_CACHE:
        if (!m->id[0]) {
            free(m->id);
            m->id = kiln_path_clean(m->target, strlen(m->target));
        }
        if (!st->sharing_given)
            m->sharing = KILN_DF_SHARING_SHARED;
        m->mode = m->has_mode ? m->mode : 0755;
        break;
    case KILN_DF_MOUNT_SECRET:
        if (m->source[0])
            set_string(&m->id, m->source);
        else if (!m->id[0]) {
            free(m->id);
            m->id = path_base(m->target);
        }
        if (!m->target[0] && !m->env) {
            _cleanup_free_ char *base = path_base(m->id);
            free(m->target);
            m->target = kiln_xasprintf("/run/secrets/%s", base);
        }
        m->mode = m->has_mode ? m->mode : 0400;
        break;
    case KILN_DF_MOUNT_SSH:
        if (!m->id[0])
            set_string(&m->id, "default");
        m->mode = m->has_mode ? m->mode : 0600;
        break;
    case KILN_DF_MOUNT_BIND:
    case KILN_DF_MOUNT_TMPFS: break;
    }
}

static int mount_from_fields(const struct kiln_strv *fields, kiln_df_expand_fn *expand,
                             void *userdata, struct kiln_df_mount **ret, struct kiln_error **err)
{
    _cleanup_(kiln_df_mount_freep) struct kiln_df_mount *m = kiln_xcalloc(1, sizeof(*m));
    *m = (struct kiln_df_mount){
            .type = KILN_DF_MOUNT_BIND,
            .from = kiln_xstrdup(""),
            .source = kiln_xstrdup(""),
            .target = kiln_xstrdup(""),
            .id = kiln_xstrdup(""),
    };
    struct mount_state st = {.m = m, .ro_auto = true};
    for (size_t i = 0; i < fields->n; i++) {
        int r = apply_field(&st, fields->v[i], expand, userdata, err);
        if (r < 0)
            return r;
    }
    int r = check_mount(&st, err);
    if (r < 0)
        return r;
    fill_defaults(&st);
    *ret = TAKE_PTR(m);
    return 0;
}

int kiln_df_mount_parse(const char *spec, kiln_df_expand_fn *expand, void *userdata,
                        struct kiln_df_mount **ret, struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv fields = KILN_STRV_INIT;
    int r = kiln_df__csv_fields(spec, &fields, err);
    if (r < 0)
        return r;
    return mount_from_fields(&fields, expand, userdata, ret, err);
}

void kiln_df_mount_free(struct kiln_df_mount *m)
{
    if (!m)
        return;
    free(m->from);
    free(m->source);
    free(m->target);
    free(m->id);
    free(m->env);
    free(m);
}

/*
 * What RUN checks of a mount at parse time (CSV, a literal from=), and the
 * typed mount when no value needs expanding.
 */
static int run_mount(const struct kiln_df__req *rq, const char *spec, struct kiln_df_run_mount *rm,
                     struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv fields = KILN_STRV_INIT;
    _cleanup_(kiln_error_freep) struct kiln_error *e = NULL;
    if (kiln_df__csv_fields(spec, &fields, &e) < 0)
        return kiln_df__fail(rq, err, "--mount=%s: %s", spec, e->message);
    bool expand = false;
    for (size_t i = 0; i < fields.n; i++) {
        const char *eq = strchr(fields.v[i], '=');
        if (!eq)
            continue;
        expand = expand || kiln_df_word_expands(eq + 1, rq->escape);
        _cleanup_free_ char *key = kiln_xstrndup(fields.v[i], (size_t)(eq - fields.v[i]));
        _cleanup_free_ char *lo = go_lower(key);
        const char *dollar = strchr(eq + 1, '$');
        if (strcmp(lo, "from") == 0 && dollar && dollar[1] != '\0')
            return kiln_df__fail(rq, err,
                                 "--mount=%s: variable expansion is not supported for from=; "
                                 "define a stage from the variable (ARG before the first FROM, "
                                 "then FROM $VAR AS NAME) and use from=NAME",
                                 spec);
    }
    *rm = (struct kiln_df_run_mount){.spec = kiln_xstrdup(spec), .expand = expand};
    if (!expand && mount_from_fields(&fields, NULL, NULL, &rm->mount, &e) < 0)
        rm->error = kiln_xstrdup(e->message);
    return 0;
}

/* BuildKit ParseDevice: the first bare word (or unknown key=value) is the name. */
static int run_device(const struct kiln_df__req *rq, const char *spec, struct kiln_df_device *ret,
                      struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv fields = KILN_STRV_INIT;
    _cleanup_(kiln_error_freep) struct kiln_error *e = NULL;
    if (kiln_df__csv_fields(spec, &fields, &e) < 0)
        return kiln_df__fail(rq, err, "--device=%s: %s", spec, e->message);
    _cleanup_free_ char *name = kiln_xstrdup("");
    bool required = false;
    for (size_t i = 0; i < fields.n; i++) {
        const char *field = fields.v[i], *eq = strchr(field, '=');
        _cleanup_free_ char *raw = kiln_xstrndup(field, eq ? (size_t)(eq - field) : strlen(field));
        _cleanup_free_ char *key = go_lower(raw);
        if (strcmp(key, "required") == 0 && !eq) {
            required = true;
        } else if (strcmp(key, "required") == 0) {
            if (kiln_df__go_bool(eq + 1, &required) < 0)
                return kiln_df__fail(rq, err, "--device=%s: required=%s: use true or false", spec,
                                     eq + 1);
        } else if (strcmp(key, "name") == 0 && eq) {
            if (name[0])
                return kiln_df__fail(rq, err, "--device=%s: the device is named twice ('%s')", spec,
                                     name);
            set_string(&name, eq + 1);
        } else if (!name[0]) {
            set_string(&name, field);
        } else if (!eq) {
            return kiln_df__fail(rq, err, "--device=%s: '%s' needs a value: write %s=VALUE", spec,
                                 field, field);
        } else {
            static const char *const keys[] = {"name", "required"};
            const char *match = kiln_df__suggest(key, keys, ELEMENTSOF(keys), true);
            return kiln_df__fail(rq, err, "--device=%s: unknown option '%s'%s%s%s", spec, key,
                                 match ? " (did you mean "
                                       : "; a device takes NAME, name=NAME "
                                         "and required",
                                 match ? match : "", match ? "?)" : "");
        }
    }
    *ret = (struct kiln_df_device){.name = TAKE_PTR(name), .required = required};
    return 0;
}

enum { F_MOUNT, F_NETWORK, F_SECURITY, F_DEVICE };

static const struct kiln_df__flag_spec run_flags[] = {
        [F_MOUNT] = {"mount", KILN_DF__FLAG_LIST, "type=TYPE,target=PATH,..."},
        [F_NETWORK] = {"network", KILN_DF__FLAG_STRING, "default|none|host"},
        [F_SECURITY] = {"security", KILN_DF__FLAG_STRING, "sandbox|insecure"},
        [F_DEVICE] = {"device", KILN_DF__FLAG_LIST, "NAME[,required]"},
};

/* BuildKit's RUN post hooks, in their order: devices, mounts, network, security. */
static int run_options(const struct kiln_df__req *rq, const struct kiln_df__flag *fl,
                       struct kiln_df_run *run, struct kiln_error **err)
{
    const struct kiln_strv *devices = &fl[F_DEVICE].list, *mounts = &fl[F_MOUNT].list;
    run->devices = kiln_xcalloc(devices->n, sizeof(*run->devices));
    for (size_t i = 0; i < devices->n; i++, run->n_devices++)
        if (run_device(rq, devices->v[i], &run->devices[i], err) < 0)
            return KILN_E_INVALID;
    run->mounts = kiln_xcalloc(mounts->n, sizeof(*run->mounts));
    for (size_t i = 0; i < mounts->n; i++, run->n_mounts++)
        if (run_mount(rq, mounts->v[i], &run->mounts[i], err) < 0)
            return KILN_E_INVALID;
    const char *net = fl[F_NETWORK].set ? fl[F_NETWORK].value : "default";
    int i = lookup(networks, ELEMENTSOF(networks), net);
    if (i < 0)
        return kiln_df__fail(rq, err,
                             "--network=%s is not a network mode; use default, none "
                             "or host",
                             net);
    run->network = (enum kiln_df_network)i;
    const char *sec = fl[F_SECURITY].set ? fl[F_SECURITY].value : "sandbox";
    i = lookup(securities, ELEMENTSOF(securities), sec);
    if (i < 0)
        return kiln_df__fail(rq, err, "--security=%s is not valid; use sandbox or insecure", sec);
    run->security = (enum kiln_df_security)i;
    return 0;
}

int kiln_df__parse_run(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                       struct kiln_error **err)
{
    struct kiln_df__flag fl[ELEMENTSOF(run_flags)];
    int r = kiln_df__flags_parse(rq, run_flags, ELEMENTSOF(run_flags), fl, err);
    if (r < 0)
        return r;
    struct kiln_df_run run = {0};
    r = run_options(rq, fl, &run, err);
    kiln_df__flags_release(fl, ELEMENTSOF(fl));
    if (r < 0) {
        kiln_df__run_release(&run);
        return r;
    }
    kiln_df__cmdline_init(rq->node, &run.cmd);
    ins->run = run;
    return 0;
}

void kiln_df__run_release(struct kiln_df_run *run)
{
    kiln_df__cmdline_release(&run->cmd);
    for (size_t i = 0; i < run->n_mounts; i++) {
        free(run->mounts[i].spec);
        kiln_df_mount_free(run->mounts[i].mount);
        free(run->mounts[i].error);
    }
    free(run->mounts);
    for (size_t i = 0; i < run->n_devices; i++)
        free(run->devices[i].name);
    free(run->devices);
}
