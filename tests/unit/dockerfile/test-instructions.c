/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-instructions.c - layer 2: every instruction's flags, arguments and
 * errors (message and line), RUN --mount options and defaults, and the Go
 * value syntax (durations, sizes, CSV) they use.
 */
#include <stdlib.h>
#include <string.h>

#include "dockerfile/instructions.h"
#include "dockerfile/parser.h"

static struct kiln_df_instructions *typed(const char *text)
{
    struct kiln_df_ast *ast = NULL;
    struct kiln_error *err = NULL;
    int r = kiln_df_parse(text, strlen(text), &ast, &err);
    if (r < 0)
        fail_msg("parse of [%s] failed: %s", text, kiln_error_message(err, r));
    struct kiln_df_instructions *file = NULL;
    r = kiln_df_instructions_parse(ast, &file, &err);
    if (r < 0)
        fail_msg("typing [%s] failed at line %u: %s", text, err->line, kiln_error_message(err, r));
    kiln_df_ast_free(ast);
    return file;
}

/* The file one() typed last: freed by the next call and after the tests. */
static struct kiln_df_instructions *held;

static int release_held(void **state)
{
    kiln_df_instructions_free(held);
    held = NULL;
    return 0;
}

/* The first instruction of the first stage ("FROM a\n" is prepended). */
static const struct kiln_df_instruction *one(const char *text)
{
    char *full = NULL;
    assert_true(asprintf(&full, "FROM a\n%s", text) > 0);
    release_held(NULL);
    held = typed(full);
    free(full);
    assert_int_equal(held->n_stages, 1);
    assert_int_equal(held->stages[0].n_instructions, 1);
    return &held->stages[0].instructions[0];
}

static void expect_error(const char *text, unsigned line, const char *message)
{
    struct kiln_df_ast *ast = NULL;
    struct kiln_error *err = NULL;
    int r = kiln_df_parse(text, strlen(text), &ast, &err);
    if (r < 0)
        fail_msg("parse of [%s] failed: %s", text, kiln_error_message(err, r));
    struct kiln_df_instructions *file = NULL;
    r = kiln_df_instructions_parse(ast, &file, &err);
    if (r >= 0)
        fail_msg("[%s] was accepted, want '%s'", text, message);
    assert_int_equal(r, KILN_E_INVALID);
    if (strcmp(err->message, message) != 0)
        fail_msg("[%s]:\n got '%s'\nwant '%s'", text, err->message, message);
    if (err->line != line)
        fail_msg("[%s]: error at line %u, want %u", text, err->line, line);
    kiln_error_free(err);
    kiln_df_ast_free(ast);
}

/* "FROM a\n" + text must fail at line 2 with message. */
static void expect_error2(const char *text, const char *message)
{
    char *full = NULL;
    assert_true(asprintf(&full, "FROM a\n%s", text) > 0);
    expect_error(full, 2, message);
    free(full);
}

static void expect_strv(const struct kiln_strv *v, const char *const *want, size_t n)
{
    assert_int_equal(v->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v->v[i], want[i]);
}

#define EXPECT_STRV(v, ...)                                        \
    do {                                                           \
        const char *const want_[] = {__VA_ARGS__};                 \
        expect_strv((v), want_, sizeof(want_) / sizeof(want_[0])); \
    } while (0)

static void test_instructions__stages_and_meta_args(void **state)
{
    struct kiln_df_instructions *f = typed("ARG V=1\nARG W\nFROM --platform=linux/arm64 img:$V "
                                           "AS Build\nRUN a\nfrom build as Next\nFROM scratch\n");
    assert_int_equal(f->escape, '\\');
    assert_int_equal(f->n_meta_args, 2);
    assert_string_equal(f->meta_args[0].args[0].key, "V");
    assert_string_equal(f->meta_args[0].args[0].value, "1");
    assert_null(f->meta_args[1].args[0].value);
    assert_int_equal(f->n_stages, 3);
    assert_string_equal(f->stages[0].from.name, "build");
    assert_string_equal(f->stages[0].from.base, "img:$V");
    assert_string_equal(f->stages[0].from.platform, "linux/arm64");
    assert_int_equal(f->stages[0].start_line, 3);
    assert_int_equal(f->stages[0].end_line, 4);
    assert_int_equal(f->stages[0].n_instructions, 1);
    assert_string_equal(f->stages[1].from.name, "next");
    assert_string_equal(f->stages[2].from.name, "");
    assert_string_equal(f->stages[2].from.platform, "");
    assert_string_equal(f->stages[2].original, "FROM scratch");
    kiln_df_instructions_free(f);
    f = typed("FROM a AS b-1_c.d\n");
    assert_string_equal(f->stages[0].from.name, "b-1_c.d");
    kiln_df_instructions_free(f);
}

