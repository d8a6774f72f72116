/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-manifest.c - descriptors, manifests and indexes: Go's decoding rules,
 * the bytes Go's encoder (and so BuildKit) writes, containerd's media type
 * checks, limits, messages, and picking an index entry for a platform.
 */

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "oci/descriptor.h"
#include "oci/index.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"

#define D1 "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
#define D2 "sha256:9d3dd9504c685a304985025df4ed0283e47ac9ffa9bd0326fddf4d59513f0827"

#define MANIFEST                                                                              \
    "{\"schemaVersion\":2,\"mediaType\":\"" KILN_OCI_MT_MANIFEST "\","                        \
    "\"config\":{\"mediaType\":\"" KILN_OCI_MT_CONFIG "\",\"digest\":\"" D1 "\",\"size\":7}," \
    "\"layers\":[{\"mediaType\":\"" KILN_OCI_MT_LAYER_GZIP "\",\"digest\":\"" D2              \
    "\",\"size\":32}]}"

static char *manifest_json(const struct kiln_oci_manifest *m, unsigned flags)
{
    struct kiln_buf out = KILN_BUF_INIT(1 << 20);
    assert_int_equal(kiln_oci_manifest_to_json(m, flags, &out), 0);
    return kiln_buf_detach(&out, NULL);
}

static struct kiln_oci_manifest *parse_manifest(const char *json, unsigned flags)
{
    struct kiln_oci_manifest *m = NULL;
    struct kiln_error *err = NULL;
    if (kiln_oci_manifest_parse(json, strlen(json), flags, &m, &err) < 0)
        fail_msg("%s", err->message);
    return m;
}

/* The error message of parsing `json`, which must fail with `code`. Caller frees. */
static char *manifest_error(const char *json, unsigned flags, int code)
{
    struct kiln_oci_manifest *m = NULL;
    struct kiln_error *err = NULL;
    assert_int_equal(kiln_oci_manifest_parse(json, strlen(json), flags, &m, &err), code);
    assert_null(m);
    char *msg = kiln_xstrdup(err->message);
    kiln_error_free(err);
    return msg;
}

static void test_manifest__buildkit_bytes(void **state)
{
    struct kiln_oci_manifest *m = parse_manifest(MANIFEST, KILN_OCI_PARSE_STRICT);
    _cleanup_free_ char *indented = manifest_json(m, KILN_OCI_JSON_INDENT);
    /* json.MarshalIndent of BuildKit's struct{MediaType; ocispec.Manifest}. */
    assert_string_equal(indented, "{\n"
                                  "  \"mediaType\": \"" KILN_OCI_MT_MANIFEST "\",\n"
                                  "  \"schemaVersion\": 2,\n"
                                  "  \"config\": {\n"
                                  "    \"mediaType\": \"" KILN_OCI_MT_CONFIG "\",\n"
                                  "    \"digest\": \"" D1 "\",\n"
                                  "    \"size\": 7\n"
                                  "  },\n"
                                  "  \"layers\": [\n"
                                  "    {\n"
                                  "      \"mediaType\": \"" KILN_OCI_MT_LAYER_GZIP "\",\n"
                                  "      \"digest\": \"" D2 "\",\n"
                                  "      \"size\": 32\n"
                                  "    }\n"
                                  "  ]\n"
                                  "}");
    _cleanup_free_ char *spec = manifest_json(m, KILN_OCI_JSON_SPEC_ORDER);
    assert_string_equal(spec, MANIFEST);
    kiln_oci_manifest_free(m);
}

static void test_manifest__nil_and_empty_lists(void **state)
{
    static const char no_layers[] = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\","
                                    "\"digest\":\"" D1 "\",\"size\":0},\"layers\":null}";
    struct kiln_oci_manifest *m = parse_manifest(no_layers, 0);
    assert_null(m->layers);
    _cleanup_free_ char *out = manifest_json(m, KILN_OCI_JSON_INDENT);
    assert_non_null(strstr(out, "\"layers\": null"));
    kiln_oci_manifest_free(m);

    static const char empty[] =
            "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\","
            "\"digest\":\"" D1 "\",\"size\":0},\"layers\":[],\"annotations\":{}}";
    m = parse_manifest(empty, 0);
    assert_non_null(m->layers);
    assert_int_equal(m->n_layers, 0);
    _cleanup_free_ char *out2 = manifest_json(m, KILN_OCI_JSON_INDENT);
    /* Empty containers stay "[]" when indenting; empty maps are omitted. */
    assert_string_equal(out2, "{\n  \"schemaVersion\": 2,\n  \"config\": {\n"
                              "    \"mediaType\": \"a/b\",\n    \"digest\": \"" D1 "\",\n"
                              "    \"size\": 0\n  },\n  \"layers\": []\n}");
    kiln_oci_manifest_free(m);
    /* Strict mode wants a layer. */
    _cleanup_free_ char *msg = manifest_error(empty, KILN_OCI_PARSE_STRICT, KILN_E_INVALID);
    assert_string_equal(msg, "manifest: layers: must have at least one entry");
}

