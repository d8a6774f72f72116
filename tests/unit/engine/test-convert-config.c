/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-convert-config.c - the image config and history each instruction
 * writes, compared with what BuildKit's dockerfile2llb writes for the same
 * Dockerfile (docs/internals/convert.md).
 */
#include "convert-test.h"
#include "engine/convert-private.h"

/* The target's config JSON of `text` built for linux/amd64 equals `want`. */
static void expect_config(const char *text, const char *want)
{
    struct kiln_convert_opts o = test_opts();
    struct kiln_df_instructions *df;
    struct kiln_graph *g = test_convert_with(text, &o, &df);
    test_json_equal(g->config, want, text);
    kiln_graph_free(g);
    kiln_df_instructions_free(df);
}

#define H(s) "{\"created_by\":" s ",\"comment\":\"buildkit.dockerfile.v0\",\"empty_layer\":true}"
#define L(s) "{\"created_by\":" s ",\"comment\":\"buildkit.dockerfile.v0\"}"

static void test_convert_config__every_metadata_instruction(void **state)
{
    (void)state;
    expect_config(
            "FROM scratch\n"
            "ENV A=1 B=\"two words\"\n"
            "LABEL org.x=y \"with space\"=\"v v\"\n"
            "ARG V=3\n"
            "ENV C=$V D=${A}x\n"
            "WORKDIR app\n"
            "WORKDIR ../srv/./x\n"
            "USER 1000:1000\n"
            "EXPOSE 8080 53/udp 7000-7002/TCP\n"
            "VOLUME /data /cache\n"
            "STOPSIGNAL SIGTERM\n"
            "SHELL [\"/bin/bash\", \"-c\"]\n"
            "CMD echo hi\n"
            "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=1500ms --retries=3 "
            "CMD curl -f http://localhost/ || exit 1\n"
            "ONBUILD RUN echo onbuild\n"
            "MAINTAINER someone <a@b>\n",
            "{\"architecture\":\"amd64\",\"os\":\"linux\",\"author\":\"someone <a@b>\","
            "\"config\":{\"Env\":[\"" DEFAULT_PATH "\",\"A=1\",\"B=two words\",\"C=3\",\"D=1x\"],"
            "\"Labels\":{\"org.x\":\"y\",\"with space\":\"v v\"},\"WorkingDir\":\"/srv/x\","
            "\"User\":\"1000:1000\",\"ExposedPorts\":{\"53/udp\":{},\"7000/tcp\":{},\"7001/"
            "tcp\":{},"
            "\"7002/tcp\":{},\"8080/tcp\":{}},\"Volumes\":{\"/data\":{},\"/cache\":{}},"
            "\"StopSignal\":\"SIGTERM\",\"Shell\":[\"/bin/bash\",\"-c\"],"
            "\"Cmd\":[\"/bin/bash\",\"-c\",\"echo hi\"],\"ArgsEscaped\":true,"
            "\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"curl -f http://localhost/ || exit "
            "1\"],"
            "\"Interval\":30000000000,\"Timeout\":90000000000,\"StartPeriod\":1500000000,"
            "\"Retries\":3},\"OnBuild\":[\"RUN echo onbuild\"]},"
            "\"history\":[" H("\"ENV A=1 B=two words\"") "," H(
                    "\"LABEL org.x=y with space=v "
                    "v\"") "," H("\"ARG V=3\"") "," H("\"ENV C=3 "
                                                      "D=1x\"") "," L("\"WORKDIR /app\"") "," L("\""
                                                                                                "WO"
                                                                                                "RK"
                                                                                                "DI"
                                                                                                "R "
                                                                                                "/s"
                                                                                                "rv"
                                                                                                "/x"
                                                                                                "\"") "," H("\"USER 1000:1000\"") "," H("\"EXPOSE [53/udp 7000/tcp 7001/tcp 7002/tcp "
                                                                                                                                        "8080/tcp]\"") "," H("\"VOLUME [/data "
                                                                                                                                                             "/cache]\"") "," H("\"ST"
                                                                                                                                                                                "OPSI"
                                                                                                                                                                                "GNAL"
                                                                                                                                                                                " SIG"
                                                                                                                                                                                "TERM"
                                                                                                                                                                                "\"") "," H("\"SHELL [/bin/bash -c]\"") "," H("\"CMD [\\\"/bin/bash\\\" \\\"-c\\\" \\\"echo hi\\\"]\"") "," H("\"HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/ || exit 1] Interval:30s "
                                                                                                                                                                                                                                                                                              "Timeout:1m30s StartPeriod:1.5s StartInterval:0s Retries:3}\"") "," H("\"MAINTAINER someone <a@b>\"") "]}");
}

