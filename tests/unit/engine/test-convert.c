/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-convert.c - the graph a Dockerfile converts to: the stages the target
 * reaches, the vertices and what they carry, ARG scoping, and the progress
 * names BuildKit gives the steps (docs/internals/convert.md).
 */
#include "convert-test.h"

struct converted {
    struct kiln_df_instructions *df;
    struct kiln_graph *g;
};

static struct converted conv_opts(const char *text, const struct kiln_convert_opts *o)
{
    struct converted c;
    c.g = test_convert_with(text, o, &c.df);
    return c;
}

static struct converted conv(const char *text)
{
    struct kiln_convert_opts o = test_opts();
    return conv_opts(text, &o);
}

static void done(struct converted *c)
{
    kiln_graph_free(c->g);
    kiln_df_instructions_free(c->df);
}

/* The graph's vertex names, in order, are `want` (NULL-terminated). */
static void expect_names(const struct kiln_graph *g, const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    for (size_t i = 0; i < g->n || i < n; i++) {
        const char *got = i < g->n ? g->v[i]->name : "(none)";
        const char *w = i < n ? want[i] : "(none)";
        if (strcmp(got, w) != 0)
            fail_msg("vertex %zu: got name '%s', want '%s'", i, got, w);
    }
}

static void expect_strv(const struct kiln_strv *got, const char *const *want, const char *what)
{
    size_t n = 0;
    while (want[n])
        n++;
    for (size_t i = 0; i < got->n || i < n; i++) {
        const char *g = i < got->n ? got->v[i] : "(none)";
        const char *w = i < n ? want[i] : "(none)";
        if (strcmp(g, w) != 0)
            fail_msg("%s[%zu]: got '%s', want '%s'", what, i, g, w);
    }
}

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_convert__names_single_stage(void **state)
{
    (void)state;
    struct converted c = conv("FROM busybox\nARG N=x\nWORKDIR /app\nRUN echo \"$N\" $UNSET\n"
                              "COPY \"a\" ${N}/\nWORKDIR /\n");
    expect_names(c.g, NAMES("[1/5] FROM " PINNED_BUSYBOX, "[2/5] WORKDIR /app",
                            "[3/5] RUN echo \"x\" $UNSET", "[4/5] COPY a x/"));
    assert_ptr_equal(c.g->result, c.g->v[3]);
    assert_ptr_equal(c.g->v[3]->base, c.g->v[2]);
    assert_ptr_equal(c.g->v[1]->base, c.g->v[0]);
    done(&c);

    /* The index is right-aligned to the width of the total. */
    struct kiln_buf text = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_adds(&text, "FROM scratch\n");
    for (int i = 0; i < 11; i++)
        kiln_buf_addf(&text, "RUN echo %d\n", i);
    c = conv(text.buf);
    kiln_buf_release(&text);
    assert_string_equal(c.g->v[0]->name, "[ 1/11] RUN echo 0");
    assert_string_equal(c.g->v[10]->name, "[11/11] RUN echo 10");
    done(&c);
}

static void test_convert__stages_and_pruning(void **state)
{
    (void)state;
    resolve_calls = 0;
    struct converted c = conv("FROM alpine:3.19 AS unused\nRUN never\n"
                              "FROM busybox AS Build\nRUN make\n"
                              "FROM scratch\nCOPY --from=build /out /bin/\n"
                              "COPY --from=1 /other /\n");
    /* The unused stage is not converted: its image is never resolved. */
    assert_int_equal(resolve_calls, 1);
    expect_names(c.g, NAMES("[build 1/2] FROM " PINNED_BUSYBOX, "[build 2/2] RUN make",
                            "[stage-2 1/2] COPY --from=build /out /bin/",
                            "[stage-2 2/2] COPY --from=1 /other /"));
    assert_int_equal(c.g->v[2]->copy.from_kind, KILN_COPY_FROM_STATE);
    assert_ptr_equal(c.g->v[2]->copy.from, c.g->v[1]);
    assert_ptr_equal(c.g->v[3]->copy.from, c.g->v[1]);
    assert_null(c.g->v[2]->base);
    assert_string_equal(c.g->v[2]->copy.dest, "/bin/");
    done(&c);

    /* A stage FROM an earlier one continues from its state, config, env and ARGs. */
    c = conv("FROM busybox AS base\nARG A=1\nENV E=2\nWORKDIR /w\nUSER u\n"
             "FROM base\nRUN id\n");
    assert_ptr_equal(c.g->v[2]->base, c.g->v[1]);
    assert_string_equal(c.g->v[2]->name, "[stage-1 1/1] RUN id");
    assert_string_equal(c.g->v[2]->exec.cwd, "/w");
    assert_string_equal(c.g->v[2]->exec.user, "u");
    expect_strv(&c.g->v[2]->exec.env, NAMES("A=1", "PATH=/bin:/usr/bin", "E=2"), "env");
    json_t *h = json_array_get(json_object_get(c.g->config, "history"), 6);
    assert_string_equal(json_string_value(json_object_get(h, "created_by")),
                        "RUN |1 A=1 /bin/sh -c id # buildkit");
    done(&c);
}