static void test_instructions__from_errors(void **state)
{
    expect_error("FROM\n", 1, "FROM: needs an image: FROM [--platform=PLATFORM] IMAGE [AS NAME]");
    expect_error("FROM a\nFROM b AS\n", 2, "FROM: 'AS' needs a stage name: FROM IMAGE AS NAME");
    expect_error("FROM a b\n", 1,
                 "FROM: unexpected 'b' after the image; to name the stage write FROM IMAGE AS "
                 "NAME");
    expect_error("FROM a is b\n", 1,
                 "FROM: expected 'AS' before the stage name, found 'is': FROM "
                 "[--platform=PLATFORM] IMAGE [AS NAME]");
    expect_error("FROM a AS b c\n", 1,
                 "FROM: too many arguments (4): FROM [--platform=PLATFORM] IMAGE [AS NAME]");
    expect_error("FROM a AS 1st\n", 1,
                 "FROM: invalid stage name '1st': a stage name starts with a letter and holds "
                 "only letters, digits, '-', '_' and '.'");
    expect_error("FROM a AS b/c\n", 1,
                 "FROM: invalid stage name 'b/c': a stage name starts with a letter and holds "
                 "only letters, digits, '-', '_' and '.'");
    expect_error("FROM --platform a\n", 1,
                 "FROM: flag --platform needs a value (--platform=OS/ARCH[/VARIANT])");
    expect_error("FROM --platfrom=x a\n", 1,
                 "FROM: unknown flag --platfrom (did you mean --platform?)");
    expect_error("ARG A\nRUN x\nFROM a\n", 2,
                 "RUN: no build stage in current context; a Dockerfile starts with FROM (only "
                 "ARG may come before it)");
}

static void test_instructions__unknown_instruction(void **state)
{
    expect_error("FROM a\nBADCMD bar\n", 2, "unknown instruction: BADCMD");
    expect_error("FROM a\nFOO bar\n", 2, "unknown instruction: FOO (did you mean FROM?)");
    expect_error("FROM a\nFNTRYPOINT x\n", 2,
                 "unknown instruction: FNTRYPOINT (did you mean ENTRYPOINT?)");
    expect_error("FROM a\n  copu x y\n", 2, "unknown instruction: copu (did you mean copy?)");
    expect_error("FROM a\nCopu x y\n", 2, "unknown instruction: Copu (did you mean copy?)");
}

static void test_instructions__bool_flags(void **state)
{
    const struct kiln_df_instruction *c = one("COPY --link a b\n");
    assert_true(c->copy.link);
    c = one("COPY --link=TRUE a b\n");
    assert_true(c->copy.link);
    c = one("COPY --link=false a b\n");
    assert_false(c->copy.link);
    expect_error2("COPY --link=yes a b\n", "COPY: flag --link takes true or false, not 'yes'");
    expect_error2("COPY --link= a b\n",
                  "COPY: flag --link= needs a value: write --link, --link=true or --link=false");
}

static void test_instructions__string_flags(void **state)
{
    expect_error("FROM a\n\n\n\n\n\nCOPY --from a b\n", 7,
                 "COPY: flag --from needs a value (--from=STAGE)");
    expect_error2("COPY --from=a --from=b x y\n", "COPY: flag --from is given twice; give it once");
    expect_error("FROM a\nRUN x\nCOPY --frm=a x y\n", 3,
                 "COPY: unknown flag --frm (did you mean --from?)");
    expect_error2("COPY --verbose x y\n",
                  "COPY: unknown flag --verbose; COPY takes --chown, --from, --chmod, --link, "
                  "--exclude, --parents");
    expect_error2("ENV --x a=b\n", "ENV: unknown flag --x; ENV takes no flags");
    expect_error2("MAINTAINER --boo joe@example.com\n",
                  "MAINTAINER: unknown flag --boo; MAINTAINER takes no flags");
    /* An empty value is a value (BuildKit makes it the default). */
    const struct kiln_df_instruction *c = one("COPY --from= --chown= a b\n");
    assert_string_equal(c->copy.from, "");
    assert_string_equal(c->copy.chown, "");
}

static void test_instructions__copy(void **state)
{
    const struct kiln_df_instruction *c =
            one("COPY --from=build --chown=1:2 --chmod=0755 --link --parents --exclude=*.o "
                "--exclude=tmp a b /dst/\n");
    assert_int_equal(c->kind, KILN_DF_COPY);
    EXPECT_STRV(&c->copy.sources, "a", "b");
    assert_string_equal(c->copy.dest, "/dst/");
    assert_string_equal(c->copy.from, "build");
    assert_string_equal(c->copy.chown, "1:2");
    assert_string_equal(c->copy.chmod, "0755");
    assert_string_equal(c->copy.checksum, "");
    assert_true(c->copy.link);
    assert_true(c->copy.parents);
    EXPECT_STRV(&c->copy.excludes, "*.o", "tmp");
    assert_int_equal(c->copy.keep_git_dir, KILN_DF_UNSET);
    assert_int_equal(c->copy.unpack, KILN_DF_UNSET);

    c = one("COPY [\"a b\", \"/c d/\"]\n");
    EXPECT_STRV(&c->copy.sources, "a b");
    assert_string_equal(c->copy.dest, "/c d/");
}

static void test_instructions__copy_errors(void **state)
{
    expect_error2("COPY a\n",
                  "COPY: needs at least a source and a destination: COPY [OPTIONS] SRC... DEST");
    /* The argument count is checked before the flags, as BuildKit does. */
    expect_error2("ADD --bad a\n",
                  "ADD: needs at least a source and a destination: ADD [OPTIONS] SRC... DEST");
    expect_error2("ADD --from=x a b\n",
                  "ADD: unknown flag --from; ADD takes --chown, --chmod, --link, "
                  "--keep-git-dir, --checksum, --unpack, --exclude");
    expect_error2("ADD --parents a b\n",
                  "ADD: unknown flag --parents; ADD takes --chown, --chmod, --link, "
                  "--keep-git-dir, --checksum, --unpack, --exclude");
    expect_error2("COPY --checksum=sha256:0 a b\n",
                  "COPY: unknown flag --checksum; COPY takes --chown, --from, --chmod, --link, "
                  "--exclude, --parents");
    expect_error2("COPY --keep-git-dir a b\n",
                  "COPY: unknown flag --keep-git-dir; COPY takes --chown, --from, --chmod, "
                  "--link, --exclude, --parents");
}

