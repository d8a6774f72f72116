/* SPDX-License-Identifier: Apache-2.0 */
/*
 * df-json.c - `kiln debug parse --json`: the typed instructions as JSON.
 *
 * Shape (keys appear in this order; a key of an instruction is always
 * present for its kind, null when the Dockerfile did not give it):
 *   {"escape": "\\", "directives": {"syntax": ...}, "warnings": [...],
 *    "meta_args": [ARG...],
 *    "stages": [{"name", "base", "platform", "line", "end_line", "original",
 *                "expand": [...], "instructions": [{"instruction": "RUN",
 *                "line", "end_line", "original", "expand": [...], ...}]}]}
 * "expand" names the fields conversion expands with build args and ENV.
 */
#include "df-json.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "dockerfile/goquote.h"
#include "dockerfile/instructions.h"

#include "base/banned.h"

/* A JSON string; invalid UTF-8 bytes become U+FFFD as Go's encoder does. NULL: null. */
static json_t *jstr(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    struct kiln_buf b = KILN_BUF_INIT((size_t)-1 / 4);
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        uint32_t r;
        i += kiln_utf8_decode(s + i, n - i, &r);
        (void)kiln_utf8_encode(&b, r);
    }
    j = json_stringn(b.buf, b.len);
    kiln_buf_release(&b);
    return j;
}

/* "" (a flag not given) as null. */
static json_t *jopt(const char *s)
{
    return s && s[0] ? jstr(s) : json_null();
}

static json_t *jstrv(const struct kiln_strv *v)
{
    json_t *a = json_array();
    for (size_t i = 0; i < v->n; i++)
        json_array_append_new(a, jstr(v->v[i]));
    return a;
}

static json_t *jtristate(enum kiln_df_tristate t)
{
    return t == KILN_DF_UNSET ? json_null() : json_boolean(t == KILN_DF_TRUE);
}

static json_t *jmode(uint32_t mode)
{
    char s[16];
    (void)snprintf(s, sizeof(s), "%04o", mode);
    return json_string(s);
}

static void set(json_t *o, const char *key, json_t *v)
{
    json_object_set_new(o, key, v);
}

static void add_cmdline(json_t *o, const struct kiln_df_cmdline *c)
{
    set(o, "command", jstrv(&c->args));
    set(o, "shell_form", json_boolean(c->prepend_shell));
    json_t *files = json_array();
    for (size_t i = 0; i < c->n_files; i++)
        json_array_append_new(files,
                              json_pack("{s:o,s:o,s:b}", "name", jstr(c->files[i].name), "data",
                                        jstr(c->files[i].data), "chomp", c->files[i].chomp));
    set(o, "heredocs", files);
}

static json_t *mount_json(const struct kiln_df_mount *m)
{
    json_t *o = json_object();
    set(o, "type", json_string(kiln_df_mount_type_name(m->type)));
    set(o, "from", jopt(m->from));
    set(o, "source", jopt(m->source));
    set(o, "target", jopt(m->target));
    set(o, "readonly", json_boolean(m->readonly));
    if (m->type == KILN_DF_MOUNT_CACHE || m->type == KILN_DF_MOUNT_SECRET ||
        m->type == KILN_DF_MOUNT_SSH) {
        set(o, "id", jstr(m->id));
        set(o, "mode", jmode(m->mode));
        set(o, "uid", json_integer(m->uid));
        set(o, "gid", json_integer(m->gid));
    }
    if (m->type == KILN_DF_MOUNT_CACHE)
        set(o, "sharing", json_string(kiln_df_sharing_name(m->sharing)));
    if (m->type == KILN_DF_MOUNT_SECRET)
        set(o, "env", jstr(m->env));
    if (m->type == KILN_DF_MOUNT_SECRET || m->type == KILN_DF_MOUNT_SSH)
        set(o, "required", json_boolean(m->required));
    if (m->type == KILN_DF_MOUNT_TMPFS)
        set(o, "size", json_integer(m->size));
    return o;
}

static void add_run(json_t *o, const struct kiln_df_run *run)
{
    add_cmdline(o, &run->cmd);
    json_t *mounts = json_array();
    for (size_t i = 0; i < run->n_mounts; i++) {
        const struct kiln_df_run_mount *rm = &run->mounts[i];
        json_array_append_new(mounts, json_pack("{s:o,s:b,s:o,s:o}", "spec", jstr(rm->spec),
                                                "expand", rm->expand, "mount",
                                                rm->mount ? mount_json(rm->mount) : json_null(),
                                                "error", jstr(rm->error)));
    }
    set(o, "mounts", mounts);
    json_t *devices = json_array();
    for (size_t i = 0; i < run->n_devices; i++)
        json_array_append_new(devices, json_pack("{s:o,s:b}", "name", jstr(run->devices[i].name),
                                                 "required", run->devices[i].required));
    set(o, "devices", devices);
    set(o, "network", json_string(kiln_df_network_name(run->network)));
    set(o, "security", json_string(kiln_df_security_name(run->security)));
}