static void test_convert__copy_from_image(void **state)
{
    (void)state;
    resolve_calls = 0;
    struct converted c = conv("FROM busybox\nCOPY --from=alpine:3.19 /etc/os-release /\n"
                              "COPY --from=alpine:3.19 /x /\n");
    /* One resolve per ref and platform; the image step has no prefix; the lone
     * stage is "stage-0" because the image counts as a stage, as in BuildKit. */
    assert_int_equal(resolve_calls, 2);
    expect_names(c.g, NAMES("[stage-0 1/3] FROM " PINNED_BUSYBOX, "FROM " PINNED_ALPINE,
                            "[stage-0 2/3] COPY --from=alpine:3.19 /etc/os-release /",
                            "FROM " PINNED_ALPINE, "[stage-0 3/3] COPY --from=alpine:3.19 /x /"));
    assert_int_equal(c.g->v[1]->kind, KILN_VERTEX_IMAGE);
    assert_ptr_equal(c.g->v[2]->copy.from, c.g->v[1]);
    done(&c);
}

static void test_convert__args(void **state)
{
    (void)state;
    struct kiln_strv build_args = KILN_STRV_INIT;
    kiln_strv_push(&build_args, "OVER=cli");
    kiln_strv_push(&build_args, "TAG=3.19");
    struct kiln_convert_opts o = test_opts();
    o.build_args = &build_args;
    struct converted c =
            conv_opts("ARG TAG=latest\nARG GLOBAL=g\nFROM alpine:${TAG}\n"
                      "RUN echo $GLOBAL\n"
                      "ARG GLOBAL\nARG OVER=default\nARG EMPTY=\nARG NOVALUE\nARG TARGETARCH\n"
                      "ENV FROMENV=$GLOBAL-$OVER\nARG GLOBAL=again\n"
                      "RUN env\n",
                      &o);
    /* Meta args reach FROM only; inside, ARG NAME takes the global value, a
     * --build-arg beats a default, empty is set, no value is unset. */
    assert_string_equal(c.g->v[0]->image.ref, PINNED_ALPINE);
    expect_strv(&c.g->v[1]->exec.env, NAMES("LANG=C", DEFAULT_PATH), "first RUN env");
    expect_strv(&c.g->v[2]->exec.env,
                NAMES("LANG=C", DEFAULT_PATH, "OVER=cli", "EMPTY=", "TARGETARCH=amd64",
                      "FROMENV=g-cli", "GLOBAL=again"),
                "second RUN env");
    json_t *h = json_array_get(json_object_get(c.g->config, "history"), 9);
    assert_string_equal(json_string_value(json_object_get(h, "created_by")),
                        "RUN |5 GLOBAL=again OVER=cli EMPTY= NOVALUE= TARGETARCH=amd64 "
                        "/bin/sh -c env # buildkit");
    done(&c);
    kiln_strv_release(&build_args);

    /* Setting a key again moves it last in the RUN env; config.Env keeps its place. */
    c = conv("FROM alpine:3.19\nARG A=1\nENV LANG=en\nRUN env\n");
    expect_strv(&c.g->v[1]->exec.env, NAMES(DEFAULT_PATH, "A=1", "LANG=en"), "RUN env");
    test_json_equal(json_object_get(json_object_get(c.g->config, "config"), "Env"),
                    "[\"LANG=en\",\"" DEFAULT_PATH "\"]", "config Env");
    done(&c);
}

