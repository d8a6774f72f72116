/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build-output.c - `kiln build -o`, --push and --load into the request's
 * outputs, as buildx's ParseExports and its --push/--load shorthands do
 * (docs/internals/client.md).
 */
#include "build-output.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "build-flags.h"
#include "engine/request-json.h"
#include "oci/reference.h"

#include "base/banned.h"

static struct kiln_build_output *add(struct kiln_build_request *req, enum kiln_output_type type,
                                     struct kiln_error **err)
{
    if (req->n_outputs >= KILN_BUILD_OUTPUTS_MAX) {
        kiln_error_set(err, KILN_E_LIMIT, "--output: more than %u outputs; use fewer",
                       KILN_BUILD_OUTPUTS_MAX);
        return NULL;
    }
    req->outputs = kiln_xrealloc(req->outputs, (req->n_outputs + 1) * sizeof(*req->outputs));
    struct kiln_build_output *o = &req->outputs[req->n_outputs++];
    *o = (struct kiln_build_output){.type = type,
                                    .names = KILN_STRV_INIT,
                                    .compression = KILN_OCI_COMPRESSION_GZIP,
                                    .compression_level = KILN_OCI_LEVEL_DEFAULT,
                                    .oci_mediatypes = KILN_DF_UNSET};
    return o;
}

/* Go's strconv.ParseBool, which BuildKit uses for exporter attributes. */
static int parse_bool(const char *key, const char *v, bool *ret, struct kiln_error **err)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
        if (strcmp(v, yes[i]) == 0)
            return *ret = true, 0;
        if (strcmp(v, no[i]) == 0)
            return *ret = false, 0;
    }
    return kiln_error_set(err, KILN_E_INVALID, "--output: %s='%s': use true or false", key, v);
}

/*
 * The next CSV field of *s into `out` (Go's encoding/csv: a field starting
 * with a quote runs to the closing quote, "" is a quote). Returns 1, 0 at the end.
 */
static int csv_field(const char **s, struct kiln_buf *out, struct kiln_error **err)
{
    const char *p = *s;
    if (!p)
        return 0;
    kiln_buf_reset(out);
    if (*p == '"') {
        for (p++;; p++) {
            if (!*p)
                return kiln_error_set(err, KILN_E_INVALID,
                                      "--output: a quoted field is not closed");
            if (*p == '"' && p[1] != '"')
                break;
            p += *p == '"';
            kiln_buf_addch(out, *p);
        }
        p++;
        if (*p && *p != ',')
            return kiln_error_set(err, KILN_E_INVALID,
                                  "--output: text after a quoted field; quote the whole field");
    } else {
        size_t n = strcspn(p, ",");
        if (memchr(p, '"', n))
            return kiln_error_set(err, KILN_E_INVALID,
                                  "--output: a quote inside a field; quote the whole field as "
                                  "\"key=value\" with \"\" for a quote");
        kiln_buf_add(out, p, n);
        p += n;
    }
    *s = *p == ',' ? p + 1 : NULL;
    return 1;
}