static void test_convert_config__base_image_cleaned(void **state)
{
    (void)state;
    /* created dropped, unknown and empty fields dropped (Go's decoding), history kept. */
    expect_config("FROM busybox\n",
                  "{\"architecture\":\"amd64\",\"os\":\"linux\","
                  "\"config\":{\"Env\":[\"PATH=/bin:/usr/bin\"],\"Cmd\":[\"sh\"]},"
                  "\"history\":[{\"created\":\"2024-01-01T00:00:00Z\","
                  "\"created_by\":\"ADD file:x in / \"},"
                  "{\"created\":\"2024-01-01T00:00:00Z\",\"created_by\":\"CMD [\\\"sh\\\"]\","
                  "\"empty_layer\":true}]}");
    /* PATH added when the base has none; WORKDIR joins the base's; USER kept. */
    expect_config("FROM alpine:3.19\nWORKDIR sub\n",
                  "{\"architecture\":\"amd64\",\"os\":\"linux\","
                  "\"config\":{\"User\":\"nobody\",\"WorkingDir\":\"/home/sub\","
                  "\"Env\":[\"LANG=C\",\"" DEFAULT_PATH "\"]},"
                  "\"history\":[{\"created_by\":\"ADD rootfs\"}," L("\"WORKDIR /home/sub\"") "]}");
}

static void test_convert_config__entrypoint_resets_cmd(void **state)
{
    (void)state;
    /* An inherited CMD goes when ENTRYPOINT is set ... */
    expect_config("FROM busybox\nENTRYPOINT [\"/init\"]\n",
                  "{\"architecture\":\"amd64\",\"os\":\"linux\","
                  "\"config\":{\"Env\":[\"PATH=/bin:/usr/bin\"],\"Entrypoint\":[\"/init\"]},"
                  "\"history\":[{\"created\":\"2024-01-01T00:00:00Z\","
                  "\"created_by\":\"ADD file:x in / \"},"
                  "{\"created\":\"2024-01-01T00:00:00Z\",\"created_by\":\"CMD [\\\"sh\\\"]\","
                  "\"empty_layer\":true}," H("\"ENTRYPOINT [\\\"/init\\\"]\"") "]}");
    /* ... but not a CMD of the same stage; the shell form gets /bin/sh -c. */
    expect_config("FROM scratch\nCMD [\"a\", \"b c\", \"q\\\"\"]\nENTRYPOINT run it\n",
                  "{\"architecture\":\"amd64\",\"os\":\"linux\","
                  "\"config\":{\"Env\":[\"" DEFAULT_PATH "\"],\"WorkingDir\":\"/\","
                  "\"Cmd\":[\"a\",\"b c\",\"q\\\"\"],\"ArgsEscaped\":true,"
                  "\"Entrypoint\":[\"/bin/sh\",\"-c\",\"run it\"]},"
                  "\"history\":[" H("\"CMD [\\\"a\\\" \\\"b c\\\" \\\"q\\\\\\\"\\\"]\"") "," H(
                          "\"ENTRYPOINT [\\\"/bin/sh\\\" \\\"-c\\\" \\\"run it\\\"]\"") "]}");
}