static void test_convert__run(void **state)
{
    (void)state;
    struct converted c = conv("FROM scratch\nWORKDIR /src\nUSER 1:2\n"
                              "SHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]\n"
                              "RUN make all\nRUN [\"/bin/true\"]\n"
                              "RUN <<EOF\necho one\necho two\nEOF\n"
                              "RUN <<EOF python3\nprint(1)\nEOF\n"
                              "RUN --network=none --mount=type=cache,target=/c true\n");
    const struct kiln_vertex *mk = c.g->v[0], *r1 = c.g->v[1], *r2 = c.g->v[2];
    assert_int_equal(mk->kind, KILN_VERTEX_MKDIR);
    assert_string_equal(mk->mkdir.path, "/src");
    assert_string_equal(mk->mkdir.user, "");
    expect_strv(&r1->exec.args, NAMES("/bin/bash", "-eo", "pipefail", "-c", "make all"), "shell");
    expect_strv(&r2->exec.args, NAMES("/bin/true"), "exec form");
    assert_string_equal(r1->exec.cwd, "/src");
    assert_string_equal(r1->exec.user, "1:2");
    expect_strv(&c.g->v[3]->exec.args,
                NAMES("/bin/bash", "-eo", "pipefail", "-c", "echo one\necho two\n"), "heredoc");
    assert_string_equal(c.g->v[3]->name, "[4/6] RUN <<EOF (echo one...)");
    expect_strv(&c.g->v[4]->exec.args,
                NAMES("/bin/bash", "-eo", "pipefail", "-c", "<<EOF python3\nprint(1)\nEOF"),
                "heredoc with a command");
    assert_int_equal(c.g->v[5]->exec.run->network, KILN_DF_NETWORK_NONE);
    assert_int_equal(c.g->v[5]->exec.run->n_mounts, 1);
    done(&c);

    /* WORKDIR makes its directory owned by the USER in effect. */
    c = conv("FROM scratch\nUSER app\nWORKDIR rel\nWORKDIR sub\n");
    assert_string_equal(c.g->v[1]->mkdir.path, "/rel/sub");
    assert_string_equal(c.g->v[1]->mkdir.user, "app");
    done(&c);
}

/* A lone heredoc starting with #! is a file mounted at /dev/pipes and run; others go to the shell.
 */
