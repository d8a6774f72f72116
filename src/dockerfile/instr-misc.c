/* SPDX-License-Identifier: Apache-2.0 */
/*
 * instr-misc.c - the instructions without a file of their own: FROM,
 * CMD/ENTRYPOINT, ENV/LABEL, ARG, EXPOSE, VOLUME, SHELL, the one-argument
 * ones, HEALTHCHECK and ONBUILD (BuildKit's instructions/parse.go).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "goquote.h"
#include "instructions.h"
#include "parser-internal.h"

#include "base/banned.h"

static int no_flags(const struct kiln_df__req *rq, struct kiln_error **err)
{
    return kiln_df__flags_parse(rq, NULL, 0, NULL, err);
}

static char *go_lower(const char *s)
{
    struct kiln_buf b = KILN_BUF_INIT((size_t)-1 / 4);
    (void)kiln_go_tolower(&b, s, strlen(s));
    return kiln_buf_detach(&b, NULL);
}

static char *ascii_upper(const char *s)
{
    char *u = kiln_xstrdup(s);
    for (char *p = u; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - ('a' - 'A'));
    return u;
}

/* BuildKit's ^[a-z][a-z0-9-_.]*$ on the lower-cased stage name. */
static bool valid_stage_name(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr("-_.", *s)))
            return false;
    return true;
}

#define FROM_USAGE "FROM [--platform=PLATFORM] IMAGE [AS NAME]"

static int stage_name(const struct kiln_df__req *rq, char **ret, struct kiln_error **err)
{
    const struct kiln_strv *a = &rq->node->args;
    bool as = a->n >= 2 && strcasecmp(a->v[1], "as") == 0;
    if (a->n == 0)
        return kiln_df__fail(rq, err, "needs an image: " FROM_USAGE);
    if (a->n == 2 && as)
        return kiln_df__fail(rq, err, "'AS' needs a stage name: FROM IMAGE AS NAME");
    if (a->n == 2)
        return kiln_df__fail(rq, err,
                             "unexpected '%s' after the image; to name the stage write "
                             "FROM IMAGE AS NAME",
                             a->v[1]);
    if (a->n == 3 && !as)
        return kiln_df__fail(
                rq, err, "expected 'AS' before the stage name, found '%s': " FROM_USAGE, a->v[1]);
    if (a->n > 3)
        return kiln_df__fail(rq, err, "too many arguments (%zu): " FROM_USAGE, a->n);
    _cleanup_free_ char *name = kiln_xstrdup("");
    if (a->n == 3) {
        free(name);
        name = go_lower(a->v[2]);
        if (!valid_stage_name(name))
            return kiln_df__fail(rq, err,
                                 "invalid stage name '%s': a stage name starts with a letter "
                                 "and holds only letters, digits, '-', '_' and '.'",
                                 a->v[2]);
    }
    *ret = TAKE_PTR(name);
    return 0;
}

int kiln_df__parse_from(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                        struct kiln_error **err)
{
    static const struct kiln_df__flag_spec specs[] = {
            {"platform", KILN_DF__FLAG_STRING, "OS/ARCH[/VARIANT]"},
    };
    struct kiln_df__flag fl[ELEMENTSOF(specs)];
    _cleanup_free_ char *name = NULL;
    int r = stage_name(rq, &name, err);
    if (r < 0)
        return r;
    r = kiln_df__flags_parse(rq, specs, ELEMENTSOF(specs), fl, err);
    if (r < 0)
        return r;
    ins->from = (struct kiln_df_from){
            .base = kiln_xstrdup(rq->node->args.v[0]),
            .name = TAKE_PTR(name),
            .platform = kiln_xstrdup(fl[0].set ? fl[0].value : ""),
    };
    kiln_df__flags_release(fl, ELEMENTSOF(fl));
    return 0;
}