static void test_convert_config__history_of_layers(void **state)
{
    (void)state;
    /* RUN lists the stage's ARGs (|N), COPY/ADD their flags; "# buildkit" ends both. */
    expect_config(
            "FROM scratch\n"
            "ARG A=1\n"
            "ARG UNSET\n"
            "ENV A=2\n"
            "RUN echo $A\n"
            "COPY --chown=1:2 --chmod=644 a b* dir/\n"
            "ADD --checksum=sha256:aa https://example.com/f.tgz /f\n"
            "RUN [\"/bin/true\", \"x\"]\n",
            "{\"architecture\":\"amd64\",\"os\":\"linux\","
            "\"config\":{\"Env\":[\"" DEFAULT_PATH "\",\"A=2\"],\"WorkingDir\":\"/\"},"
            "\"history\":[" H("\"ARG A=1\"") "," H("\"ARG UNSET\"") "," H("\"ENV A=2\"") "," L(
                    "\"R"
                    "UN "
                    "|2 "
                    "A="
                    "2 "
                    "UNS"
                    "ET="
                    " /"
                    "bin"
                    "/sh"
                    " -"
                    "c "
                    "ech"
                    "o "
                    "$A "
                    "# "
                    "bui"
                    "ldk"
                    "it"
                    "\"") "," L("\"COPY --chown=1:2 --chmod=644 a b* dir/ # "
                                "buildkit\"") "," L("\"ADD "
                                                    "https://"
                                                    "example.com/"
                                                    "f.tgz /f # "
                                                    "buildkit\"") "," L("\"RUN"
                                                                        " |2 "
                                                                        "A=2 "
                                                                        "UNSET"
                                                                        "= "
                                                                        "/bin/"
                                                                        "true "
                                                                        "x # "
                                                                        "build"
                                                                        "kit"
                                                                        "\"") "]}");
}

static void test_convert_config__labels_on_target_only(void **state)
{
    (void)state;
    struct kiln_strv labels = KILN_STRV_INIT;
    kiln_strv_push(&labels, "cli=1");
    struct kiln_convert_opts o = test_opts();
    o.labels = &labels;
    o.target = "first";
    struct kiln_df_instructions *df;
    struct kiln_graph *g =
            test_convert_with("FROM scratch AS first\nLABEL a=b\nFROM first\nLABEL c=d\n", &o, &df);
    test_json_equal(json_object_get(json_object_get(g->config, "config"), "Labels"),
                    "{\"a\":\"b\",\"cli\":\"1\"}", "labels of target 'first'");
    kiln_graph_free(g);
    kiln_df_instructions_free(df);
    kiln_strv_release(&labels);
}

static void test_convert_config__onbuild_triggers(void **state)
{
    (void)state;
    /* The base image's triggers run first and are cleared; an own ONBUILD is recorded. */
    struct kiln_convert_opts o = test_opts();
    struct kiln_df_instructions *df;
    struct kiln_graph *g = test_convert_with("FROM onbuild\nONBUILD COPY . /app\n", &o, &df);
    test_json_equal(
            g->config,
            "{\"architecture\":\"amd64\",\"os\":\"linux\","
            "\"config\":{\"Env\":[\"PATH=/bin\",\"FROM_TRIGGER=1\"],"
            "\"OnBuild\":[\"COPY . /app\"]},"
            "\"history\":[{\"created_by\":\"ADD rootfs\"}," H("\"ENV FROM_TRIGGER=1\"") "," L(
                    "\"RUN /bin/sh -c echo triggered $FROM_TRIGGER # buildkit\"") "]}",
            "config after triggers");
    assert_int_equal(g->n, 2);
    assert_string_equal(g->v[0]->name, "[1/1] FROM docker.io/library/onbuild:latest@" DIGEST_OTHER);
    assert_string_equal(g->v[1]->name, "[2/3] ONBUILD RUN echo triggered 1");
    assert_string_equal(g->v[1]->exec.args.v[2], "echo triggered $FROM_TRIGGER");
    kiln_graph_free(g);
    kiln_df_instructions_free(df);

    /* A stage FROM an earlier stage runs that stage's ONBUILD lines, and does not inherit them. */
    g = test_convert_with("FROM scratch AS base\nONBUILD ENV X=1\nONBUILD WORKDIR /w\n"
                          "FROM base\nRUN true\n",
                          &o, &df);
    test_json_equal(json_object_get(g->config, "config"),
                    "{\"Env\":[\"" DEFAULT_PATH "\",\"X=1\"],\"WorkingDir\":\"/w\"}",
                    "config of the stage FROM base");
    assert_int_equal(g->n, 2);
    assert_string_equal(g->v[0]->name, "[stage-1 1/3] ONBUILD WORKDIR /w");
    assert_string_equal(g->v[1]->name, "[stage-1 2/3] RUN true");
    kiln_graph_free(g);
    kiln_df_instructions_free(df);
}