static void test_convert__run_heredoc_shebang(void **state)
{
    (void)state;
    struct converted c =
            conv("FROM scratch\n"
                 "RUN --mount=type=tmpfs,target=/t <<EOF\n#!/bin/sh\necho \"$0\"\nEOF\n"
                 "RUN <<-EOT bash\n\techo hi\n\tEOT\n"
                 "RUN cat <<A > /f; cat <<B >> /f\none\nA\ntwo\nB\n"
                 "RUN <<-EOF\n\t#!/bin/busybox sh\n\techo chomped\n\tEOF\n"
                 "RUN echo x <<EOF\n#!/bin/sh\nEOF\n");
    expect_names(c.g, NAMES("[internal] preparing inline document",
                            "[1/5] RUN --mount=type=tmpfs,target=/t <<EOF (#!/bin/sh...)",
                            "[2/5] RUN <<-EOT bash", "[3/5] RUN cat <<A > /f; cat <<B >> /f",
                            "[internal] preparing inline document",
                            "[4/5] RUN <<-EOF (#!/bin/busybox sh...)", "[5/5] RUN echo x <<EOF"));
    const struct kiln_vertex *doc = c.g->v[0], *run = c.g->v[1];
    assert_int_equal(doc->kind, KILN_VERTEX_COPY);
    assert_null(doc->base);
    assert_int_equal(doc->copy.from_kind, KILN_COPY_FROM_INLINE);
    assert_int_equal(doc->copy.n_inline_files, 1);
    assert_string_equal(doc->copy.inline_files[0].name, "EOF");
    assert_string_equal(doc->copy.inline_files[0].data, "#!/bin/sh\necho \"$0\"\n");
    assert_string_equal(doc->copy.chmod, "0755");
    assert_string_equal(doc->copy.dest, "/");
    expect_strv(&run->exec.args, NAMES("/bin/sh", "-c", "/dev/pipes/EOF"), "#! heredoc");
    assert_int_equal(run->exec.n_mounts, 2);
    const struct kiln_exec_mount *pipes = &run->exec.mounts[0];
    assert_true(pipes->from_state);
    assert_ptr_equal(pipes->from, doc);
    assert_string_equal(pipes->mount->target, "/dev/pipes");
    assert_true(pipes->mount->readonly);
    assert_string_equal(run->exec.mounts[1].mount->target, "/t");
    assert_ptr_equal(*kiln_vertex_input(c.g->v[1], 0), doc);
    assert_null(kiln_vertex_input(c.g->v[1], 1));
    expect_strv(&c.g->v[2]->exec.args, NAMES("/bin/sh", "-c", "<<-EOT bash\n\techo hi\nEOT"),
                "a program after the heredoc");
    expect_strv(&c.g->v[3]->exec.args,
                NAMES("/bin/sh", "-c", "cat <<A > /f; cat <<B >> /f\none\nA\ntwo\nB"),
                "two heredocs");
    assert_string_equal(c.g->v[4]->copy.inline_files[0].data, "#!/bin/busybox sh\necho chomped\n");
    expect_strv(&c.g->v[5]->exec.args, NAMES("/bin/sh", "-c", "/dev/pipes/EOF"), "<<- #!");
    expect_strv(&c.g->v[6]->exec.args, NAMES("/bin/sh", "-c", "echo x <<EOF\n#!/bin/sh\nEOF"),
                "#! after a command");
    assert_int_equal(c.g->v[6]->exec.n_mounts, 0);
    json_t *hist = json_object_get(c.g->config, "history");
    assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 0), "created_by")),
                        "RUN /bin/sh -c /dev/pipes/EOF # buildkit");
    done(&c);

    /* A quoted delimiter and an fd prefix still make a lone heredoc; the body is never expanded. */
    c = conv("FROM scratch\nARG X=1\nRUN <<'EOF'\n#!/bin/sh\necho $X\nEOF\n"
             "RUN 3<<EOF\necho $X\nEOF\n");
    assert_string_equal(c.g->v[0]->copy.inline_files[0].data, "#!/bin/sh\necho $X\n");
    expect_strv(&c.g->v[1]->exec.args, NAMES("/bin/sh", "-c", "/dev/pipes/EOF"), "quoted #!");
    expect_strv(&c.g->v[2]->exec.args, NAMES("/bin/sh", "-c", "echo $X\n"), "3<<EOF");
    hist = json_object_get(c.g->config, "history");
    assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 1), "created_by")),
                        "RUN |1 X=1 /bin/sh -c /dev/pipes/EOF # buildkit");
    done(&c);
}

static void test_convert__copy(void **state)
{
    (void)state;
    struct converted c = conv("FROM scratch\nARG U=1000 M=755 D=out\nWORKDIR /app\n"
                              "COPY --chown=$U:$U --chmod=$M --exclude=*.o --link src/ ${D}\n"
                              "COPY a .\n"
                              "COPY --parents x/./y /abs/../z/\n"
                              "ADD --unpack=false https://h/f.tgz /\n"
                              "COPY <<EOF <<'RAW' /etc/\nv=$U\nEOF\nv=$U\nRAW\n");
    const struct kiln_vertex_copy *a = &c.g->v[1]->copy;
    expect_strv(&a->sources, NAMES("src/"), "sources");
    assert_string_equal(a->dest, "/app/out");
    assert_string_equal(a->chown, "1000:1000");
    assert_string_equal(a->chmod, "755");
    expect_strv(&a->excludes, NAMES("*.o"), "excludes");
    assert_true(a->link);
    assert_int_equal(a->from_kind, KILN_COPY_FROM_CONTEXT);
    assert_string_equal(c.g->v[2]->copy.dest, "/app/");
    assert_string_equal(c.g->v[3]->copy.dest, "/z/");
    assert_true(c.g->v[3]->copy.parents);
    assert_true(c.g->v[4]->copy.add);
    assert_int_equal(c.g->v[4]->copy.unpack, KILN_DF_FALSE);
    const struct kiln_vertex_copy *h = &c.g->v[5]->copy;
    assert_int_equal(h->from_kind, KILN_COPY_FROM_INLINE);
    assert_int_equal(h->n_inline_files, 2);
    assert_string_equal(h->inline_files[0].name, "EOF");
    assert_string_equal(h->inline_files[0].data, "v=1000\n");
    assert_string_equal(h->inline_files[1].data, "v=$U\n");
    json_t *hist = json_object_get(c.g->config, "history");
    assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 6), "created_by")),
                        "COPY <<EOF <<RAW /etc/ # buildkit");
    done(&c);
}