static void test_instructions__copy_from_variable(void **state)
{
    static const char msg[] =
            "COPY: --from=%s: variable expansion is not supported for --from; define a stage "
            "from the variable (ARG before the first FROM, then FROM $VAR AS NAME) and use "
            "--from=NAME";
    static const char *const bad[] = {"$x", "${x}", "a$1", "'q'", "\\\\x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *text = NULL, *want = NULL;
        assert_true(asprintf(&text, "COPY --from=\"%s\" a b\n", bad[i]) > 0);
        assert_true(asprintf(&want, msg, i == 4 ? "\\x" : bad[i]) > 0);
        expect_error2(text, want);
        free(text);
        free(want);
    }
    expect_error2("COPY --from=${x a b\n",
                  "COPY: --from=${x: failed to process \"${x\": syntax error: missing '}'");
    const struct kiln_df_instruction *c = one("COPY --from=a$ a b\n");
    assert_string_equal(c->copy.from, "a$");
}

static void test_instructions__copy_heredocs(void **state)
{
    const struct kiln_df_instruction *c =
            one("COPY <<EOF <<-'TAB' x /dst/\nhello $a\nEOF\n\tone\n\t\ttwo\n\tTAB\n");
    EXPECT_STRV(&c->copy.sources, "x");
    assert_int_equal(c->copy.n_contents, 2);
    assert_string_equal(c->copy.contents[0].path, "EOF");
    assert_string_equal(c->copy.contents[0].data, "hello $a\n");
    assert_true(c->copy.contents[0].expand);
    assert_string_equal(c->copy.contents[1].path, "TAB");
    assert_string_equal(c->copy.contents[1].data, "one\ntwo\n");
    assert_false(c->copy.contents[1].expand);
    assert_int_equal(c->end_line, 7);
    expect_error2("COPY a <<EOF\nx\nEOF\n",
                  "COPY: a heredoc cannot be the destination; the last argument is the "
                  "destination path");
}

static void test_instructions__add(void **state)
{
    const struct kiln_df_instruction *c =
            one("ADD --keep-git-dir --unpack=false --checksum=sha256:ab --chmod=600 "
                "https://x/y.tar /d\n");
    assert_int_equal(c->kind, KILN_DF_ADD);
    assert_int_equal(c->copy.keep_git_dir, KILN_DF_TRUE);
    assert_int_equal(c->copy.unpack, KILN_DF_FALSE);
    assert_string_equal(c->copy.checksum, "sha256:ab");
    assert_string_equal(c->copy.chmod, "600");
    assert_string_equal(c->copy.from, "");
}

static void test_instructions__run_forms(void **state)
{
    const struct kiln_df_instruction *c = one("RUN echo a \\\n  b\n");
    EXPECT_STRV(&c->run.cmd.args, "echo a   b");
    assert_true(c->run.cmd.prepend_shell);
    assert_int_equal(c->run.network, KILN_DF_NETWORK_DEFAULT);
    assert_int_equal(c->run.security, KILN_DF_SECURITY_SANDBOX);
    assert_int_equal(c->start_line, 2);
    assert_int_equal(c->end_line, 3);
    assert_string_equal(c->original, "RUN echo a   b");

    c = one("RUN [\"a\", \"b c\"]\n");
    EXPECT_STRV(&c->run.cmd.args, "a", "b c");
    assert_false(c->run.cmd.prepend_shell);

    c = one("RUN <<-EOF\n\techo $x\n\tEOF\n");
    EXPECT_STRV(&c->run.cmd.args, "<<-EOF");
    assert_int_equal(c->run.cmd.n_files, 1);
    assert_string_equal(c->run.cmd.files[0].name, "EOF");
    assert_string_equal(c->run.cmd.files[0].data, "\techo $x\n");
    assert_true(c->run.cmd.files[0].chomp);
}

static void test_instructions__run_network_security_device(void **state)
{
    const struct kiln_df_instruction *c =
            one("RUN --network=host --security=insecure --device=vendor.com/gpu=all,required "
                "--device=name=x x\n");
    assert_int_equal(c->run.network, KILN_DF_NETWORK_HOST);
    assert_int_equal(c->run.security, KILN_DF_SECURITY_INSECURE);
    assert_int_equal(c->run.n_devices, 2);
    assert_string_equal(c->run.devices[0].name, "vendor.com/gpu=all");
    assert_true(c->run.devices[0].required);
    assert_string_equal(c->run.devices[1].name, "x");
    assert_false(c->run.devices[1].required);
    c = one("RUN --network=none x\n");
    assert_int_equal(c->run.network, KILN_DF_NETWORK_NONE);

    expect_error2("RUN --network=bridge x\n",
                  "RUN: --network=bridge is not a network mode; use default, none or host");
    expect_error2("RUN --network= x\n",
                  "RUN: --network= is not a network mode; use default, none or host");
    expect_error2("RUN --security=privileged x\n",
                  "RUN: --security=privileged is not valid; use sandbox or insecure");
    expect_error2("RUN --mnt=type=bind x\n", "RUN: unknown flag --mnt (did you mean --mount?)");
    expect_error2("RUN --mount x\n",
                  "RUN: flag --mount needs a value (--mount=type=TYPE,target=PATH,...)");
    expect_error2("RUN --device=a,b x\n", "RUN: --device=a,b: 'b' needs a value: write b=VALUE");
    expect_error2("RUN --device=a,name=b x\n",
                  "RUN: --device=a,name=b: the device is named twice ('a')");
    expect_error2("RUN --device=a,requird=1 x\n",
                  "RUN: --device=a,requird=1: unknown option 'requird' (did you mean required?)");
}