static void test_convert_config__platform(void **state)
{
    (void)state;
    struct kiln_oci_platform arm = {.architecture = "arm", .os = "linux", .variant = "v7"};
    struct kiln_convert_opts o = test_opts();
    o.platform = &arm;
    struct kiln_df_instructions *df;
    struct kiln_graph *g = test_convert_with("FROM scratch\nARG TARGETPLATFORM\nARG BUILDPLATFORM\n"
                                             "ENV T=$TARGETPLATFORM B=$BUILDPLATFORM\n",
                                             &o, &df);
    test_json_equal(g->config,
                    "{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\","
                    "\"config\":{\"Env\":[\"" DEFAULT_PATH "\",\"T=linux/arm/v7\","
                    "\"B=linux/amd64\"],\"WorkingDir\":\"/\"},"
                    "\"history\":[" H("\"ARG TARGETPLATFORM=linux/arm/v7\"") "," H(
                            "\"ARG BUILDPLATFORM=linux/amd64\"") "," H("\"ENV T=linux/arm/v7 "
                                                                       "B=linux/amd64\"") "]}",
                    "config for linux/arm/v7");
    assert_string_equal(g->platform.architecture, "arm");
    assert_string_equal(g->platform.variant, "v7");
    kiln_graph_free(g);
    kiln_df_instructions_free(df);
}

static void test_convert_config__errors(void **state)
{
    (void)state;
    struct kiln_convert_opts o = test_opts();
    test_convert_fails("FROM scratch\nSTOPSIGNAL SIGNOPE\n", &o, KILN_E_INVALID, 2,
                       "Invalid signal: SIGNOPE");
    test_convert_fails("FROM scratch\nARG E\nVOLUME $E\n", &o, KILN_E_INVALID, 3,
                       "VOLUME specified can not be an empty string");
    test_convert_fails("FROM scratch\nEXPOSE 80/xtp\n", &o, KILN_E_INVALID, 2,
                       "invalid proto: xtp");
    test_convert_fails("FROM scratch\nEXPOSE 90-80\n", &o, KILN_E_INVALID, 2,
                       "invalid containerPort: 90-80");
    test_convert_fails("FROM scratch\nENV A=${B:?is-required}\n", &o, KILN_E_INVALID, 2,
                       "is-required");
}

/*
 * The config Docker 20.10's BuildKit wrote for this file (docker save), with
 * what BuildKit changed since: COPY history shows --chmod, a stage FROM an
 * earlier one lists that stage's ARGs in RUN history, and OnBuild is omitted
 * when empty.
 */