static void test_convert__options(void **state)
{
    (void)state;
    struct kiln_oci_platform arm64 = {.architecture = "arm64", .os = "linux"};
    struct kiln_convert_opts o = test_opts();
    o.multi_platform = true;
    o.no_cache = true;
    o.platform = &arm64;
    struct converted c = conv_opts("FROM busybox AS b\nARG TARGETARCH\nRUN true\n"
                                   "FROM --platform=$BUILDPLATFORM busybox\nARG TARGETPLATFORM\n"
                                   "COPY --from=b / /\n",
                                   &o);
    /* Stages are converted when first needed: the target's FROM comes first. */
    expect_names(c.g,
                 NAMES("[linux/amd64 stage-1 1/2] FROM " PINNED_BUSYBOX,
                       "[linux/arm64 b 1/2] FROM " PINNED_BUSYBOX, "[linux/arm64 b 2/2] RUN true",
                       "[linux/amd64->arm64 stage-1 2/2] COPY --from=b / /"));
    for (size_t i = 0; i < c.g->n; i++)
        assert_true(c.g->v[i]->no_cache);
    assert_string_equal(c.g->v[2]->exec.platform.architecture, "arm64");
    assert_string_equal(c.g->v[0]->image.platform.architecture, "amd64");
    done(&c);

    /* An image without layers is scratch: no vertex, and its step is never numbered. */
    c = conv("FROM layerless\nRUN true\n");
    expect_names(c.g, NAMES("[1/2] RUN true"));
    assert_null(c.g->v[0]->base);
    done(&c);
}

static void test_convert__errors(void **state)
{
    (void)state;
    struct kiln_convert_opts o = test_opts();
    o.target = "nope";
    test_convert_fails("FROM scratch AS a\nFROM scratch AS b\n", &o, KILN_E_INVALID, 0,
                       "target stage \"nope\" could not be found: the stages are a, b");
    o = test_opts();
    test_convert_fails("FROM scratch AS a\nCOPY --from=later / /\nFROM scratch AS later\n"
                       "FROM a\n",
                       &o, KILN_E_INVALID, 2, "cannot copy from stage \"later\"");
    test_convert_fails("FROM scratch\nCOPY --from=7 / /\n", &o, KILN_E_INVALID, 2,
                       "invalid stage index 7");
    test_convert_fails("FROM nosuchimage\n", &o, KILN_E_NOTFOUND, 1, "nosuchimage");
    test_convert_fails("ARG B=\nFROM ${B}\n", &o, KILN_E_INVALID, 2,
                       "base name (${B}) should not be blank");
    test_convert_fails("FROM scratch\nADD --checksum=sha256:aa a /\n", &o, KILN_E_INVALID, 2,
                       "checksum requires HTTP(S) or Git sources");
    test_convert_fails("FROM scratch\nCOPY --chmod=9999 a /\n", &o, KILN_E_INVALID, 2,
                       "invalid chmod parameter: '9999'");
    test_convert_fails("FROM scratch\nCOPY https://h/x /\n", &o, KILN_E_INVALID, 2,
                       "source can't be a URL for COPY");
    test_convert_fails("FROM onbuild-missing\n", &o, KILN_E_NOTFOUND, 1, "not found");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_convert__names_single_stage),
            cmocka_unit_test(test_convert__stages_and_pruning),
            cmocka_unit_test(test_convert__copy_from_image),
            cmocka_unit_test(test_convert__args),
            cmocka_unit_test(test_convert__run),
            cmocka_unit_test(test_convert__run_heredoc_shebang),
            cmocka_unit_test(test_convert__copy),
            cmocka_unit_test(test_convert__options),
            cmocka_unit_test(test_convert__errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