void kiln_df__cmdline_init(const struct kiln_df_node *node, struct kiln_df_cmdline *ret)
{
    struct kiln_df_cmdline c = {.args = KILN_STRV_INIT, .prepend_shell = !node->json};
    if (node->json) {
        for (size_t i = 0; i < node->args.n; i++)
            kiln_strv_push(&c.args, node->args.v[i]);
    } else if (node->args.n > 0) {
        struct kiln_buf b = KILN_BUF_INIT((size_t)-1 / 4);
        for (size_t i = 0; i < node->args.n; i++)
            (void)kiln_buf_addf(&b, "%s%s", i ? " " : "", node->args.v[i]);
        kiln_strv_take(&c.args, kiln_buf_detach(&b, NULL));
    }
    if (node->n_heredocs > 0)
        c.files = kiln_xcalloc(node->n_heredocs, sizeof(*c.files));
    for (size_t i = 0; i < node->n_heredocs; i++)
        c.files[c.n_files++] = (struct kiln_df_inline_file){
                .name = kiln_xstrdup(node->heredocs[i].name),
                .data = kiln_xstrdup(node->heredocs[i].content),
                .chomp = node->heredocs[i].chomp,
        };
    *ret = c;
}

void kiln_df__cmdline_release(struct kiln_df_cmdline *c)
{
    kiln_strv_release(&c->args);
    for (size_t i = 0; i < c->n_files; i++) {
        free(c->files[i].name);
        free(c->files[i].data);
    }
    free(c->files);
}

int kiln_df__parse_cmd(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                       struct kiln_error **err)
{
    int r = no_flags(rq, err);
    if (r < 0)
        return r;
    kiln_df__cmdline_init(rq->node, &ins->cmd);
    return 0;
}

int kiln_df__parse_keyvalue(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                            struct kiln_error **err)
{
    const struct kiln_strv *a = &rq->node->args;
    int r = no_flags(rq, err);
    if (r < 0)
        return r;
    if (a->n == 0)
        return kiln_df__fail(rq, err, "needs at least one KEY=VALUE");
    if (a->n % 3 != 0)
        return kiln_df__fail(rq, err, "malformed key/value list (%zu words)", a->n);
    for (size_t i = 0; i < a->n; i += 3)
        if (a->v[i][0] == '\0')
            return kiln_df__fail(rq, err, "empty name in '=%s'; write KEY=VALUE", a->v[i + 1]);
    ins->n_pairs = a->n / 3;
    ins->pairs = kiln_xcalloc(ins->n_pairs, sizeof(*ins->pairs));
    for (size_t i = 0; i < ins->n_pairs; i++)
        ins->pairs[i] = (struct kiln_df_keyvalue){
                .key = kiln_xstrdup(a->v[3 * i]),
                .value = kiln_xstrdup(a->v[3 * i + 1]),
                .no_delim = a->v[3 * i + 2][0] == '\0',
        };
    return 0;
}