static void test_manifest__go_decoding_rules(void **state)
{
    /* Field names match ignoring case; unknown keys are skipped; the last duplicate wins. */
    static const char loose[] = "{\"SchemaVersion\":2,\"CONFIG\":{\"mediatype\":\"a/b\","
                                "\"Digest\":\"" D1 "\",\"size\":1,\"size\":9},\"Layers\":[null],"
                                "\"extra\":{\"deep\":[1,2,3]}}";
    struct kiln_oci_manifest *m = parse_manifest(loose, 0);
    assert_int_equal(m->schema_version, 2);
    assert_string_equal(m->config.media_type, "a/b");
    assert_int_equal(m->config.size, 9);
    assert_int_equal(m->n_layers, 1); /* null became an empty descriptor */
    assert_null(m->layers[0].digest);
    kiln_oci_manifest_free(m);
    /* Strict mode wants required fields under their exact names, as the schema does... */
    _cleanup_free_ char *msg = manifest_error(loose, KILN_OCI_PARSE_STRICT, KILN_E_INVALID);
    assert_string_equal(msg, "manifest: config: required field 'mediaType' is missing");
    /* ...and checks every value, however its key is spelled. */
    static const char spelled[] = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\","
                                  "\"digest\":\"" D1 "\",\"size\":1},\"Layers\":[null]}";
    _cleanup_free_ char *msg2 = manifest_error(spelled, KILN_OCI_PARSE_STRICT, KILN_E_INVALID);
    assert_string_equal(msg2, "manifest: layers[0]: expected an object, got null");
}