static void add_copy(json_t *o, const struct kiln_df_copy *c, bool is_add)
{
    set(o, "sources", jstrv(&c->sources));
    json_t *contents = json_array();
    for (size_t i = 0; i < c->n_contents; i++)
        json_array_append_new(
                contents, json_pack("{s:o,s:o,s:b}", "path", jstr(c->contents[i].path), "data",
                                    jstr(c->contents[i].data), "expand", c->contents[i].expand));
    set(o, "heredocs", contents);
    set(o, "dest", jstr(c->dest));
    if (!is_add)
        set(o, "from", jopt(c->from));
    set(o, "chown", jopt(c->chown));
    set(o, "chmod", jopt(c->chmod));
    set(o, "link", json_boolean(c->link));
    set(o, "excludes", jstrv(&c->excludes));
    if (!is_add) {
        set(o, "parents", json_boolean(c->parents));
        return;
    }
    set(o, "checksum", jopt(c->checksum));
    set(o, "keep_git_dir", jtristate(c->keep_git_dir));
    set(o, "unpack", jtristate(c->unpack));
}

static void add_health(json_t *o, const struct kiln_df_healthcheck *h)
{
    set(o, "test", jstrv(&h->test));
    set(o, "interval_ns", json_integer(h->interval));
    set(o, "timeout_ns", json_integer(h->timeout));
    set(o, "start_period_ns", json_integer(h->start_period));
    set(o, "start_interval_ns", json_integer(h->start_interval));
    set(o, "retries", json_integer(h->retries));
}

static void add_pairs(json_t *o, const struct kiln_df_instruction *ins)
{
    json_t *a = json_array();
    for (size_t i = 0; i < ins->n_pairs; i++)
        json_array_append_new(a, json_pack("{s:o,s:o,s:b}", "key", jstr(ins->pairs[i].key), "value",
                                           jstr(ins->pairs[i].value), "legacy",
                                           ins->pairs[i].no_delim));
    set(o, "pairs", a);
}

static void add_args(json_t *o, const struct kiln_df_instruction *ins)
{
    json_t *a = json_array();
    for (size_t i = 0; i < ins->n_args; i++)
        json_array_append_new(a, json_pack("{s:o,s:o}", "key", jstr(ins->args[i].key), "value",
                                           jstr(ins->args[i].value)));
    set(o, "args", a);
}

/* Per kind: the key of its single field (if any) and what conversion expands. */
static const struct {
    const char *field;
    const char *expand;
} kind_info[] = {
        [KILN_DF_FROM] = {NULL, "base platform"},
        [KILN_DF_ADD] = {NULL, "sources dest chown chmod checksum heredocs"},
        [KILN_DF_ARG] = {NULL, "args"},
        [KILN_DF_CMD] = {NULL, ""},
        [KILN_DF_COPY] = {NULL, "sources dest chown chmod heredocs"},
        [KILN_DF_ENTRYPOINT] = {NULL, ""},
        [KILN_DF_ENV] = {NULL, "pairs"},
        [KILN_DF_EXPOSE] = {"ports", "ports"},
        [KILN_DF_HEALTHCHECK] = {NULL, ""},
        [KILN_DF_LABEL] = {NULL, "pairs"},
        [KILN_DF_MAINTAINER] = {"maintainer", ""},
        [KILN_DF_ONBUILD] = {NULL, ""},
        [KILN_DF_RUN] = {NULL, "mounts"},
        [KILN_DF_SHELL] = {"shell", ""},
        [KILN_DF_STOPSIGNAL] = {"signal", "signal"},
        [KILN_DF_USER] = {"user", "user"},
        [KILN_DF_VOLUME] = {"paths", "paths"},
        [KILN_DF_WORKDIR] = {"path", "path"},
};

static json_t *expand_list(enum kiln_df_kind kind)
{
    json_t *a = json_array();
    const char *s = kind_info[kind].expand;
    while (*s) {
        size_t n = strcspn(s, " ");
        json_array_append_new(a, json_stringn(s, n));
        s += n + (s[n] == ' ');
    }
    return a;
}