/* ARG: BuildKit parses no flags here, so `ARG --x A` is A. */
int kiln_df__parse_arg(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                       struct kiln_error **err)
{
    const struct kiln_strv *a = &rq->node->args;
    if (a->n == 0)
        return kiln_df__fail(rq, err, "needs at least one NAME[=DEFAULT]");
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i][0] == '=')
            return kiln_df__fail(rq, err, "empty name in '%s'; write NAME[=DEFAULT]", a->v[i]);
    ins->n_args = a->n;
    ins->args = kiln_xcalloc(a->n, sizeof(*ins->args));
    for (size_t i = 0; i < a->n; i++) {
        const char *eq = strchr(a->v[i], '=');
        ins->args[i] = (struct kiln_df_argdef){
                .key = eq ? kiln_xstrndup(a->v[i], (size_t)(eq - a->v[i])) : kiln_xstrdup(a->v[i]),
                .value = eq ? kiln_xstrdup(eq + 1) : NULL,
        };
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kiln_df__parse_expose(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                          struct kiln_error **err)
{
    const struct kiln_strv *a = &rq->node->args;
    if (a->n == 0)
        return kiln_df__fail(rq, err, "needs at least one port: EXPOSE PORT[/PROTOCOL]...");
    int r = no_flags(rq, err);
    if (r < 0)
        return r;
    ins->words = (struct kiln_strv)KILN_STRV_INIT;
    for (size_t i = 0; i < a->n; i++)
        kiln_strv_push(&ins->words, a->v[i]);
    qsort(ins->words.v, ins->words.n, sizeof(char *), cmp_str);
    return 0;
}

int kiln_df__parse_volume(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                          struct kiln_error **err)
{
    const struct kiln_strv *a = &rq->node->args;
    if (a->n == 0)
        return kiln_df__fail(rq, err, "needs at least one path: VOLUME PATH...");
    int r = no_flags(rq, err);
    if (r < 0)
        return r;
    _cleanup_strv_ struct kiln_strv v = KILN_STRV_INIT;
    for (size_t i = 0; i < a->n; i++) {
        const char *s = a->v[i];
        size_t n = strlen(s), lead = kiln_df__span_space(s, n);
        size_t len = kiln_df__trim_right_space(s + lead, n - lead);
        if (len == 0)
            return kiln_df__fail(rq, err, "volume %zu is an empty path; give each volume a path",
                                 i + 1);
        kiln_strv_pushn(&v, s + lead, len);
    }
    ins->words = v;
    v = (struct kiln_strv)KILN_STRV_INIT;
    return 0;
}

int kiln_df__parse_shell(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                         struct kiln_error **err)
{
    const struct kiln_df_node *node = rq->node;
    int r = no_flags(rq, err);
    if (r < 0)
        return r;
    if (node->args.n == 0)
        return kiln_df__fail(rq, err, "needs a shell: SHELL [\"EXECUTABLE\", \"PARAMETERS\"...]");
    if (!node->json)
        return kiln_df__fail(rq, err,
                             "needs the JSON form: SHELL [\"EXECUTABLE\", \"PARAMETERS\"...]");
    ins->words = (struct kiln_strv)KILN_STRV_INIT;
    for (size_t i = 0; i < node->args.n; i++)
        kiln_strv_push(&ins->words, node->args.v[i]);
    return 0;
}

/* USER, WORKDIR, STOPSIGNAL, MAINTAINER. STOPSIGNAL parses no flags in BuildKit. */
int kiln_df__parse_single(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                          struct kiln_error **err)
{
    const char *usage = ins->kind == KILN_DF_USER         ? "USER NAME[:GROUP]"
                        : ins->kind == KILN_DF_WORKDIR    ? "WORKDIR PATH"
                        : ins->kind == KILN_DF_STOPSIGNAL ? "STOPSIGNAL SIGNAL"
                                                          : "MAINTAINER NAME";
    if (rq->node->args.n != 1)
        return kiln_df__fail(rq, err, "needs exactly one argument: %s", usage);
    int r = ins->kind == KILN_DF_STOPSIGNAL ? 0 : no_flags(rq, err);
    if (r < 0)
        return r;
    ins->value = kiln_xstrdup(rq->node->args.v[0]);
    return 0;
}

int kiln_df__parse_onbuild(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                           struct kiln_error **err)
{
    const struct kiln_df_node *node = rq->node;
    if (!node->sub)
        return kiln_df__fail(rq, err, "needs an instruction: ONBUILD INSTRUCTION ARGUMENTS");
    int r = no_flags(rq, err);
    if (r < 0)
        return r;
    const char *kw = node->sub->keyword;
    size_t n = strlen(kw), lead = kiln_df__span_space(kw, n);
    _cleanup_free_ char *raw =
            kiln_xstrndup(kw + lead, kiln_df__trim_right_space(kw + lead, n - lead));
    _cleanup_free_ char *trigger = ascii_upper(raw);
    if (strcmp(trigger, "ONBUILD") == 0)
        return kiln_df__fail(rq, err, "chaining ONBUILD via 'ONBUILD ONBUILD' isn't allowed");
    if (strcmp(trigger, "FROM") == 0 || strcmp(trigger, "MAINTAINER") == 0)
        return kiln_df__fail(rq, err, "%s isn't allowed as an ONBUILD trigger", trigger);

    /* (?i)^\s*ONBUILD\s* removed from the original text (\s: [\t\n\f\r ]). */
    const char *ws = "\t\n\f\r ", *s = node->original;
    const char *p = s + strspn(s, ws);
    if (strncasecmp(p, "onbuild", 7) == 0)
        s = p + 7 + strspn(p + 7, ws);
    struct kiln_buf b = KILN_BUF_INIT((size_t)-1 / 4);
    (void)kiln_buf_adds(&b, s);
    for (size_t i = 0; i < node->n_heredocs; i++)
        (void)kiln_buf_addf(&b, "\n%s%s", node->heredocs[i].content, node->heredocs[i].name);
    ins->onbuild.trigger = TAKE_PTR(trigger);
    ins->onbuild.expression = kiln_buf_detach(&b, NULL);
    return 0;
}

#define HEALTH_USAGE "HEALTHCHECK [OPTIONS] CMD COMMAND, or HEALTHCHECK NONE"

static const struct kiln_df__flag_spec health_flags[] = {
        {"interval", KILN_DF__FLAG_STRING, "DURATION"},
        {"timeout", KILN_DF__FLAG_STRING, "DURATION"},
        {"start-period", KILN_DF__FLAG_STRING, "DURATION"},
        {"start-interval", KILN_DF__FLAG_STRING, "DURATION"},
        {"retries", KILN_DF__FLAG_STRING, "N"},
};

/* The flag values of a HEALTHCHECK CMD, in BuildKit's order of checks. */
static int health_options(const struct kiln_df__req *rq, const struct kiln_df__flag *fl,
                          struct kiln_df_healthcheck *h, struct kiln_error **err)
{
    int64_t *slots[] = {&h->interval, &h->timeout, &h->start_period, &h->start_interval};
    for (size_t i = 0; i < ELEMENTSOF(slots); i++) {
        const char *v = fl[i].set ? fl[i].value : "";
        const char *name = health_flags[i].name;
        if (v[0] == '\0')
            continue;
        if (kiln_df__go_duration(v, slots[i]) < 0)
            return kiln_df__fail(rq, err,
                                 "--%s=%s is not a duration; write one such as 30s, 1m30s "
                                 "or 500ms",
                                 name, v);
        if (*slots[i] != 0 && *slots[i] < 1000000)
            return kiln_df__fail(rq, err,
                                 "--%s=%s is less than 1ms; use 0 (the default) or at least 1ms",
                                 name, v);
    }
    const char *v = fl[4].set ? fl[4].value : "";
    int32_t retries = 0;
    int r = v[0] ? kiln_df__go_int32(v, &retries) : 0;
    if (r == -1)
        return kiln_df__fail(rq, err, "--retries=%s is not a whole number", v);
    if (r == -2)
        return kiln_df__fail(rq, err, "--retries=%s is out of range (at most %d)", v, INT32_MAX);
    if (retries < 0)
        return kiln_df__fail(rq, err, "--retries=%s is negative; use 0 or more", v);
    h->retries = retries;
    return 0;
}

static int health_cmd(const struct kiln_df__req *rq, struct kiln_df_healthcheck *h,
                      struct kiln_error **err)
{
    const struct kiln_df_node *node = rq->node;
    struct kiln_df__flag fl[ELEMENTSOF(health_flags)];
    int r = kiln_df__flags_parse(rq, health_flags, ELEMENTSOF(health_flags), fl, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *type = ascii_upper(node->args.v[0]);
    if (strcmp(type, "CMD") != 0)
        r = kiln_df__fail(rq, err, "unknown type '%s'; use " HEALTH_USAGE, node->args.v[0]);
    else if (node->args.n < 2)
        r = kiln_df__fail(rq, err, "CMD needs a command: HEALTHCHECK [OPTIONS] CMD COMMAND");
    else
        r = health_options(rq, fl, h, err);
    kiln_df__flags_release(fl, ELEMENTSOF(fl));
    if (r < 0)
        return r;
    kiln_strv_push(&h->test, node->json ? "CMD" : "CMD-SHELL");
    if (node->json) {
        for (size_t i = 1; i < node->args.n; i++)
            kiln_strv_push(&h->test, node->args.v[i]);
        return 0;
    }
    struct kiln_buf b = KILN_BUF_INIT((size_t)-1 / 4);
    for (size_t i = 1; i < node->args.n; i++)
        (void)kiln_buf_addf(&b, "%s%s", i > 1 ? " " : "", node->args.v[i]);
    kiln_strv_take(&h->test, kiln_buf_detach(&b, NULL));
    return 0;
}

/* HEALTHCHECK NONE parses no flags in BuildKit: they are ignored there. */
int kiln_df__parse_healthcheck(const struct kiln_df__req *rq, struct kiln_df_instruction *ins,
                               struct kiln_error **err)
{
    const struct kiln_df_node *node = rq->node;
    if (node->args.n == 0)
        return kiln_df__fail(rq, err, "needs CMD or NONE: " HEALTH_USAGE);
    struct kiln_df_healthcheck h = {.test = KILN_STRV_INIT};
    if (strcasecmp(node->args.v[0], "none") == 0) {
        if (node->args.n > 1)
            return kiln_df__fail(rq, err, "NONE takes no arguments");
        kiln_strv_push(&h.test, "NONE");
    } else {
        int r = health_cmd(rq, &h, err);
        if (r < 0)
            return r;
    }
    ins->health = h;
    return 0;
}