static void test_manifest__messages_name_the_field(void **state)
{
    static const struct {
        const char *json, *msg;
    } cases[] = {
            {"[]", "manifest: expected an object, got an array"},
            {"{\"schemaVersion\":2,", "manifest: invalid JSON at line 1, column 19: "},
            {"{\"schemaVersion\":\"2\"}", "manifest: schemaVersion: expected an integer, got a "
                                          "string"},
            {"{\"schemaVersion\":1.5}", "manifest: schemaVersion: expected an integer, got a "
                                        "number"},
            {"{\"schemaVersion\":1,\"config\":{},\"layers\":[]}",
             "manifest: schemaVersion: 1 is not 2"},
            {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
             "\",\"size\":1},\"layers\":[{\"mediaType\":\"a/b\",\"digest\":\"" D1
             "\",\"size\":1},{\"mediaType\":\"a/b\",\"digest\":\"" D1
             "\",\"size\":1},{\"mediaType\":\"a/b\",\"digest\":\"sha256:ABC\",\"size\":1}]}",
             "manifest: layers[2].digest: 'sha256:ABC' is not a valid digest: invalid "
             "checksum digest length (sha256 needs 64 hex digits, not 3)"},
            {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
             "\",\"size\":1,\"urls\":[\"https://a/b\",\"c\"]},\"layers\":[]}",
             "manifest: config.urls[1]: 'c' is not an absolute URL"},
            {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
             "\",\"size\":1,\"annotations\":{\"k\":1}},\"layers\":[]}",
             "manifest: config.annotations.k: expected a string, got an integer"},
            {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
             "\",\"size\":1,\"platform\":{\"os\":\"linux\"}},\"layers\":[]}",
             "manifest: config.platform: required field 'architecture' is missing"},
            {"{\"schemaVersion\":2,\"mediaType\":null}", "manifest: mediaType: must not be null"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        _cleanup_free_ char *msg =
                manifest_error(cases[i].json, KILN_OCI_PARSE_STRICT, KILN_E_INVALID);
        if (strncmp(msg, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("%s:\n got  %s\n want %s", cases[i].json, msg, cases[i].msg);
    }
}

static void test_manifest__containerd_media_type_rules(void **state)
{
    static const struct {
        const char *json, *msg;
    } cases[] = {
            {"{\"schemaVersion\":2,\"mediaType\":\"" KILN_OCI_MT_INDEX "\"}",
             "manifest: expected a manifest, found an index (" KILN_OCI_MT_INDEX ")"},
            {"{\"schemaVersion\":2,\"mediaType\":\"" KILN_DOCKER_MT_MANIFEST_LIST "\"}",
             "found an index"},
            {"{\"schemaVersion\":2,\"Manifests\":[]}", "found an index (it has \"manifests\")"},
            {"{\"schemaVersion\":1,\"fsLayers\":[]}", "schema 1 manifests are not supported"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        _cleanup_free_ char *msg = manifest_error(cases[i].json, 0, KILN_E_INVALID);
        if (!strstr(msg, cases[i].msg))
            fail_msg("%s: '%s' lacks '%s'", cases[i].json, msg, cases[i].msg);
    }
    struct kiln_oci_index *idx = NULL;
    struct kiln_error *err = NULL;
    static const char index_with_layers[] = "{\"schemaVersion\":2,\"manifests\":[],\"layers\":[]}";
    assert_int_equal(
            kiln_oci_index_parse(index_with_layers, strlen(index_with_layers), 0, &idx, &err),
            KILN_E_INVALID);
    assert_string_equal(
            err->message,
            "index: expected an index, found a manifest (it has \"config\" or \"layers\")");
    static const char docker_manifest[] = "{\"schemaVersion\":2,\"mediaType\":"
                                          "\"" KILN_DOCKER_MT_MANIFEST "\",\"manifests\":[]}";
    assert_int_equal(kiln_oci_index_parse(docker_manifest, strlen(docker_manifest), 0, &idx, &err),
                     KILN_E_INVALID);
    assert_non_null(strstr(err->message, "found a manifest (" KILN_DOCKER_MT_MANIFEST ")"));
    kiln_error_free(err);
}

static void test_manifest__size_limit(void **state)
{
    size_t n = KILN_MANIFEST_MAX + 1;
    char *big = kiln_xmalloc(n);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    struct kiln_oci_manifest *m = NULL;
    struct kiln_error *err = NULL;
    assert_int_equal(kiln_oci_manifest_parse(big, n, 0, &m, &err), KILN_E_LIMIT);
    assert_non_null(strstr(err->message, "more than the limit of 4194304"));
    kiln_error_free(err);
    /* At the limit it is only JSON. */
    struct kiln_oci_index *idx = NULL;
    assert_int_equal(kiln_oci_index_parse(big, n - 1, 0, &idx, NULL), KILN_E_INVALID);
    big[n - 2] = '}';
    assert_int_equal(kiln_oci_index_parse(big, n - 1, 0, &idx, NULL), 0);
    kiln_oci_index_free(idx);
    free(big);
}

/* Go's encoding/json string escaping, as BuildKit's digests depend on it. */
static void test_manifest__go_string_escaping(void **state)
{
    struct kiln_oci_descriptor d = {0};
    d.media_type = kiln_xstrdup("text/plain");
    d.digest = kiln_xstrdup(D1);
    kiln_oci_map_set(&d.annotations, "html", "<a href=\"x\">&amp;</a>");
    kiln_oci_map_set(&d.annotations, "ctl", "\x01\b\f\n\r\t\x1f\x7f");
    kiln_oci_map_set(&d.annotations, "utf8", "\xc3\xa9 \xe2\x80\xa8 \xe2\x80\xa9 \xf0\x9f\x90\xb3");
    kiln_oci_map_set(&d.annotations, "bad",
                     "a\xff"
                     "b\xe2\x82"
                     "c\xed\xa0\x80"
                     "d\xc0\xaf");
    kiln_oci_map_set(&d.annotations, "slash", "a/b\\c");
    struct kiln_buf out = KILN_BUF_INIT(4096);
    assert_int_equal(kiln_oci_descriptor_to_json(&d, 0, &out), 0);
    assert_string_equal(out.buf,
                        "{\"mediaType\":\"text/plain\",\"digest\":\"" D1
                        "\",\"size\":0,\"annotations\":{"
                        "\"bad\":\"a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffd\\ufffdd\\ufffd\\ufffd\","
                        "\"ctl\":\"\\u0001\\b\\f\\n\\r\\t\\u001f\x7f\","
                        "\"html\":\"\\u003ca href=\\\"x\\\"\\u003e\\u0026amp;\\u003c/a\\u003e\","
                        "\"slash\":\"a/b\\\\c\","
                        "\"utf8\":\"\xc3\xa9 \\u2028 \\u2029 \xf0\x9f\x90\xb3\"}}");
    kiln_buf_release(&out);
    kiln_oci_descriptor_release(&d);
}

static void test_manifest__descriptor_data_and_platform(void **state)
{
    static const char json[] = "{\"mediaType\":\"" KILN_OCI_MT_EMPTY "\",\"digest\":"
                               "\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61"
                               "caaff8a\",\"size\":2,\"data\":\"e3\\n0=\",\"platform\":{\"os\":"
                               "\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\","
                               "\"os.features\":[\"b\",\"a\"]},\"artifactType\":\"x/y\"}";
    struct kiln_oci_descriptor *d = NULL;
    struct kiln_error *err = NULL;
    assert_int_equal(kiln_oci_descriptor_parse(json, strlen(json), KILN_OCI_PARSE_STRICT, &d, &err),
                     0);
    assert_int_equal(d->data.len, 2);
    assert_memory_equal(d->data.data, "{}", 2);
    assert_string_equal(d->platform->variant, "v8");
    struct kiln_buf out = KILN_BUF_INIT(4096);
    assert_int_equal(kiln_oci_descriptor_to_json(d, 0, &out), 0);
    assert_string_equal(out.buf, "{\"mediaType\":\"" KILN_OCI_MT_EMPTY "\",\"digest\":\"sha256:"
                                 "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
                                 "\",\"size\":2,\"data\":\"e30=\",\"platform\":{\"architecture\":"
                                 "\"arm64\",\"os\":\"linux\",\"os.features\":[\"b\",\"a\"],"
                                 "\"variant\":\"v8\"},\"artifactType\":\"x/y\"}");
    struct kiln_oci_descriptor *again = NULL;
    assert_int_equal(
            kiln_oci_descriptor_parse(out.buf, out.len, KILN_OCI_PARSE_STRICT, &again, NULL), 0);
    assert_true(kiln_oci_descriptor_equal(d, again));
    again->platform->variant[1] = '7';
    assert_false(kiln_oci_descriptor_equal(d, again));
    kiln_oci_descriptor_free(again);
    kiln_buf_release(&out);
    kiln_oci_descriptor_free(d);

    static const char *const bad_data[] = {"e30", "e3=0", "====", "e30=e30=", "e3!="};
    for (size_t i = 0; i < sizeof(bad_data) / sizeof(bad_data[0]); i++) {
        _cleanup_free_ char *j = kiln_xasprintf("{\"mediaType\":\"a/b\",\"digest\":\"" D1
                                                "\",\"size\":2,\"data\":\"%s\"}",
                                                bad_data[i]);
        assert_int_equal(kiln_oci_descriptor_parse(j, strlen(j), 0, &d, &err), KILN_E_INVALID);
        assert_non_null(strstr(err->message, "is not standard base64 with padding"));
    }
    kiln_error_free(err);
}

static void test_manifest__urls_as_go_url_parse(void **state)
{
    static const struct {
        const char *url;
        bool ok;
    } cases[] = {
            {"https://example.com/foo", true},
            {"http://user:pa%20ss@host:8080/p?q=%zz#frag", true},
            {"mailto:someone", true},
            {"s3:", true},
            {"https://[::1]:5000/x", true},
            {"value", false},
            {"/relative/path", false},
            {"1http://x", false},
            {"https://exa mple.com/", false},
            {"https://example.com/%zz", false},
            {"https://example.com:port/", false},
            {"https://example.com/#%4", false},
            {"https://a\\b", false},
            {"https://[::1/x", false},
            {"https://us{er@host/", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        _cleanup_free_ char *j = kiln_xasprintf("{\"mediaType\":\"a/b\",\"digest\":\"" D1
                                                "\",\"size\":2,\"urls\":[\"%s\"]}",
                                                cases[i].url);
        struct kiln_oci_descriptor *d = NULL;
        int r = kiln_oci_descriptor_parse(j, strlen(j), KILN_OCI_PARSE_STRICT, &d, NULL);
        if ((r >= 0) != cases[i].ok)
            fail_msg("'%s': want %s", cases[i].url, cases[i].ok ? "valid" : "invalid");
        kiln_oci_descriptor_free(d);
    }
}

static void test_manifest__index_select(void **state)
{
    static const char json[] = "{\"schemaVersion\":2,\"manifests\":["
                               "{\"mediaType\":\"m/t\",\"digest\":\"" D1
                               "\",\"size\":1,\"platform\":{\"architecture\":"
                               "\"amd64\",\"os\":\"linux\"}},"
                               "{\"mediaType\":\"m/t\",\"digest\":\"" D1
                               "\",\"size\":2,\"platform\":{\"architecture\":"
                               "\"arm\",\"os\":\"linux\",\"variant\":\"v6\"}},"
                               "{\"mediaType\":\"m/t\",\"digest\":\"" D1
                               "\",\"size\":3,\"platform\":{\"architecture\":"
                               "\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
                               "{\"mediaType\":\"m/t\",\"digest\":\"" D1
                               "\",\"size\":4,\"platform\":{\"architecture\":"
                               "\"unknown\",\"os\":\"unknown\"}},"
                               "{\"mediaType\":\"m/t\",\"digest\":\"" D1
                               "\",\"size\":5,\"platform\":{\"architecture\":"
                               "\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}},"
                               "{\"mediaType\":\"m/t\",\"digest\":\"" D1 "\",\"size\":6}]}";
    static const struct {
        const char *os, *arch, *variant;
        long want;
    } cases[] = {
            {"linux", "amd64", NULL, 0},   {"linux", "arm64", NULL, 2}, {"linux", "arm", "v7", 4},
            {"linux", "arm", "v6", 1},     {"linux", "arm", "v5", 5},   {"linux", "386", NULL, 5},
            {"windows", "amd64", NULL, 5},
    };
    struct kiln_oci_index *idx = NULL;
    assert_int_equal(kiln_oci_index_parse(json, strlen(json), KILN_OCI_PARSE_STRICT, &idx, NULL),
                     0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kiln_oci_platform want = {.os = (char *)cases[i].os,
                                         .architecture = (char *)cases[i].arch,
                                         .variant = (char *)cases[i].variant};
        long got = kiln_oci_index_select(idx, &want);
        if (got != cases[i].want)
            fail_msg("%s/%s: entry %ld, want %ld", cases[i].os, cases[i].arch, got, cases[i].want);
    }
    kiln_oci_index_free(idx);
}

static void test_manifest__index_buildkit_bytes(void **state)
{
    static const char json[] = "{\"schemaVersion\":2,\"mediaType\":\"" KILN_OCI_MT_INDEX "\","
                               "\"manifests\":[{\"mediaType\":\"" KILN_OCI_MT_MANIFEST "\","
                               "\"digest\":\"" D1 "\",\"size\":10,\"annotations\":{\"z\":\"1\","
                               "\"a\":\"2\"},\"platform\":{\"architecture\":\"unknown\",\"os\":"
                               "\"unknown\"}}],\"annotations\":{\"k\":\"v\"}}";
    struct kiln_oci_index *idx = NULL;
    assert_int_equal(kiln_oci_index_parse(json, strlen(json), KILN_OCI_PARSE_STRICT, &idx, NULL),
                     0);
    struct kiln_buf out = KILN_BUF_INIT(4096);
    assert_int_equal(kiln_oci_index_to_json(idx, 0, &out), 0);
    assert_string_equal(out.buf, "{\"mediaType\":\"" KILN_OCI_MT_INDEX "\",\"schemaVersion\":2,"
                                 "\"manifests\":[{\"mediaType\":\"" KILN_OCI_MT_MANIFEST "\","
                                 "\"digest\":\"" D1 "\",\"size\":10,\"annotations\":{\"a\":\"2\","
                                 "\"z\":\"1\"},\"platform\":{\"architecture\":\"unknown\",\"os\":"
                                 "\"unknown\"}}],\"annotations\":{\"k\":\"v\"}}");
    /* A full buffer leaves what it held. */
    struct kiln_buf small = KILN_BUF_INIT(40);
    assert_int_equal(kiln_buf_adds(&small, "keep"), 0);
    assert_int_equal(kiln_oci_index_to_json(idx, KILN_OCI_JSON_INDENT, &small), KILN_E_LIMIT);
    assert_string_equal(small.buf, "keep");
    kiln_buf_release(&small);
    kiln_buf_release(&out);
    kiln_oci_index_free(idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_manifest__buildkit_bytes),
            cmocka_unit_test(test_manifest__nil_and_empty_lists),
            cmocka_unit_test(test_manifest__go_decoding_rules),
            cmocka_unit_test(test_manifest__messages_name_the_field),
            cmocka_unit_test(test_manifest__containerd_media_type_rules),
            cmocka_unit_test(test_manifest__size_limit),
            cmocka_unit_test(test_manifest__go_string_escaping),
            cmocka_unit_test(test_manifest__descriptor_data_and_platform),
            cmocka_unit_test(test_manifest__urls_as_go_url_parse),
            cmocka_unit_test(test_manifest__index_select),
            cmocka_unit_test(test_manifest__index_buildkit_bytes),
    };
    return cmocka_run_group_tests_name("oci/manifest", tests, NULL, NULL);
}