static void test_convert_config__matches_a_real_build(void **state)
{
    (void)state;
    expect_config(
            "ARG TAG=1\n"
            "FROM 127.0.0.1:5000/bench/base:${TAG} AS base\n"
            "ARG A=1\nARG UNSET\nENV A=2\nRUN echo $A > /a\n"
            "COPY --chmod=644 Dockerfile dir/\n"
            "SHELL [\"/bin/sh\", \"-eu\", \"-c\"]\n"
            "CMD echo \"hi $A\"\n"
            "FROM base\nRUN true\nENTRYPOINT echo x\n",
            "{\"architecture\":\"amd64\",\"config\":{\"ArgsEscaped\":true,\"Entrypoint\":[\"/bin/sh"
            "\",\"-eu\",\"-c\",\"echo x\"],\"Env\":[\"PATH=/usr/sbin:/usr/bin:/sbin:/bin\",\"A=2\"]"
            ",\"Shell\":[\"/bin/sh\",\"-eu\",\"-c\"],\"WorkingDir\":\"/"
            "\"},\"history\":[{\"created\""
            ":\"1970-01-01T00:00:00Z\",\"created_by\":\"busybox-static rootfs\"},{\"created\":\"197"
            "0-01-01T00:00:00Z\",\"created_by\":\"umoci config\",\"empty_layer\":true},{\"comment\""
            ":\"buildkit.dockerfile.v0\",\"created_by\":\"ARG A=1\",\"empty_layer\":true},{\"commen"
            "t\":\"buildkit.dockerfile.v0\",\"created_by\":\"ARG UNSET\",\"empty_layer\":true},{\"c"
            "omment\":\"buildkit.dockerfile.v0\",\"created_by\":\"ENV A=2\",\"empty_layer\":true},{"
            "\"comment\":\"buildkit.dockerfile.v0\",\"created_by\":\"RUN |2 A=2 UNSET= /bin/sh -c e"
            "cho $A > /a # buildkit\"},{\"comment\":\"buildkit.dockerfile.v0\",\"created_by\":\"COP"
            "Y --chmod=644 Dockerfile dir/ # buildkit\"},{\"comment\":\"buildkit.dockerfile.v0\",\""
            "created_by\":\"SHELL [/bin/sh -eu -c]\",\"empty_layer\":true},{\"comment\":\"buildkit."
            "dockerfile.v0\",\"created_by\":\"CMD [\\\"/bin/sh\\\" \\\"-eu\\\" \\\"-c\\\" \\\"echo "
            "\\\\\\\"hi $A\\\\\\\"\\\"]\",\"empty_layer\":true},{\"comment\":\"buildkit.dockerfile."
            "v0\",\"created_by\":\"RUN |2 A=2 UNSET= /bin/sh -eu -c true # buildkit\"},{\"comment\""
            ":\"buildkit.dockerfile.v0\",\"created_by\":\"ENTRYPOINT [\\\"/bin/sh\\\" \\\"-eu\\\" "
            "\\"
            "\"-c\\\" \\\"echo x\\\"]\",\"empty_layer\":true}],\"os\":\"linux\"}");
}

static void test_convert_config__go_durations(void **state)
{
    (void)state;
    static const struct {
        int64_t ns;
        const char *want;
    } rows[] = {
            {0, "0s"},
            {5, "5ns"},
            {1500, "1.5\xc2\xb5s"},
            {100000000, "100ms"},
            {1500000000, "1.5s"},
            {90000000000, "1m30s"},
            {3600000000000, "1h0m0s"},
            {3723500000000, "1h2m3.5s"},
            {-2000000000, "-2s"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
        struct kiln_buf b = KILN_BUF_INIT(256);
        conv_fmt_duration(&b, rows[i].ns);
        if (strcmp(b.buf, rows[i].want) != 0)
            fail_msg("%lld ns: got '%s', want '%s'", (long long)rows[i].ns, b.buf, rows[i].want);
        kiln_buf_release(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_convert_config__every_metadata_instruction),
            cmocka_unit_test(test_convert_config__base_image_cleaned),
            cmocka_unit_test(test_convert_config__entrypoint_resets_cmd),
            cmocka_unit_test(test_convert_config__history_of_layers),
            cmocka_unit_test(test_convert_config__labels_on_target_only),
            cmocka_unit_test(test_convert_config__onbuild_triggers),
            cmocka_unit_test(test_convert_config__platform),
            cmocka_unit_test(test_convert_config__errors),
            cmocka_unit_test(test_convert_config__matches_a_real_build),
            cmocka_unit_test(test_convert_config__go_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
