/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert-test.h - what the converter's tests share: a Dockerfile typed from
 * text, a resolve() answering from a fixed table of image configs, and
 * assertions that name what differed.
 */
#pragma once

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile/instructions.h"
#include "dockerfile/parser.h"
#include "engine/convert.h"

#define DIGEST_BUSYBOX "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define DIGEST_ALPINE  "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define DIGEST_OTHER   "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define PINNED_BUSYBOX "docker.io/library/busybox:latest@" DIGEST_BUSYBOX
#define PINNED_ALPINE  "docker.io/library/alpine:3.19@" DIGEST_ALPINE
#define DEFAULT_PATH   "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The images resolve() knows: the configs their registries would serve. */
static const struct {
    const char *ref, *pinned, *config;
} test_images[] = {
        {"busybox", PINNED_BUSYBOX,
         "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-01T00:00:00Z\","
         "\"config\":{\"Hostname\":\"\",\"Env\":[\"PATH=/bin:/usr/bin\"],\"Cmd\":[\"sh\"],"
         "\"WorkingDir\":\"\",\"Labels\":null},"
         "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DIGEST_OTHER "\"]},"
         "\"history\":[{\"created\":\"2024-01-01T00:00:00Z\",\"created_by\":\"ADD file:x in / \"},"
         "{\"created\":\"2024-01-01T00:00:00Z\",\"created_by\":\"CMD [\\\"sh\\\"]\","
         "\"empty_layer\":true}]}"},
        {"alpine:3.19", PINNED_ALPINE,
         "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"User\":\"nobody\","
         "\"WorkingDir\":\"/home\",\"Env\":[\"LANG=C\"]},"
         "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DIGEST_OTHER "\"]},"
         "\"history\":[{\"created_by\":\"ADD rootfs\"}]}"},
        {"onbuild", "docker.io/library/onbuild:latest@" DIGEST_OTHER,
         "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\"],"
         "\"OnBuild\":[\"ENV FROM_TRIGGER=1\",\"RUN echo triggered $FROM_TRIGGER\"]},"
         "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DIGEST_OTHER "\"]},"
         "\"history\":[{\"created_by\":\"ADD rootfs\"}]}"},
        {"layerless", "docker.io/library/layerless:latest@" DIGEST_OTHER,
         "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
         "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},"
         "\"history\":[{\"created_by\":\"LABEL a=b\",\"empty_layer\":true}]}"},
        /* 127.0.0.1:5000/bench/base:1 of ../shared/bench (busybox-static, umoci). */
        {"127.0.0.1:5000/bench/base:1",
         "127.0.0.1:5000/bench/"
         "base:1@sha256:98f19a73b8670e290edf21e966c929c88e456018f0e81faef1c7efbf35f36924",
         "{\"created\":\"1970-01-01T00:00:00Z\",\"architecture\":\"amd64\",\"os\":\"linux\",\"co"
         "nfig\":{\"Env\":[\"PATH=/usr/sbin:/usr/bin:/sbin:/bin\"],\"Cmd\":[\"/bin/sh\"],\"Worki"
         "ngDir\":\"/\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:43bdd21c7b958fe0"
         "08990feed72c21591732134220a6e9591f11d01e8eeffd30\"]},\"history\":[{\"created\":\"1970-"
         "01-01T00:00:00Z\",\"created_by\":\"busybox-static rootfs\"},{\"created\":\"1970-01-01T"
         "00:00:00Z\",\"created_by\":\"umoci config\",\"empty_layer\":true}]}"},
};

static int resolve_calls;

static inline int test_resolve(void *userdata, const char *ref,
                               const struct kiln_oci_platform *platform, char **ret_ref,
                               json_t **ret_config, struct kiln_error **err)
{
    (void)userdata;
    (void)platform;
    resolve_calls++;
    for (size_t i = 0; i < sizeof(test_images) / sizeof(*test_images); i++) {
        if (strcmp(test_images[i].ref, ref) != 0)
            continue;
        json_error_t je;
        *ret_config = json_loads(test_images[i].config, 0, &je);
        if (!*ret_config)
            fail_msg("test image '%s': %s", ref, je.text);
        *ret_ref = strdup(test_images[i].pinned);
        return 0;
    }
    return kiln_error_set(err, KILN_E_NOTFOUND, "image '%s' not found", ref);
}

static struct kiln_oci_platform test_amd64 = {.architecture = "amd64", .os = "linux"};

static inline struct kiln_convert_opts test_opts(void)
{
    return (struct kiln_convert_opts){.build_platform = &test_amd64, .resolve = test_resolve};
}

static inline struct kiln_df_instructions *test_typed(const char *text)
{
    struct kiln_df_ast *ast = NULL;
    struct kiln_error *err = NULL;
    int r = kiln_df_parse(text, strlen(text), &ast, &err);
    if (r < 0)
        fail_msg("parse of [%s] failed: %s", text, kiln_error_message(err, r));
    struct kiln_df_instructions *df = NULL;
    r = kiln_df_instructions_parse(ast, &df, &err);
    if (r < 0)
        fail_msg("typing [%s] failed: %s", text, kiln_error_message(err, r));
    kiln_df_ast_free(ast);
    return df;
}

/* Converts text, which must succeed; the graph's instructions stay alive in *ret_df. */
static inline struct kiln_graph *test_convert_with(const char *text,
                                                   const struct kiln_convert_opts *o,
                                                   struct kiln_df_instructions **ret_df)
{
    struct kiln_df_instructions *df = test_typed(text);
    struct kiln_graph *g = NULL;
    struct kiln_error *err = NULL;
    int r = kiln_convert(df, o, &g, &err);
    if (r < 0)
        fail_msg("convert of [%s] failed at line %u: %s", text, err ? err->line : 0,
                 kiln_error_message(err, r));
    *ret_df = df;
    return g;
}

/* Converts text, which must fail with `code` at `line` and a message containing `want`. */
static inline void test_convert_fails(const char *text, const struct kiln_convert_opts *o, int code,
                                      unsigned line, const char *want)
{
    struct kiln_df_instructions *df = test_typed(text);
    struct kiln_graph *g = NULL;
    struct kiln_error *err = NULL;
    int r = kiln_convert(df, o, &g, &err);
    if (r >= 0)
        fail_msg("convert of [%s] succeeded, want an error containing '%s'", text, want);
    const char *msg = kiln_error_message(err, r);
    if (r != code || !strstr(msg, want) || (err ? err->line : 0) != line)
        fail_msg("convert of [%s]: got code %d line %u '%s', want code %d line %u '%s'", text, r,
                 err ? err->line : 0, msg, code, line, want);
    kiln_error_free(err);
    kiln_df_instructions_free(df);
}

/* The JSON `got` equals the JSON text `want` (object key order aside). */
static inline void test_json_equal(json_t *got, const char *want, const char *what)
{
    json_error_t je;
    json_t *w = json_loads(want, 0, &je);
    if (!w)
        fail_msg("%s: expected JSON does not parse: %s", what, je.text);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_INDENT(1));
        char *e = json_dumps(w, JSON_SORT_KEYS | JSON_INDENT(1));
        fail_msg("%s differs:\ngot:  %s\nwant: %s", what, g, e);
    }
    json_decref(w);
}