/* The typed mount of `RUN --mount=<spec> x`, which must be typed at parse time. */
static const struct kiln_df_mount *mount_of(const char *spec)
{
    char *text = NULL;
    assert_true(asprintf(&text, "RUN --mount=%s x\n", spec) > 0);
    const struct kiln_df_instruction *c = one(text);
    free(text);
    assert_int_equal(c->run.n_mounts, 1);
    if (!c->run.mounts[0].mount)
        fail_msg("mount '%s' not typed: %s", spec,
                 c->run.mounts[0].error ? c->run.mounts[0].error : "(expands)");
    return c->run.mounts[0].mount;
}

static void test_instructions__mount_defaults(void **state)
{
    const struct kiln_df_mount *m = mount_of("target=/src");
    assert_int_equal(m->type, KILN_DF_MOUNT_BIND);
    assert_true(m->readonly);
    assert_string_equal(m->target, "/src");
    assert_string_equal(m->from, "");
    assert_false(m->has_mode);

    m = mount_of("type=cache,target=/root/.cache//go/");
    assert_false(m->readonly);
    assert_string_equal(m->id, "/root/.cache/go");
    assert_int_equal(m->sharing, KILN_DF_SHARING_SHARED);
    assert_int_equal(m->mode, 0755);
    assert_false(m->has_mode);

    m = mount_of("type=cache,target=../c/./d/..,sharing=LOCKED,mode=0700,uid=1000,gid=2");
    assert_string_equal(m->id, "../c");
    assert_int_equal(m->sharing, KILN_DF_SHARING_LOCKED);
    assert_int_equal(m->mode, 0700);
    assert_true(m->has_mode && m->has_uid && m->has_gid);
    assert_int_equal(m->uid, 1000);
    assert_int_equal(m->gid, 2);

    m = mount_of("type=tmpfs,target=/t,size=64m");
    assert_false(m->readonly);
    assert_int_equal(m->size, 64 * 1024 * 1024);

    m = mount_of("type=secret,target=/etc/token/");
    assert_string_equal(m->id, "token");
    assert_string_equal(m->target, "/etc/token/");
    assert_int_equal(m->mode, 0400);
    assert_true(m->readonly);
    assert_false(m->required);
    assert_null(m->env);

    m = mount_of("type=secret,id=aws,required");
    assert_string_equal(m->target, "/run/secrets/aws");
    assert_true(m->required);

    m = mount_of("type=secret,source=npm,env=NPM_TOKEN");
    assert_string_equal(m->id, "npm");
    assert_string_equal(m->target, "");
    assert_string_equal(m->env, "NPM_TOKEN");

    m = mount_of("type=ssh");
    assert_string_equal(m->id, "default");
    assert_int_equal(m->mode, 0600);
    assert_string_equal(m->target, "");
}

static void test_instructions__mount_keys_and_bare_words(void **state)
{
    const struct kiln_df_mount *m = mount_of("Type=Bind,DST=/a,SRC=b,From=stage,rw");
    assert_string_equal(m->target, "/a");
    assert_string_equal(m->source, "b");
    assert_string_equal(m->from, "stage");
    assert_false(m->readonly);
    m = mount_of("type=cache,destination=/a,ro");
    assert_true(m->readonly);
    m = mount_of("type=cache,target=/a,readonly=1,readwrite=T");
    assert_false(m->readonly);
    m = mount_of("type=ssh,required=false,readonly");
    assert_false(m->required);
    assert_true(m->readonly);
    /* CSV quoting: the single quotes go at the flag level, the double ones in CSV. */
    m = mount_of("'type=bind,\"source=a,b\",target=/x'");
    assert_string_equal(m->source, "a,b");
    struct kiln_df_mount *pm = NULL;
    assert_int_equal(kiln_df_mount_parse("\"target=/x\"\"y\"", NULL, NULL, &pm, NULL), 0);
    assert_string_equal(pm->target, "/x\"y");
    kiln_df_mount_free(pm);
}

static void expect_mount_error(const char *spec, const char *message)
{
    char *text = NULL;
    assert_true(asprintf(&text, "RUN --mount=%s x\n", spec) > 0);
    const struct kiln_df_instruction *c = one(text);
    free(text);
    const struct kiln_df_run_mount *rm = &c->run.mounts[0];
    assert_null(rm->mount);
    assert_false(rm->expand);
    if (!rm->error || strcmp(rm->error, message) != 0)
        fail_msg("mount '%s':\n got '%s'\nwant '%s'", spec, rm->error ? rm->error : "(none)",
                 message);
    /* Conversion gets the same answer from kiln_df_mount_parse. */
    struct kiln_df_mount *m = NULL;
    struct kiln_error *err = NULL;
    assert_int_equal(kiln_df_mount_parse(rm->spec, NULL, NULL, &m, &err), KILN_E_INVALID);
    assert_string_equal(err->message, message);
    kiln_error_free(err);
}

