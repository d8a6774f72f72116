/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-config.c - image configs: the bytes BuildKit's exporter writes, Go's
 * RFC 3339 date-times, Docker's extensions, and the validator's checks.
 */

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "oci/config.h"

#define DIFF1 "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

static struct kiln_oci_config *parse(const char *json, unsigned flags)
{
    struct kiln_oci_config *c = NULL;
    struct kiln_error *err = NULL;
    if (kiln_oci_config_parse(json, strlen(json), flags, &c, &err) < 0)
        fail_msg("%s", err->message);
    return c;
}

static char *to_json(const struct kiln_oci_config *c)
{
    struct kiln_buf out = KILN_BUF_INIT(1 << 20);
    assert_int_equal(kiln_oci_config_to_json(c, 0, &out), 0);
    return kiln_buf_detach(&out, NULL);
}

static void test_config__buildkit_bytes(void **state)
{
    /* Keys in any order and spacing in; BuildKit's form out. */
    static const char in[] =
            "{\"rootfs\": {\"diff_ids\": [\"" DIFF1 "\"], \"type\": \"layers\"},\n"
            " \"os\": \"linux\", \"architecture\": \"arm64\", \"variant\": \"v8\",\n"
            " \"history\": [{\"empty_layer\": true, \"created_by\": \"ENV A=1\",\n"
            "   \"created\": \"2024-05-01T10:00:00.500000000Z\", \"comment\": "
            "\"buildkit.dockerfile.v0\"}],\n"
            " \"created\": \"2024-05-01T10:00:00+00:00\",\n"
            " \"config\": {\"Shell\": [\"/bin/sh\", \"-c\"], \"OnBuild\": [\"RUN x\"],\n"
            "   \"Healthcheck\": {\"Retries\": 3, \"Interval\": 30000000000, \"Test\": [\"CMD\", "
            "\"true\"]},\n"
            "   \"ArgsEscaped\": true, \"StopSignal\": \"SIGTERM\", \"Labels\": {\"b\": \"2\", "
            "\"a\": \"1\"},\n"
            "   \"WorkingDir\": \"/app\", \"Volumes\": {\"/v2\": {}, \"/v1\": {}},\n"
            "   \"Cmd\": [\"run\"], \"Entrypoint\": [\"/e\"], \"Env\": [\"PATH=/bin\", "
            "\"X=<&>\"],\n"
            "   \"ExposedPorts\": {\"8080/tcp\": {}, \"443/tcp\": {}}, \"User\": \"1:1\"}}";
    struct kiln_oci_config *c = parse(in, KILN_OCI_PARSE_STRICT);
    _cleanup_free_ char *out = to_json(c);
    assert_string_equal(
            out,
            "{\"architecture\":\"arm64\",\"config\":{\"User\":\"1:1\",\"ExposedPorts\":"
            "{\"443/tcp\":{},\"8080/tcp\":{}},\"Env\":[\"PATH=/bin\",\"X=\\u003c\\u0026\\u003e\"],"
            "\"Entrypoint\":[\"/e\"],\"Cmd\":[\"run\"],\"Volumes\":{\"/v1\":{},\"/v2\":{}},"
            "\"WorkingDir\":\"/app\",\"Labels\":{\"a\":\"1\",\"b\":\"2\"},\"StopSignal\":"
            "\"SIGTERM\",\"ArgsEscaped\":true,\"Healthcheck\":{\"Test\":[\"CMD\",\"true\"],"
            "\"Interval\":30000000000,\"Retries\":3},\"OnBuild\":[\"RUN x\"],\"Shell\":"
            "[\"/bin/sh\",\"-c\"]},\"created\":\"2024-05-01T10:00:00Z\",\"history\":[{\"created\":"
            "\"2024-05-01T10:00:00.5Z\",\"created_by\":\"ENV A=1\",\"comment\":"
            "\"buildkit.dockerfile.v0\",\"empty_layer\":true}],\"os\":\"linux\",\"rootfs\":"
            "{\"type\":\"layers\",\"diff_ids\":[\"" DIFF1 "\"]},\"variant\":\"v8\"}");
    struct kiln_oci_config *again = parse(out, KILN_OCI_PARSE_STRICT);
    assert_true(kiln_oci_config_equal(c, again));
    again->config.args_escaped = false;
    assert_false(kiln_oci_config_equal(c, again));
    kiln_oci_config_free(again);
    kiln_oci_config_free(c);
}

static void test_config__minimal_and_docker_fields(void **state)
{
    /* Docker's old fields are dropped; config{} and a nil diff_ids are written as Go does. */
    static const char in[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
                             "\"layers\",\"diff_ids\":null},\"container_config\":{\"Cmd\":[\"x\"]},"
                             "\"docker_version\":\"1.12.1\",\"config\":{\"Hostname\":\"abc\","
                             "\"Cmd\":null,\"Entrypoint\":null,\"OnBuild\":[],\"Labels\":{}}}";
    /* (The schema wants an array for diff_ids, BuildKit writes null for no layers.) */
    struct kiln_oci_config *c = parse(in, 0);
    _cleanup_free_ char *out = to_json(c);
    assert_string_equal(out, "{\"architecture\":\"amd64\",\"config\":{},\"os\":\"linux\","
                             "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":null}}");
    kiln_oci_config_free(c);
    /* A config built in C: zeroed lists are nil. */
    struct kiln_oci_config z = {0};
    _cleanup_free_ char *zero = to_json(&z);
    assert_string_equal(zero, "{\"architecture\":\"\",\"config\":{},\"os\":\"\",\"rootfs\":"
                              "{\"type\":\"\",\"diff_ids\":null}}");
}

