/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-oci-image-spec.c - the OCI image-spec conformance data, as it lies in
 * ../shared/conformance/oci-image-spec: every document of schema-tests/ and
 * spec-examples/ through kiln_oci_validate() with the row's media type, each
 * valid document through parse -> to_json -> parse (compact and indented,
 * strict both times, the structs equal), the spec examples' JSON data kept,
 * and the Docker originals of the backwards-compatibility cases checked
 * against their recorded sha256 and validated under their Docker media type.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "oci/config.h"
#include "oci/descriptor.h"
#include "oci/digest.h"
#include "oci/index.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "oci/validate.h"
#include "tap.h"
#include "tsv.h"

#define OUT_MAX (64u * 1024 * 1024)

/* The parse/to_json/equal/free of one document type, behind void pointers. */
struct doc_type {
    const char *media_type;
    int (*parse)(const char *json, size_t len, unsigned flags, void **ret, struct kiln_error **err);
    int (*to_json)(const void *doc, unsigned flags, struct kiln_buf *out);
    bool (*equal)(const void *a, const void *b);
    void (*free)(void *doc);
};

/* Wrappers with the signatures of struct doc_type for the type `prefix` of struct T. */
#define DOC_FNS(prefix, T)                                                                \
    static int prefix##_parse_v(const char *json, size_t len, unsigned flags, void **ret, \
                                struct kiln_error **err)                                  \
    {                                                                                     \
        T *doc = NULL;                                                                    \
        int r = prefix##_parse(json, len, flags, &doc, err);                              \
        if (r >= 0)                                                                       \
            *ret = doc;                                                                   \
        return r;                                                                         \
    }                                                                                     \
    static int prefix##_to_json_v(const void *doc, unsigned flags, struct kiln_buf *out)  \
    {                                                                                     \
        return prefix##_to_json(doc, flags, out);                                         \
    }                                                                                     \
    static bool prefix##_equal_v(const void *a, const void *b)                            \
    {                                                                                     \
        return prefix##_equal(a, b);                                                      \
    }                                                                                     \
    static void prefix##_free_v(void *doc)                                                \
    {                                                                                     \
        prefix##_free(doc);                                                               \
    }

DOC_FNS(kiln_oci_descriptor, struct kiln_oci_descriptor)
DOC_FNS(kiln_oci_manifest, struct kiln_oci_manifest)
DOC_FNS(kiln_oci_index, struct kiln_oci_index)
DOC_FNS(kiln_oci_config, struct kiln_oci_config)

#define DOC_TYPE(mt, prefix)                                                        \
    {                                                                               \
        mt, prefix##_parse_v, prefix##_to_json_v, prefix##_equal_v, prefix##_free_v \
    }

static const struct doc_type doc_types[] = {
        DOC_TYPE(KILN_OCI_MT_DESCRIPTOR, kiln_oci_descriptor),
        DOC_TYPE(KILN_OCI_MT_MANIFEST, kiln_oci_manifest),
        DOC_TYPE(KILN_OCI_MT_INDEX, kiln_oci_index),
        DOC_TYPE(KILN_OCI_MT_CONFIG, kiln_oci_config),
};

static const struct doc_type *doc_type(const char *media_type)
{
    for (size_t i = 0; i < ELEMENTSOF(doc_types); i++)
        if (strcmp(doc_types[i].media_type, media_type) == 0)
            return &doc_types[i];
    return NULL; /* the layout header has no struct */
}

static char *read_case(const char *dir, const char *file, size_t *len)
{
    _cleanup_free_ char *rel = kiln_xasprintf("oci-image-spec/%s/%s", dir, file);
    _cleanup_free_ char *path = conformance_path(rel);
    return tsv_slurp(path, len);
}

/* Serialises doc with `flags`, parses that strictly, and compares. Returns the JSON. */
static char *round_trip(const struct doc_type *t, const void *doc, unsigned flags, const char *name)
{
    struct kiln_buf out = KILN_BUF_INIT(OUT_MAX);
    struct kiln_error *err = NULL;
    void *again = NULL;
    int r = t->to_json(doc, flags, &out);
    if (r >= 0)
        r = t->parse(out.buf, out.len, KILN_OCI_PARSE_STRICT, &again, &err);
    bool same = r >= 0 && t->equal(doc, again);
    tap_ok(same, "%s: round trip (%s)", name, flags ? "indented" : "compact");
    if (!same)
        tap_diag("%s; wrote %s", r < 0 ? kiln_error_message(err, r) : "structs differ", out.buf);
    kiln_error_free(err);
    t->free(again);
    return kiln_buf_detach(&out, NULL);
}