static void test_instructions__mount_errors_are_deferred(void **state)
{
    expect_mount_error("type=bnd", "unknown mount type 'bnd' (did you mean bind?)");
    expect_mount_error("type=volume",
                       "unknown mount type 'volume'; use bind, cache, tmpfs, secret or ssh");
    expect_mount_error("target=/a,sharing=shred", "unknown sharing 'shred' (did you mean shared?)");
    expect_mount_error("targte=/a",
                       "unknown option 'targte' in 'targte=/a' (did you mean target?)");
    expect_mount_error("colour=red",
                       "unknown option 'colour' in 'colour=red'; a mount takes type, target, "
                       "source, from, id, sharing, mode, uid, gid, size, env, ro, rw, required");
    expect_mount_error("target", "'target' needs a value: write target=VALUE");
    expect_mount_error("target=/a,", "empty option (a doubled or trailing comma); remove it");
    expect_mount_error("required,type=secret,id=a",
                       "'required' is for secret and ssh mounts only; this mount is 'bind' "
                       "where 'required' appears (type= must come before it)");
    expect_mount_error("size=1g,type=tmpfs",
                       "'size' is for tmpfs mounts only; this mount is 'bind' where 'size' "
                       "appears (type= must come before it)");
    expect_mount_error("type=tmpfs,size=1q",
                       "size=1q: write bytes, or a number with k, m, g, t or p such as 512m");
    expect_mount_error("type=cache,mode=0789", "mode=0789: write an octal mode such as 0755");
    expect_mount_error("type=cache,uid=-1", "uid=-1: write a number such as 1000");
    expect_mount_error("type=cache,gid=4294967296", "gid=4294967296: write a number such as 1000");
    expect_mount_error("ro=yes", "ro=yes: use true or false");
    expect_mount_error("type=bind,mode=0644",
                       "'mode' is not allowed for bind mounts (only cache, secret and ssh)");
    expect_mount_error("type=tmpfs,uid=0",
                       "'uid' is not allowed for tmpfs mounts (only cache, secret and ssh)");
    expect_mount_error("type=secret,id=a,from=b", "a secret mount takes no from=");
    expect_mount_error("type=secret,id=a,sharing=locked", "a secret mount takes no sharing=");
    expect_mount_error("type=secret", "a secret mount needs id=ID or target=PATH");
    expect_mount_error("type=secret,source=a,id=b",
                       "a secret mount takes source= or id=, not both");
    expect_mount_error("target=/a,sharing=private", "sharing= is for cache mounts only, not bind");
    expect_mount_error("type=ssh,source=a", "an ssh mount takes no source=; use id=ID");
}

static void test_instructions__mount_parse_time_errors(void **state)
{
    expect_error2("RUN --mount=from=$stage,target=/a x\n",
                  "RUN: --mount=from=$stage,target=/a: variable expansion is not supported for "
                  "from=; define a stage from the variable (ARG before the first FROM, then FROM "
                  "$VAR AS NAME) and use from=NAME");
    expect_error2("RUN --mount='target=/a,a\"b' x\n",
                  "RUN: --mount=target=/a,a\"b: column 12: bare \" in a field; quote the whole "
                  "field (\"key=a\"\"b\")");
    expect_error2("RUN --mount='\"target=/a' x\n",
                  "RUN: --mount=\"target=/a: column 2: a quoted field has no closing \"");
    expect_error2("RUN --mount='\"a\"b' x\n",
                  "RUN: --mount=\"a\"b: column 3: extraneous \" in a quoted field");
    expect_error2("RUN --mount= x\n", "RUN: --mount=: empty mount; write type=TYPE,target=PATH");
    /* '$' as the last character is literal; the mount is still typed. */
    const struct kiln_df_mount *m = mount_of("from=a$,target=/a");
    assert_string_equal(m->from, "a$");
}

static void test_instructions__mount_with_variables(void **state)
{
    const struct kiln_df_instruction *c =
            one("RUN --mount=type=$T,target=/x,mode=bogus --mount=target=\"'/a b'\" x\n");
    assert_int_equal(c->run.n_mounts, 2);
    assert_true(c->run.mounts[0].expand);
    assert_null(c->run.mounts[0].mount);
    assert_null(c->run.mounts[0].error);
    assert_string_equal(c->run.mounts[0].spec, "type=$T,target=/x,mode=bogus");
    assert_true(c->run.mounts[1].expand);
}

static int expand_test(void *userdata, const char *word, char **ret, struct kiln_error **err)
{
    if (strcmp(word, "$BAD") == 0)
        return kiln_error_set(err, KILN_E_INVALID, "bad substitution");
    *ret = strdup(strcmp(word, "$T") == 0 ? (const char *)userdata : word);
    return 0;
}

static void test_instructions__mount_parse_with_expander(void **state)
{
    struct kiln_df_mount *m = NULL;
    struct kiln_error *err = NULL;
    assert_int_equal(kiln_df_mount_parse("type=$T,target=/x", expand_test, "tmpfs", &m, &err), 0);
    assert_int_equal(m->type, KILN_DF_MOUNT_TMPFS);
    kiln_df_mount_free(m);
    assert_int_equal(kiln_df_mount_parse("type=$BAD", expand_test, "", &m, &err), KILN_E_INVALID);
    assert_string_equal(err->message, "bad substitution");
    kiln_error_free(err);
}

