/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The converter: configs, history strings, stages and names as BuildKit's
 * dockerfile2llb makes them. Base images come from a resolve callback that
 * answers with fixed configs (the images of this file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "dockerfile/parser.h"
#include "engine/convert.h"

#include "base/banned.h"

static const char base_config[] =
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2020-01-01T00:00:00Z\","
        "\"config\":{\"Env\":[\"PATH=/bin\",\"HOME=/root\"],\"Cmd\":[\"/bin/sh\"],"
        "\"OnBuild\":[\"ENV TRIGGERED=yes\"]},"
        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:aa\"]},"
        "\"history\":[{\"created_by\":\"base\"}]}";

static int resolve(void *userdata, const char *ref, const struct kiln_oci_platform *platform,
                   char **ret_ref, json_t **ret_config, struct kiln_error **err)
{
    (void)userdata, (void)platform;
    if (strcmp(ref, "missing") == 0)
        return kiln_error_set(err, KILN_E_NOTFOUND, "%s: not found", ref);
    *ret_ref = kiln_xasprintf("docker.io/library/%s@sha256:%064d", ref, 1);
    *ret_config = json_loads(base_config, 0, NULL);
    return 0;
}

struct converted {
    struct kiln_df_ast *ast;
    struct kiln_df_instructions *df;
    struct kiln_graph *g;
};

static int convert(const char *text, const char *target, const struct kiln_strv *args,
                   struct converted *c, struct kiln_error **err)
{
    struct kiln_oci_platform host = {0};
    kiln_oci_platform_parse("linux/amd64", &host, NULL);
    struct kiln_convert_opts o = {
            .target = target, .build_args = args, .build_platform = &host, .resolve = resolve};
    *c = (struct converted){0};
    int r = kiln_df_parse(text, strlen(text), &c->ast, err);
    if (r >= 0)
        r = kiln_df_instructions_parse(c->ast, &c->df, err);
    if (r >= 0)
        r = kiln_convert(c->df, &o, &c->g, err);
    kiln_oci_platform_release(&host);
    return r;
}

static void release(struct converted *c)
{
    kiln_graph_free(c->g);
    kiln_df_instructions_free(c->df);
    kiln_df_ast_free(c->ast);
}

static const char *history(const struct kiln_graph *g, long i)
{
    json_t *h = json_object_get(g->config, "history");
    if (i < 0)
        i += (long)json_array_size(h);
    return json_string_value(json_object_get(json_array_get(h, (size_t)i), "created_by"));
}

static json_t *cfg(const struct kiln_graph *g, const char *key)
{
    return json_object_get(json_object_get(g->config, "config"), key);
}

static void test_convert__metadata_and_history(void **state)
{
    (void)state;
    struct converted c;
    struct kiln_error *e = NULL;
    assert_int_equal(convert("FROM alpine\n"
                             "ENV A=1 B=\"two words\"\n"
                             "LABEL k=v\n"
                             "EXPOSE 80 53/udp\n"
                             "WORKDIR app\n"
                             "USER app\n"
                             "ENTRYPOINT [\"/bin/tool\"]\n"
                             "CMD run fast\n",
                             NULL, NULL, &c, &e),
                     0);
    assert_string_equal(history(c.g, 0), "base");
    assert_string_equal(history(c.g, 1), "ENV TRIGGERED=yes");
    assert_string_equal(history(c.g, 2), "ENV A=1 B=two words");
    assert_string_equal(history(c.g, 3), "LABEL k=v");
    assert_string_equal(history(c.g, 5), "WORKDIR /app");
    assert_string_equal(history(c.g, -2), "ENTRYPOINT [\"/bin/tool\"]");
    assert_string_equal(history(c.g, -1), "CMD [\"/bin/sh\" \"-c\" \"run fast\"]");
    assert_null(
            json_object_get(json_array_get(json_object_get(c.g->config, "history"), 2), "created"));
    assert_null(json_object_get(c.g->config, "created"));
    assert_string_equal(json_string_value(cfg(c.g, "WorkingDir")), "/app");
    assert_string_equal(json_string_value(cfg(c.g, "User")), "app");
    assert_non_null(json_object_get(cfg(c.g, "ExposedPorts"), "80/tcp"));
    assert_non_null(json_object_get(cfg(c.g, "ExposedPorts"), "53/udp"));
    assert_null(cfg(c.g, "OnBuild")); /* run, then cleared */
    json_t *env = cfg(c.g, "Env");
    assert_int_equal(json_array_size(env), 5);
    assert_string_equal(json_string_value(json_array_get(env, 3)), "A=1");
    assert_string_equal(json_string_value(json_array_get(env, 4)), "B=two words");
    release(&c);
}

static void test_convert__entrypoint_resets_inherited_cmd(void **state)
{
    (void)state;
    struct converted c;
    struct kiln_error *e = NULL;
    assert_int_equal(convert("FROM alpine\nENTRYPOINT [\"/x\"]\n", NULL, NULL, &c, &e), 0);
    assert_null(cfg(c.g, "Cmd"));
    release(&c);
    assert_int_equal(convert("FROM alpine\nCMD [\"a\"]\nENTRYPOINT [\"/x\"]\n", NULL, NULL, &c, &e),
                     0);
    assert_non_null(cfg(c.g, "Cmd"));
    release(&c);
}

static void test_convert__args_scoping(void **state)
{
    (void)state;
    struct converted c;
    struct kiln_error *e = NULL;
    struct kiln_strv args = KILN_STRV_INIT;
    kiln_strv_push(&args, "V=override");
    assert_int_equal(convert("ARG TAG=3.19\n"
                             "FROM alpine:$TAG\n"
                             "ARG V=default\n"
                             "ARG TAG\n"
                             "ENV FROM_ARG=$V TAG_IN_STAGE=$TAG ARCH=$TARGETARCH\n",
                             NULL, &args, &c, &e),
                     0);
    json_t *env = cfg(c.g, "Env");
    assert_string_equal(json_string_value(json_array_get(env, 3)), "FROM_ARG=override");
    assert_string_equal(json_string_value(json_array_get(env, 4)), "TAG_IN_STAGE=3.19");
    assert_string_equal(json_string_value(json_array_get(env, 5)), "ARCH=");
    assert_string_equal(c.g->v[0]->image.ref,
                        "docker.io/library/alpine:3.19@sha256:"
                        "0000000000000000000000000000000000000000000000000000000000000001");
    release(&c);
    kiln_strv_release(&args);
}

static void test_convert__only_needed_stages_and_names(void **state)
{
    (void)state;
    struct converted c;
    struct kiln_error *e = NULL;
    assert_int_equal(convert("FROM alpine AS build\nCOPY a /a\n"
                             "FROM alpine AS unused\nCOPY b /b\n"
                             "FROM scratch\nCOPY --from=build /a /a\nWORKDIR /w\n",
                             NULL, NULL, &c, &e),
                     0);
    assert_int_equal(c.g->n, 4); /* image, copy a, copy --from, mkdir: inputs first */
    assert_int_equal(c.g->v[0]->kind, KILN_VERTEX_IMAGE);
    assert_string_equal(c.g->v[1]->name, "[build 2/2] COPY a /a");
    assert_string_equal(c.g->v[2]->name, "[stage-2 1/2] COPY --from=build /a /a");
    assert_string_equal(c.g->v[3]->name, "[stage-2 2/2] WORKDIR /w");
    assert_int_equal(c.g->v[2]->copy.from_kind, KILN_COPY_FROM_STATE);
    assert_ptr_equal(c.g->v[2]->copy.from, c.g->v[1]);
    assert_ptr_equal(c.g->result, c.g->v[3]);
    release(&c);
}

static void test_convert__copy_destination(void **state)
{
    (void)state;
    struct converted c;
    struct kiln_error *e = NULL;
    assert_int_equal(convert("FROM scratch\nWORKDIR /w\nCOPY a .\nCOPY b sub/\nCOPY c file\n", NULL,
                             NULL, &c, &e),
                     0);
    assert_string_equal(c.g->v[1]->copy.dest, "/w/");
    assert_string_equal(c.g->v[2]->copy.dest, "/w/sub/");
    assert_string_equal(c.g->v[3]->copy.dest, "/w/file");
    release(&c);
}

static void test_convert__errors(void **state)
{
    (void)state;
    struct converted c;
    struct kiln_error *e = NULL;
    int r = convert("FROM alpine AS a\nFROM a\n", "nope", NULL, &c, &e);
    assert_int_equal(r, KILN_E_INVALID);
    assert_non_null(strstr(kiln_error_message(e, r), "target stage \"nope\" could not be found"));
    kiln_error_free(e);
    e = NULL;
    release(&c);
    r = convert("FROM scratch AS first\nCOPY --from=later /x /x\nFROM scratch AS later\n", "first",
                NULL, &c, &e);
    assert_true(r < 0);
    kiln_error_free(e);
    e = NULL;
    release(&c);
    r = convert("FROM scratch\nFROM missing\n", NULL, NULL, &c, &e);
    assert_int_equal(r, KILN_E_NOTFOUND);
    assert_int_equal(e->line, 2);
    kiln_error_free(e);
    release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_convert__metadata_and_history),
            cmocka_unit_test(test_convert__entrypoint_resets_inherited_cmd),
            cmocka_unit_test(test_convert__args_scoping),
            cmocka_unit_test(test_convert__only_needed_stages_and_names),
            cmocka_unit_test(test_convert__copy_destination),
            cmocka_unit_test(test_convert__errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