/* The serialised form holds the same JSON data as the original document. */
static void same_data(const char *name, const char *original, const char *written)
{
    json_t *a = json_loads(original, 0, NULL), *b = json_loads(written, 0, NULL);
    tap_ok(a && b && json_equal(a, b), "%s: the written JSON holds the same data", name);
    json_decref(a);
    json_decref(b);
}

static void check_round_trips(const char *name, const char *media_type, const char *text,
                              size_t len, bool examples)
{
    const struct doc_type *t = doc_type(media_type);
    if (!t)
        return;
    void *doc = NULL;
    struct kiln_error *err = NULL;
    if (t->parse(text, len, KILN_OCI_PARSE_STRICT, &doc, &err) < 0) {
        kiln_error_free(err);
        return; /* the validity point has failed already */
    }
    _cleanup_free_ char *compact = round_trip(t, doc, 0, name);
    free(round_trip(t, doc, KILN_OCI_JSON_INDENT, name));
    if (examples)
        same_data(name, text, compact);
    t->free(doc);
}

/* The Docker original beside a converted backwards-compatibility case. */
static void check_docker_original(const struct tsv_record *r, const char *file,
                                  const char *media_type)
{
    static const struct {
        const char *oci, *docker;
    } docker_types[] = {
            {KILN_OCI_MT_MANIFEST, KILN_DOCKER_MT_MANIFEST},
            {KILN_OCI_MT_INDEX, KILN_DOCKER_MT_MANIFEST_LIST},
            {KILN_OCI_MT_CONFIG, KILN_DOCKER_MT_CONFIG},
    };
    const char *recorded = r->n > 4 ? strstr(r->f[4].text, "original sha256 digest ") : NULL;
    if (!recorded)
        return;
    recorded += strlen("original sha256 digest ");
    _cleanup_free_ char *want = kiln_xstrndup(recorded, strcspn(recorded, "] "));
    _cleanup_free_ char *docker_file = kiln_xstrndup(file, strlen(file) - strlen(".json"));
    _cleanup_free_ char *name = kiln_xasprintf("%s.docker.json", docker_file);
    size_t len;
    _cleanup_free_ char *text = read_case("schema-tests", name, &len);
    char got[KILN_OCI_DIGEST_MAX] = "";
    int rc = kiln_oci_digest_bytes(KILN_OCI_SHA256, text, len, got, NULL);
    tap_ok(rc >= 0 && strcmp(got, want) == 0, "%s: sha256 is %s", name, want);
    if (rc < 0 || strcmp(got, want) != 0)
        tap_diag("computed %s", got);
    for (size_t i = 0; i < ELEMENTSOF(docker_types); i++) {
        if (strcmp(docker_types[i].oci, media_type) != 0)
            continue;
        struct kiln_error *err = NULL;
        rc = kiln_oci_validate(docker_types[i].docker, text, len, &err);
        tap_ok(rc >= 0, "%s: valid as %s", name, docker_types[i].docker);
        if (rc < 0)
            tap_diag("%s", kiln_error_message(err, rc));
        kiln_error_free(err);
    }
}

static void run_index(const char *dir, bool examples)
{
    _cleanup_free_ char *rel = kiln_xasprintf("oci-image-spec/%s/index.tsv", dir);
    _cleanup_free_ char *path = conformance_path(rel);
    struct tsv_file f;
    tsv_load(&f, path);
    for (size_t i = 0; i < f.n; i++) {
        const struct tsv_record *r = &f.r[i];
        if (r->n < 3) {
            tap_ok(false, "%s/index.tsv:%u: expected 3 or more fields", dir, r->line);
            continue;
        }
        const char *file = r->f[0].text, *media_type = r->f[1].text;
        bool want_valid = tsv_is(r, 2, "valid");
        size_t len;
        _cleanup_free_ char *text = read_case(dir, file, &len);
        _cleanup_free_ char *name = kiln_xasprintf("%s/%s", dir, file);
        struct kiln_error *err = NULL;
        int rc = kiln_oci_validate(media_type, text, len, &err);
        tap_ok((rc >= 0) == want_valid, "%s: %s as %s", name, want_valid ? "valid" : "invalid",
               media_type);
        if ((rc >= 0) != want_valid)
            tap_diag("line %u (%s): got %s", r->line, r->n > 4 ? r->f[4].text : "",
                     rc >= 0 ? "valid" : kiln_error_message(err, rc));
        else if (rc < 0)
            tap_diag("rejected: %s", kiln_error_message(err, rc));
        kiln_error_free(err);
        if (want_valid)
            check_round_trips(name, media_type, text, len, examples);
        check_docker_original(r, file, media_type);
    }
    tsv_release(&f);
}

int main(void)
{
    run_index("schema-tests", false);
    run_index("spec-examples", true);
    return tap_done("oci-image-spec");
}