static void test_config__strict_checks(void **state)
{
    static const struct {
        const char *json, *msg;
    } cases[] = {
            {"{\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
             "config: required field 'architecture' is missing"},
            {"{\"architecture\":\"a\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\"}}",
             "config: rootfs: required field 'diff_ids' is missing"},
            {"{\"architecture\":\"a\",\"os\":\"l\",\"rootfs\":{\"type\":\"tar\",\"diff_ids\":[]}}",
             "config: rootfs.type: 'tar' is not \"layers\""},
            {"{\"architecture\":\"a\",\"os\":\"l\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}"
             ","
             "\"config\":{\"Env\":[\"A=1\",\"foo\"]}}",
             "config: config.Env[1]: 'foo' is not KEY=value"},
            {"{\"architecture\":\"a\",\"os\":\"l\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}"
             ","
             "\"config\":{\"Env\":[\"=x\"]}}",
             "config: config.Env[0]: '=x' is not KEY=value"},
            {"{\"architecture\":\"a\",\"os\":\"l\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}"
             ","
             "\"config\":{\"Env\":[\"A=x\\ny\"]}}",
             "is not KEY=value"},
            {"{\"architecture\":\"a\",\"os\":\"l\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}"
             ","
             "\"config\":{\"Volumes\":[\"/v\"]}}",
             "config: config.Volumes: expected an object, got an array"},
            {"{\"architecture\":\"a\",\"os\":\"l\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}"
             ","
             "\"config\":{\"ExposedPorts\":{\"80/tcp\":null}}}",
             "config: config.ExposedPorts.80/tcp: expected an object, got null"},
            {"{\"architecture\":\"a\",\"os\":\"l\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}"
             ","
             "\"created\":\"2024-02-30T00:00:00Z\"}",
             "config: created: '2024-02-30T00:00:00Z' is not an RFC 3339 date-time"},
            {"{\"architecture\":\"a\",\"os\":\"l\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}"
             ","
             "\"history\":[{\"created\":\"yesterday\"}]}",
             "config: history[0].created: 'yesterday' is not an RFC 3339 date-time"},
            {"{\"architecture\":\"a\",\"os\":\"l\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}"
             ","
             "\"config\":{\"User\":null}}",
             "config: config.User: must not be null"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kiln_oci_config *c = NULL;
        struct kiln_error *err = NULL;
        int r = kiln_oci_config_parse(cases[i].json, strlen(cases[i].json), KILN_OCI_PARSE_STRICT,
                                      &c, &err);
        if (r != KILN_E_INVALID || !strstr(err->message, cases[i].msg))
            fail_msg("%s:\n got  %s\n want %s", cases[i].json, err ? err->message : "success",
                     cases[i].msg);
        kiln_error_free(err);
    }
}

/* What Go's json.Unmarshal accepts, the lenient parse accepts too. */
static void test_config__lenient_is_go_unmarshal(void **state)
{
    static const char in[] = "{\"Architecture\":\"amd64\",\"config\":{\"Env\":[\"foo\",null],"
                             "\"User\":null,\"ExposedPorts\":{\"80/tcp\":null},\"Labels\":"
                             "{\"a\":null}},\"history\":[null,{\"empty_layer\":false}]}";
    struct kiln_oci_config *c = parse(in, 0);
    assert_string_equal(c->platform.architecture, "amd64");
    assert_int_equal(c->config.env.n, 2);
    assert_string_equal(c->config.env.v[0], "foo");
    assert_string_equal(c->config.env.v[1], "");
    assert_string_equal(c->config.exposed_ports.v[0], "80/tcp");
    assert_string_equal(kiln_oci_map_get(&c->config.labels, "a"), "");
    assert_int_equal(c->n_history, 2);
    kiln_oci_config_free(c);
    /* A wrong JSON type is an error there too. */
    struct kiln_error *err = NULL;
    static const char bad[] = "{\"config\":{\"Healthcheck\":{\"Retries\":\"3\"}}}";
    assert_int_equal(kiln_oci_config_parse(bad, strlen(bad), 0, &c, &err), KILN_E_INVALID);
    assert_string_equal(err->message,
                        "config: config.Healthcheck.Retries: expected an integer, got a string");
    kiln_error_free(err);
}

static void test_config__time_as_go(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
            {"2015-10-31T22:22:56.015925234Z", "2015-10-31T22:22:56.015925234Z"},
            {"2015-10-31T22:22:56.000Z", "2015-10-31T22:22:56Z"},
            {"2015-10-31T22:22:56.1200Z", "2015-10-31T22:22:56.12Z"},
            {"2015-10-31T22:22:56,5Z", "2015-10-31T22:22:56.5Z"},
            {"2015-10-31T22:22:56.0123456789999Z", "2015-10-31T22:22:56.012345678Z"},
            {"2015-10-31T2:22:56Z", "2015-10-31T02:22:56Z"},
            {"2015-10-31T22:22:56+00:00", "2015-10-31T22:22:56Z"},
            {"2015-10-31T22:22:56-00:00", "2015-10-31T22:22:56Z"},
            {"2015-10-31T22:22:56+02:00", "2015-10-31T22:22:56+02:00"},
            {"2015-10-31T22:22:56-07:30", "2015-10-31T22:22:56-07:30"},
            {"2015-10-31T22:22:56+24:00", "2015-10-31T22:22:56+24:00"},
            {"2015-10-31T22:22:56+00:60", "2015-10-31T22:22:56+01:00"},
            {"2016-02-29T00:00:00Z", "2016-02-29T00:00:00Z"},
            {"2000-02-29T00:00:00Z", "2000-02-29T00:00:00Z"},
            {"0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kiln_oci_time t;
        char out[KILN_OCI_TIME_MAX];
        if (kiln_oci_time_parse(cases[i].in, &t) < 0)
            fail_msg("'%s' did not parse", cases[i].in);
        kiln_oci_time_format(&t, out);
        if (strcmp(out, cases[i].out))
            fail_msg("'%s' -> '%s', want '%s'", cases[i].in, out, cases[i].out);
    }
    static const char *const bad[] = {"",
                                      "2015-10-31",
                                      "2015-10-31T22:22:56",
                                      "2015-10-31t22:22:56Z",
                                      "2015-10-31T22:22:56z",
                                      "2015-10-31 22:22:56Z",
                                      "2015-10-31T22:22:60Z",
                                      "2015-10-31T24:00:00Z",
                                      "2015-10-31T22:60:00Z",
                                      "2015-13-01T00:00:00Z",
                                      "2015-00-01T00:00:00Z",
                                      "2015-02-29T00:00:00Z",
                                      "1900-02-29T00:00:00Z",
                                      "2015-04-31T00:00:00Z",
                                      "15-10-31T22:22:56Z",
                                      "2015-1-31T22:22:56Z",
                                      "2015-10-31T22:2:56Z",
                                      "2015-10-31T22:22:56.Z",
                                      "2015-10-31T22:22:56+2:00",
                                      "2015-10-31T22:22:56+25:00",
                                      "2015-10-31T22:22:56+00:61",
                                      "2015-10-31T22:22:56+0000",
                                      "2015-10-31T22:22:56Z ",
                                      "+2015-10-31T22:22:56Z",
                                      "2015-10-31T022:22:56Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kiln_oci_time t;
        if (kiln_oci_time_parse(bad[i], &t) != KILN_E_INVALID)
            fail_msg("'%s' parsed", bad[i]);
    }
}

/* A config as the exporter will build one in C: sets and maps stay sorted and unique. */
static void test_config__built_in_c(void **state)
{
    struct kiln_oci_config c = {0};
    struct kiln_oci_time created = {2024, 5, 1, 10, 0, 0, 0, 0};
    c.created = &created;
    c.platform.architecture = "amd64";
    c.platform.os = "linux";
    c.rootfs.type = "layers";
    static const char *const ports[] = {"8080/tcp", "443/tcp", "8080/tcp", "53/udp", "1/tcp"};
    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
        kiln_oci_set_add(&c.config.exposed_ports, ports[i]);
    kiln_oci_map_set(&c.config.labels, "version", "1");
    kiln_oci_map_set(&c.config.labels, "author", "me");
    kiln_oci_map_set(&c.config.labels, "version", "2");
    assert_string_equal(kiln_oci_map_get(&c.config.labels, "version"), "2");
    assert_null(kiln_oci_map_get(&c.config.labels, "missing"));
    _cleanup_free_ char *out = to_json(&c);
    assert_string_equal(out, "{\"architecture\":\"amd64\",\"config\":{\"ExposedPorts\":{"
                             "\"1/tcp\":{},\"443/tcp\":{},\"53/udp\":{},\"8080/tcp\":{}},"
                             "\"Labels\":{\"author\":\"me\",\"version\":\"2\"}},\"created\":"
                             "\"2024-05-01T10:00:00Z\",\"os\":\"linux\",\"rootfs\":{\"type\":"
                             "\"layers\",\"diff_ids\":null}}");
    assert_null(c.config.exposed_ports.v[c.config.exposed_ports.n]);
    kiln_strv_release(&c.config.exposed_ports);
    kiln_oci_map_release(&c.config.labels);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_config__buildkit_bytes),
            cmocka_unit_test(test_config__minimal_and_docker_fields),
            cmocka_unit_test(test_config__strict_checks),
            cmocka_unit_test(test_config__lenient_is_go_unmarshal),
            cmocka_unit_test(test_config__time_as_go),
            cmocka_unit_test(test_config__built_in_c),
    };
    return cmocka_run_group_tests_name("oci/config", tests, NULL, NULL);
}