static void expect_size(const char *size, int64_t want)
{
    char *spec = NULL;
    struct kiln_df_mount *m = NULL;
    struct kiln_error *err = NULL;
    assert_true(asprintf(&spec, "type=tmpfs,size=%s", size) > 0);
    int r = kiln_df_mount_parse(spec, NULL, NULL, &m, &err);
    free(spec);
    if (want < 0) {
        if (r >= 0)
            fail_msg("size '%s' accepted as %lld", size, (long long)m->size);
        kiln_error_free(err);
        return;
    }
    if (r < 0)
        fail_msg("size '%s': %s", size, err->message);
    if (m->size != want)
        fail_msg("size '%s' = %lld, want %lld", size, (long long)m->size, (long long)want);
    kiln_df_mount_free(m);
}

static void test_instructions__mount_size_syntax(void **state)
{
    static const char *const sizes[] = {"4096", "512m", "1.5GiB", "10 kb", "2K",
                                        "1b",   ".5k",  "1e3",    "1_0",   "1p"};
    static const long long want[] = {4096, 512ll << 20, 3ll << 29, 10240, 2048,
                                     1,    512,         1000,      10,    1ll << 50};
    static const char *const bad[] = {"1bb", "1kbb", "1kx", "-1", "k", "1_", "1e400", "1  k"};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        expect_size(sizes[i], want[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_size(bad[i], -1);
}

static void test_instructions__env_and_label(void **state)
{
    const struct kiln_df_instruction *c = one("ENV A=1 B=\"two words\" C=\n");
    assert_int_equal(c->n_pairs, 3);
    assert_string_equal(c->pairs[0].key, "A");
    assert_string_equal(c->pairs[0].value, "1");
    assert_string_equal(c->pairs[1].value, "\"two words\"");
    assert_string_equal(c->pairs[2].value, "");
    assert_false(c->pairs[0].no_delim);
    c = one("ENV A b  c\n");
    assert_int_equal(c->n_pairs, 1);
    assert_string_equal(c->pairs[0].value, "b  c");
    assert_true(c->pairs[0].no_delim);
    c = one("LABEL org.opencontainers.image.title=kiln\n");
    assert_int_equal(c->kind, KILN_DF_LABEL);
    assert_string_equal(c->pairs[0].key, "org.opencontainers.image.title");
    expect_error2("ENV\n", "ENV: needs at least one KEY=VALUE");
    expect_error2("LABEL\n", "LABEL: needs at least one KEY=VALUE");
    expect_error2("ENV =x\n", "ENV: empty name in '=x'; write KEY=VALUE");
    expect_error2("LABEL --x=1 a=b\n", "LABEL: unknown flag --x; LABEL takes no flags");
}

static void test_instructions__arg(void **state)
{
    const struct kiln_df_instruction *c = one("ARG --ignored A B=2 C= \"D=x y\"\n");
    assert_int_equal(c->n_args, 4);
    assert_string_equal(c->args[0].key, "A");
    assert_null(c->args[0].value);
    assert_string_equal(c->args[1].value, "2");
    assert_string_equal(c->args[2].value, "");
    assert_string_equal(c->args[3].key, "\"D");
    assert_string_equal(c->args[3].value, "x y\"");
    expect_error2("ARG\n", "ARG: needs at least one NAME[=DEFAULT]");
    expect_error2("ARG a =b\n", "ARG: empty name in '=b'; write NAME[=DEFAULT]");
}

static void test_instructions__expose_volume_shell(void **state)
{
    const struct kiln_df_instruction *c = one("EXPOSE 8080 80/udp 443\n");
    EXPECT_STRV(&c->words, "443", "80/udp", "8080");
    c = one("VOLUME [\" /data \", \"/b\"]\n");
    EXPECT_STRV(&c->words, "/data", "/b");
    c = one("SHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]\n");
    EXPECT_STRV(&c->words, "/bin/bash", "-eo", "pipefail", "-c");
    expect_error2("EXPOSE\n", "EXPOSE: needs at least one port: EXPOSE PORT[/PROTOCOL]...");
    expect_error2("EXPOSE --x 80\n", "EXPOSE: unknown flag --x; EXPOSE takes no flags");
    expect_error2("VOLUME []\n", "VOLUME: needs at least one path: VOLUME PATH...");
    expect_error2("VOLUME [\"/a\", \" \"]\n",
                  "VOLUME: volume 2 is an empty path; give each volume a path");
    expect_error2("SHELL []\n", "SHELL: needs a shell: SHELL [\"EXECUTABLE\", \"PARAMETERS\"...]");
    expect_error2("SHELL bash -c\n",
                  "SHELL: needs the JSON form: SHELL [\"EXECUTABLE\", \"PARAMETERS\"...]");
}

static void test_instructions__one_argument(void **state)
{
    const struct kiln_df_instruction *c = one("WORKDIR /a b\n");
    assert_string_equal(c->value, "/a b");
    c = one("STOPSIGNAL --ignored SIGTERM\n");
    assert_string_equal(c->value, "SIGTERM");
    c = one("USER 1000:1000\n");
    assert_string_equal(c->value, "1000:1000");
    c = one("MAINTAINER Jo <jo@example.com>\n");
    assert_string_equal(c->value, "Jo <jo@example.com>");
    expect_error2("USER\n", "USER: needs exactly one argument: USER NAME[:GROUP]");
    expect_error2("WORKDIR\n", "WORKDIR: needs exactly one argument: WORKDIR PATH");
    expect_error2("STOPSIGNAL\n", "STOPSIGNAL: needs exactly one argument: STOPSIGNAL SIGNAL");
    expect_error2("MAINTAINER\n", "MAINTAINER: needs exactly one argument: MAINTAINER NAME");
    expect_error2("WORKDIR --x=1 /a\n", "WORKDIR: unknown flag --x; WORKDIR takes no flags");
}

static void test_instructions__cmd_entrypoint(void **state)
{
    const struct kiln_df_instruction *c = one("CMD [\"a\", \"b\"]\n");
    EXPECT_STRV(&c->cmd.args, "a", "b");
    assert_false(c->cmd.prepend_shell);
    c = one("ENTRYPOINT exec  app \"$X\"\n");
    EXPECT_STRV(&c->cmd.args, "exec  app \"$X\"");
    assert_true(c->cmd.prepend_shell);
    c = one("ENTRYPOINT []\n");
    assert_int_equal(c->cmd.args.n, 0);
    c = one("CMD ['a']\n");
    EXPECT_STRV(&c->cmd.args, "['a']");
    expect_error2("CMD --x a\n", "CMD: unknown flag --x; CMD takes no flags");
    expect_error2("CMD [\"a\\u0000b\"]\n",
                  "CMD: argument 1 holds a NUL byte (\\u0000), which kiln does not support; "
                  "remove it");
}

static void test_instructions__healthcheck(void **state)
{
    const struct kiln_df_instruction *c =
            one("HEALTHCHECK --interval=1m30s --timeout=1.5s --start-period=0 "
                "--start-interval=2ms --retries=+3 CMD curl -f http://x/ || exit 1\n");
    EXPECT_STRV(&c->health.test, "CMD-SHELL", "curl -f http://x/ || exit 1");
    assert_int_equal(c->health.interval, 90000000000ll);
    assert_int_equal(c->health.timeout, 1500000000ll);
    assert_int_equal(c->health.start_period, 0);
    assert_int_equal(c->health.start_interval, 2000000);
    assert_int_equal(c->health.retries, 3);
    c = one("HEALTHCHECK cmd [\"/bin/check\", \"-q\"]\n");
    EXPECT_STRV(&c->health.test, "CMD", "/bin/check", "-q");
    /* BuildKit reads no flags for NONE. */
    c = one("HEALTHCHECK --bogus none\n");
    EXPECT_STRV(&c->health.test, "NONE");
    c = one("HEALTHCHECK --interval=1h2m3.5s --timeout=1.5h --start-period=-0 CMD x\n");
    assert_int_equal(c->health.interval, 3723500000000ll);
    assert_int_equal(c->health.timeout, 5400000000000ll);
    c = one("HEALTHCHECK --interval=1000us --timeout=1.5ms1ns CMD x\n");
    assert_int_equal(c->health.interval, 1000000);
    assert_int_equal(c->health.timeout, 1500001);
}

static void test_instructions__healthcheck_errors(void **state)
{
    static const char usage[] = "HEALTHCHECK [OPTIONS] CMD COMMAND, or HEALTHCHECK NONE";
    char want[256];
    (void)snprintf(want, sizeof(want), "HEALTHCHECK: needs CMD or NONE: %s", usage);
    expect_error2("HEALTHCHECK\n", want);
    (void)snprintf(want, sizeof(want), "HEALTHCHECK: unknown type 'RUN'; use %s", usage);
    expect_error2("HEALTHCHECK RUN x\n", want);
    expect_error2("HEALTHCHECK NONE x\n", "HEALTHCHECK: NONE takes no arguments");
    expect_error2("HEALTHCHECK CMD\n",
                  "HEALTHCHECK: CMD needs a command: HEALTHCHECK [OPTIONS] CMD COMMAND");
    expect_error2("HEALTHCHECK --intervall=5s CMD x\n",
                  "HEALTHCHECK: unknown flag --intervall (did you mean --interval?)");
    static const char *const bad_durations[] = {"5",      "1x", "s", ".s",
                                                "1.2.3s", "",   "+", "9999999999h"};
    for (size_t i = 0; i < sizeof(bad_durations) / sizeof(bad_durations[0]); i++) {
        char text[128];
        (void)snprintf(text, sizeof(text), "HEALTHCHECK --timeout=%s CMD x\n", bad_durations[i]);
        if (bad_durations[i][0] == '\0')
            continue; /* an empty value means "not given" */
        (void)snprintf(want, sizeof(want),
                       "HEALTHCHECK: --timeout=%s is not a duration; write one such as 30s, "
                       "1m30s or 500ms",
                       bad_durations[i]);
        expect_error2(text, want);
    }
    expect_error2("HEALTHCHECK --interval=999us CMD x\n",
                  "HEALTHCHECK: --interval=999us is less than 1ms; use 0 (the default) or at "
                  "least 1ms");
    expect_error2("HEALTHCHECK --start-period=-1s CMD x\n",
                  "HEALTHCHECK: --start-period=-1s is less than 1ms; use 0 (the default) or at "
                  "least 1ms");
    expect_error2("HEALTHCHECK --retries=-1 CMD x\n",
                  "HEALTHCHECK: --retries=-1 is negative; use 0 or more");
    expect_error2("HEALTHCHECK --retries=three CMD x\n",
                  "HEALTHCHECK: --retries=three is not a whole number");
    expect_error2("HEALTHCHECK --retries=2147483648 CMD x\n",
                  "HEALTHCHECK: --retries=2147483648 is out of range (at most 2147483647)");
}

static void test_instructions__onbuild(void **state)
{
    const struct kiln_df_instruction *c = one("ONBUILD  copy --from=x a b\n");
    assert_string_equal(c->onbuild.trigger, "COPY");
    assert_string_equal(c->onbuild.expression, "copy --from=x a b");
    c = one("onbuild RUN <<EOF\necho hi\nEOF\n");
    assert_string_equal(c->onbuild.expression, "RUN <<EOF\necho hi\nEOF");
    /* BuildKit checks the trigger only when it runs. */
    c = one("ONBUILD BOGUS x\n");
    assert_string_equal(c->onbuild.trigger, "BOGUS");
    expect_error2("ONBUILD\n", "ONBUILD: needs an instruction: ONBUILD INSTRUCTION ARGUMENTS");
    expect_error2("ONBUILD ONBUILD RUN x\n",
                  "ONBUILD: chaining ONBUILD via 'ONBUILD ONBUILD' isn't allowed");
    expect_error2("ONBUILD from x\n", "ONBUILD: FROM isn't allowed as an ONBUILD trigger");
    expect_error2("ONBUILD MAINTAINER x\n",
                  "ONBUILD: MAINTAINER isn't allowed as an ONBUILD trigger");
}

static void test_instructions__single_node(void **state)
{
    struct kiln_df_ast *ast = NULL;
    struct kiln_error *err = NULL;
    const char text[] = "RUN --mount=type=cache,target=/c make\nBADCMD\n";
    assert_int_equal(kiln_df_parse(text, strlen(text), &ast, &err), 0);
    struct kiln_df_instruction *ins = NULL;
    assert_int_equal(kiln_df_instruction_parse(ast->nodes[0], '\\', &ins, &err), 0);
    assert_int_equal(ins->kind, KILN_DF_RUN);
    assert_string_equal(ins->run.mounts[0].mount->id, "/c");
    assert_string_equal(kiln_df_kind_name(ins->kind), "RUN");
    kiln_df_instruction_free(ins);
    assert_int_equal(kiln_df_instruction_parse(ast->nodes[1], '\\', &ins, &err), KILN_E_INVALID);
    assert_string_equal(err->message, "unknown instruction: BADCMD");
    assert_int_equal(err->line, 2);
    kiln_error_free(err);
    kiln_df_ast_free(ast);
}

static void test_instructions__word_expands(void **state)
{
    static const char *const literal[] = {"plain-word_1.2", "a$", "$/x $% $."};
    static const char *const expands[] = {"$a", "${a}", "$$", "$1", "a\\b", "'a'", "\"a\""};
    for (size_t i = 0; i < sizeof(literal) / sizeof(literal[0]); i++)
        if (kiln_df_word_expands(literal[i], '\\'))
            fail_msg("'%s' is literal", literal[i]);
    for (size_t i = 0; i < sizeof(expands) / sizeof(expands[0]); i++)
        if (!kiln_df_word_expands(expands[i], '\\'))
            fail_msg("'%s' expands", expands[i]);
    assert_false(kiln_df_word_expands("a\\b", '`'));
    assert_true(kiln_df_word_expands("a`b", '`'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_instructions__stages_and_meta_args),
            cmocka_unit_test(test_instructions__from_errors),
            cmocka_unit_test(test_instructions__unknown_instruction),
            cmocka_unit_test(test_instructions__bool_flags),
            cmocka_unit_test(test_instructions__string_flags),
            cmocka_unit_test(test_instructions__copy),
            cmocka_unit_test(test_instructions__copy_errors),
            cmocka_unit_test(test_instructions__copy_from_variable),
            cmocka_unit_test(test_instructions__copy_heredocs),
            cmocka_unit_test(test_instructions__add),
            cmocka_unit_test(test_instructions__run_forms),
            cmocka_unit_test(test_instructions__run_network_security_device),
            cmocka_unit_test(test_instructions__mount_defaults),
            cmocka_unit_test(test_instructions__mount_keys_and_bare_words),
            cmocka_unit_test(test_instructions__mount_errors_are_deferred),
            cmocka_unit_test(test_instructions__mount_parse_time_errors),
            cmocka_unit_test(test_instructions__mount_with_variables),
            cmocka_unit_test(test_instructions__mount_parse_with_expander),
            cmocka_unit_test(test_instructions__mount_size_syntax),
            cmocka_unit_test(test_instructions__env_and_label),
            cmocka_unit_test(test_instructions__arg),
            cmocka_unit_test(test_instructions__expose_volume_shell),
            cmocka_unit_test(test_instructions__one_argument),
            cmocka_unit_test(test_instructions__cmd_entrypoint),
            cmocka_unit_test(test_instructions__healthcheck),
            cmocka_unit_test(test_instructions__healthcheck_errors),
            cmocka_unit_test(test_instructions__onbuild),
            cmocka_unit_test(test_instructions__single_node),
            cmocka_unit_test(test_instructions__word_expands),
    };
    return cmocka_run_group_tests_name("dockerfile/instructions", tests, NULL, release_held);
}