static void add_fields(json_t *o, const struct kiln_df_instruction *ins)
{
    const char *field = kind_info[ins->kind].field;
    switch (ins->kind) {
    case KILN_DF_RUN: add_run(o, &ins->run); break;
    case KILN_DF_CMD:
    case KILN_DF_ENTRYPOINT: add_cmdline(o, &ins->cmd); break;
    case KILN_DF_COPY:
    case KILN_DF_ADD: add_copy(o, &ins->copy, ins->kind == KILN_DF_ADD); break;
    case KILN_DF_HEALTHCHECK: add_health(o, &ins->health); break;
    case KILN_DF_ENV:
    case KILN_DF_LABEL: add_pairs(o, ins); break;
    case KILN_DF_ARG: add_args(o, ins); break;
    case KILN_DF_ONBUILD:
        set(o, "trigger", jstr(ins->onbuild.trigger));
        set(o, "expression", jstr(ins->onbuild.expression));
        break;
    case KILN_DF_EXPOSE:
    case KILN_DF_VOLUME:
    case KILN_DF_SHELL: set(o, field, jstrv(&ins->words)); break;
    case KILN_DF_MAINTAINER:
    case KILN_DF_STOPSIGNAL:
    case KILN_DF_USER:
    case KILN_DF_WORKDIR: set(o, field, jstr(ins->value)); break;
    case KILN_DF_FROM: break; /* a stage, see stage_json() */
    }
}

static json_t *instruction_json(const struct kiln_df_instruction *ins)
{
    json_t *o = json_object();
    set(o, "instruction", json_string(kiln_df_kind_name(ins->kind)));
    set(o, "line", json_integer(ins->start_line));
    set(o, "end_line", json_integer(ins->end_line));
    set(o, "original", jstr(ins->original));
    set(o, "expand", expand_list(ins->kind));
    add_fields(o, ins);
    return o;
}

static json_t *stage_json(const struct kiln_df_stage *st)
{
    json_t *o = json_object();
    set(o, "name", jopt(st->from.name));
    set(o, "base", jstr(st->from.base));
    set(o, "platform", jopt(st->from.platform));
    set(o, "line", json_integer(st->start_line));
    set(o, "end_line", json_integer(st->end_line));
    set(o, "original", jstr(st->original));
    set(o, "expand", expand_list(KILN_DF_FROM));
    json_t *a = json_array();
    for (size_t i = 0; i < st->n_instructions; i++)
        json_array_append_new(a, instruction_json(&st->instructions[i]));
    set(o, "instructions", a);
    return o;
}

static json_t *file_json(const struct kiln_df_ast *ast, const struct kiln_df_instructions *file)
{
    json_t *root = json_object();
    char escape[2] = {file->escape, '\0'};
    set(root, "escape", json_string(escape));
    json_t *directives = json_object();
    for (size_t i = 0; i < ast->n_directives; i++)
        set(directives, ast->directives[i].name, jstr(ast->directives[i].value));
    set(root, "directives", directives);
    json_t *warnings = json_array();
    for (size_t i = 0; i < ast->n_warnings; i++)
        json_array_append_new(warnings, json_pack("{s:i,s:o}", "line", ast->warnings[i].line,
                                                  "message", jstr(ast->warnings[i].message)));
    set(root, "warnings", warnings);
    json_t *meta = json_array();
    for (size_t i = 0; i < file->n_meta_args; i++)
        json_array_append_new(meta, instruction_json(&file->meta_args[i]));
    set(root, "meta_args", meta);
    json_t *stages = json_array();
    for (size_t i = 0; i < file->n_stages; i++)
        json_array_append_new(stages, stage_json(&file->stages[i]));
    set(root, "stages", stages);
    return root;
}

int kiln_client_df_json(const struct kiln_df_ast *ast, struct kiln_buf *out,
                        struct kiln_error **err)
{
    _cleanup_(kiln_df_instructions_freep) struct kiln_df_instructions *file = NULL;
    int r = kiln_df_instructions_parse(ast, &file, err);
    if (r < 0)
        return r;
    _cleanup_(json_decrefp) json_t *root = file_json(ast, file);
    _cleanup_free_ char *text = json_dumps(root, JSON_INDENT(2));
    if (!text)
        return kiln_error_set(err, -ENOMEM, "cannot format the instructions as JSON");
    r = kiln_buf_adds(out, text);
    if (r >= 0)
        r = kiln_buf_addch(out, '\n');
    if (r < 0)
        return kiln_error_set(err, r, "the JSON output is larger than %zu bytes", out->max);
    return 0;
}