static int set_names(const char *v, struct kiln_build_output *o, struct kiln_error **err)
{
    _cleanup_free_ char *copy = kiln_xstrdup(v);
    char *save = NULL;
    for (char *n = strtok_r(copy, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
        struct kiln_oci_ref *ref = NULL;
        struct kiln_error *why = NULL;
        int r = kiln_oci_ref_parse_normalized(n, &ref, &why);
        kiln_oci_ref_free(ref);
        if (r < 0) {
            r = kiln_error_set(err, KILN_E_INVALID, "--output: name='%s': %s", n,
                               kiln_error_message(why, r));
            kiln_error_free(why);
            return r;
        }
        kiln_strv_push(&o->names, n);
    }
    return 0;
}

static int set_level(const char *v, struct kiln_build_output *o, struct kiln_error **err)
{
    char *end;
    long l = strtol(v, &end, 10);
    if (!*v || *end || l < 0 || l > 22)
        return kiln_error_set(err, KILN_E_INVALID,
                              "--output: compression-level='%s': use 0-9 for gzip or 0-22 for zstd",
                              v);
    o->compression_level = (int)l;
    return 0;
}

static int set_type(const char *v, struct kiln_build_output *o, bool push_set,
                    struct kiln_error **err)
{
    if (strcmp(v, "registry") == 0) {
        o->type = KILN_OUTPUT_IMAGE;
        if (!push_set)
            o->push = true;
        return 0;
    }
    if (kiln_output_type_parse(v, &o->type) == 0)
        return 0;
    return kiln_error_set(err, KILN_E_INVALID,
                          "--output: unknown type '%s'; use registry, image, oci, docker, tar, "
                          "local or cacheonly",
                          v);
}

static int field(const char *key, const char *v, struct kiln_build_output *o, bool *push_set,
                 struct kiln_error **err)
{
    bool b;
    int r;
    if (strcmp(key, "type") == 0)
        return set_type(v, o, *push_set, err);
    if (strcmp(key, "dest") == 0) {
        free(o->dest);
        o->dest = kiln_xstrdup(v);
        return 0;
    }
    if (strcmp(key, "name") == 0)
        return set_names(v, o, err);
    if (strcmp(key, "push") == 0) {
        *push_set = true;
        return parse_bool(key, v, &o->push, err);
    }
    if (strcmp(key, "force-compression") == 0)
        return parse_bool(key, v, &o->force_compression, err);
    if (strcmp(key, "oci-mediatypes") == 0) {
        if ((r = parse_bool(key, v, &b, err)) == 0)
            o->oci_mediatypes = b ? KILN_DF_TRUE : KILN_DF_FALSE;
        return r;
    }
    if (strcmp(key, "compression") == 0) {
        struct kiln_error *why = NULL;
        if ((r = kiln_oci_compression_parse(v, &o->compression, &why)) < 0)
            r = kiln_error_set(err, KILN_E_INVALID,
                               "--output: compression='%s': use gzip, zstd or uncompressed", v);
        kiln_error_free(why);
        return r;
    }
    if (strcmp(key, "compression-level") == 0)
        return set_level(v, o, err);
    return kiln_error_set(err, KILN_E_INVALID,
                          "--output: unknown key '%s'; use type, dest, name, push, compression, "
                          "compression-level, force-compression or oci-mediatypes",
                          key);
}

/* Lower case, without surrounding blanks, in place (buildx's key handling). */
static char *clean_key(char *key)
{
    while (isspace((unsigned char)*key))
        key++;
    for (char *c = key; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    for (size_t n = strlen(key); n && isspace((unsigned char)key[n - 1]); n--)
        key[n - 1] = '\0';
    return key;
}

static int entry(const char *value, struct kiln_build_output *o, struct kiln_error **err)
{
    _cleanup_(kiln_buf_releasep) struct kiln_buf f = KILN_BUF_INIT(64 * 1024);
    bool typed = false, push_set = false;
    const char *s = value;
    int r;
    while ((r = csv_field(&s, &f, err)) > 0) {
        char *eq = strchr(f.buf, '=');
        if (!eq)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "--output: '%s' is not key=value; write e.g. "
                                  "type=oci,dest=image.tar",
                                  f.buf);
        *eq = '\0';
        char *key = clean_key(f.buf);
        typed |= strcmp(key, "type") == 0;
        if ((r = field(key, eq + 1, o, &push_set, err)) < 0)
            return r;
    }
    if (r < 0)
        return r;
    if (!typed)
        return kiln_error_set(err, KILN_E_INVALID,
                              "--output '%s': type= is required, e.g. type=oci,dest=image.tar",
                              value);
    if (o->compression == KILN_OCI_COMPRESSION_GZIP && o->compression_level > 9)
        return kiln_error_set(err, KILN_E_INVALID,
                              "--output: compression-level=%d is for zstd; gzip takes 0-9",
                              o->compression_level);
    return 0;
}

int kiln_build_output_parse(const char *value, struct kiln_build_request *req,
                            struct kiln_error **err)
{
    /* One plain field not starting with type= is a directory, or "-" for a tar on stdout. */
    if (!strchr(value, ',') && value[0] != '"' && strncmp(value, "type=", 5) != 0) {
        if (!*value)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "--output: empty; use a directory, - or type=...");
        bool tar = strcmp(value, "-") == 0;
        struct kiln_build_output *o = add(req, tar ? KILN_OUTPUT_TAR : KILN_OUTPUT_LOCAL, err);
        if (!o)
            return KILN_E_LIMIT;
        o->dest = kiln_xstrdup(value);
        return 0;
    }
    struct kiln_build_output *o = add(req, KILN_OUTPUT_CACHEONLY, err);
    return o ? entry(value, o, err) : KILN_E_LIMIT;
}

static int check_dest(struct kiln_build_output *o, bool stdout_is_tty, bool *stdout_used,
                      struct kiln_error **err)
{
    const char *t = kiln_output_type_name(o->type);
    if (o->type == KILN_OUTPUT_LOCAL) {
        if (!o->dest || !*o->dest)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "--output type=local: dest= is required (dest=DIR)");
        if (strcmp(o->dest, "-") == 0)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "--output type=local: dest cannot be stdout; use type=tar");
        return 0;
    }
    if (o->type != KILN_OUTPUT_OCI && o->type != KILN_OUTPUT_TAR && o->type != KILN_OUTPUT_DOCKER) {
        if (o->dest)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "--output type=%s takes no dest=; use type=oci or type=docker "
                                  "for a file",
                                  t);
        return 0;
    }
    if (!o->dest && o->type != KILN_OUTPUT_DOCKER)
        o->dest = kiln_xstrdup("-");
    if (!o->dest || strcmp(o->dest, "-") != 0)
        return 0;
    if (*stdout_used)
        return kiln_error_set(err, KILN_E_INVALID,
                              "--output: more than one output writes to stdout; give dest=FILE");
    if (stdout_is_tty)
        return kiln_error_set(err, KILN_E_INVALID,
                              "--output type=%s: dest file is required, refusing to write to the "
                              "terminal; add dest=FILE or redirect stdout",
                              t);
    *stdout_used = true;
    return 0;
}

int kiln_build_outputs_finish(struct kiln_build_request *req, bool push, bool load,
                              bool stdout_is_tty, struct kiln_error **err)
{
    bool pushed = false, loaded = false, stdout_used = false;
    for (size_t i = 0; i < req->n_outputs; i++) {
        struct kiln_build_output *o = &req->outputs[i];
        if (push && o->type == KILN_OUTPUT_IMAGE)
            o->push = pushed = true;
        loaded |= o->type == KILN_OUTPUT_DOCKER && !o->dest;
    }
    if (push && !pushed) {
        struct kiln_build_output *o = add(req, KILN_OUTPUT_IMAGE, err);
        if (!o)
            return KILN_E_LIMIT;
        o->push = true;
    }
    if (load && !loaded && !add(req, KILN_OUTPUT_DOCKER, err))
        return KILN_E_LIMIT;
    for (size_t i = 0; i < req->n_outputs; i++) {
        struct kiln_build_output *o = &req->outputs[i];
        int r = check_dest(o, stdout_is_tty, &stdout_used, err);
        if (r < 0)
            return r;
        if (o->push && !o->names.n && !req->tags.n)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "--push: the image has no name; add -t REGISTRY/REPO:TAG");
    }
    return 0;
}
