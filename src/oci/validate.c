/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate.c - what strict parsing checks beyond JSON types, and the
 * validator that picks a document type by media type.
 *
 * The checks are the image-spec's: its JSON schemas (draft-04, with the
 * "uri" and "date-time" formats asserted) and the Go steps of
 * schema/validator.go (go-digest validation, Env entries). Each names the
 * value and what it should be.
 */
#include "validate.h"

#include <stdbool.h>
#include <string.h>

#include "base/limits.h"
#include "config.h"
#include "descriptor.h"
#include "digest.h"
#include "index.h"
#include "json.h"
#include "manifest.h"
#include "mediatype.h"

#include "base/banned.h"

int kiln_oci_check_media_type(struct kiln_oci_dec *d, const json_t *v)
{
    const char *s = json_string_value(v);
    if (kiln_oci_mediatype_valid(s))
        return 0;
    return kiln_oci_dec_fail(d, "'%.*s%s' is not a media type (type/subtype, RFC 6838)",
                             KILN_OCI_QUOTE(s));
}

int kiln_oci_check_digest(struct kiln_oci_dec *d, const json_t *v)
{
    const char *s = json_string_value(v);
    _cleanup_(kiln_error_freep) struct kiln_error *e = NULL;
    if (kiln_oci_digest_validate(s, &e) >= 0)
        return 0;
    return kiln_oci_dec_fail(d, "%s", e->message);
}

int kiln_oci_check_size(struct kiln_oci_dec *d, const json_t *v)
{
    if (json_integer_value(v) >= 0)
        return 0;
    return kiln_oci_dec_fail(d, "%" JSON_INTEGER_FORMAT " is negative", json_integer_value(v));
}

int kiln_oci_check_schema_version(struct kiln_oci_dec *d, const json_t *v)
{
    if (json_integer_value(v) == 2)
        return 0;
    return kiln_oci_dec_fail(d, "%" JSON_INTEGER_FORMAT " is not 2", json_integer_value(v));
}

int kiln_oci_check_rootfs_type(struct kiln_oci_dec *d, const json_t *v)
{
    if (strcmp(json_string_value(v), "layers") == 0)
        return 0;
    return kiln_oci_dec_fail(d, "'%.*s%s' is not \"layers\"", KILN_OCI_QUOTE(json_string_value(v)));
}

/* validator.go: every Env entry matches ^[^=]+=.*$ (and Go's '.' stops at '\n'). */
int kiln_oci_check_env(struct kiln_oci_dec *d, const json_t *v)
{
    const char *s = json_string_value(v);
    const char *eq = strchr(s, '=');
    if (eq && eq != s && !strchr(eq, '\n'))
        return 0;
    return kiln_oci_dec_fail(d, "'%.*s%s' is not KEY=value", KILN_OCI_QUOTE(s));
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_value(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/*
 * Go's url.unescape on the `n` bytes at s: every '%' starts two hex digits.
 * In a host, '%' may only encode a byte >= 0x80 (or be "%25"), and other
 * ASCII bytes must be a letter, a digit or one of -_.~!$&'()*+,;=:[]<>".
 */
static bool unescape_ok(const char *s, size_t n, bool host)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return false;
            if (host && hex_value(s[i + 1]) < 8 && strncmp(s + i, "%25", 3) != 0)
                return false;
            i += 2;
        } else if (host && (unsigned char)s[i] < 0x80 &&
                   !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                     (s[i] >= '0' && s[i] <= '9') || strchr("-_.~!$&'()*+,;=:[]<>\"", s[i]))) {
            return false;
        }
    }
    return true;
}

/* Go's validOptionalPort: "" or ':' and digits. */
static bool port_ok(const char *s, size_t n)
{
    if (n == 0)
        return true;
    if (s[0] != ':')
        return false;
    for (size_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Go's parseAuthority: [userinfo@]host[:port], host possibly "[ipv6]". */
static bool authority_ok(const char *s, size_t n)
{
    const char *at = memrchr(s, '@', n);
    if (at) {
        size_t un = (size_t)(at - s);
        if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                      "-._:~!$&'()*+,;=%@") < un ||
            !unescape_ok(s, un, false))
            return false;
        n -= un + 1;
        s = at + 1;
    }
    if (n > 0 && s[0] == '[') {
        const char *close = memrchr(s, ']', n);
        if (!close || !port_ok(close + 1, n - (size_t)(close + 1 - s)))
            return false;
    } else {
        const char *colon = memrchr(s, ':', n);
        if (colon && !port_ok(colon, n - (size_t)(colon - s)))
            return false;
    }
    return unescape_ok(s, n, true);
}

/*
 * The schema's "uri" format as gojsonschema asserts it: Go's url.Parse
 * succeeds, the URL has a scheme, and there is no backslash.
 */
static bool url_ok(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
            return false;
    size_t n = strcspn(s, "#");
    if (s[n] && !unescape_ok(s + n + 1, strlen(s + n + 1), false))
        return false;
    /* Go's getScheme: [A-Za-z][A-Za-z0-9+.-]* then ':', before any '#'. */
    bool letter = (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z');
    size_t scheme = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    if (!letter || scheme >= n || s[scheme] != ':')
        return false;
    const char *rest = s + scheme + 1;
    size_t len = (size_t)(s + n - rest);
    len = strcspn(rest, "?") < len ? strcspn(rest, "?") : len; /* the query is not checked */
    if (len == 0 || rest[0] != '/')
        return true; /* opaque: "mailto:x" */
    if (len >= 2 && rest[1] == '/') {
        size_t auth = 2;
        while (auth < len && rest[auth] != '/')
            auth++;
        if (!authority_ok(rest + 2, auth - 2))
            return false;
        rest += auth;
        len -= auth;
    }
    return unescape_ok(rest, len, false);
}

int kiln_oci_check_url(struct kiln_oci_dec *d, const json_t *v)
{
    const char *s = json_string_value(v);
    if (url_ok(s))
        return 0;
    return kiln_oci_dec_fail(d, "'%.*s%s' is not an absolute URL", KILN_OCI_QUOTE(s));
}

/* image-layout-schema.json: {"imageLayoutVersion": "1.0.0"}, nothing else required. */
static int validate_layout_header(const char *json, size_t len, struct kiln_error **err)
{
    json_t *root = NULL;
    int r = kiln_oci_json_load("oci-layout", json, len, KILN_MANIFEST_MAX, &root, err);
    if (r < 0)
        return r;
    const json_t *v = json_is_object(root) ? json_object_get(root, "imageLayoutVersion") : NULL;
    if (!json_is_object(root))
        r = kiln_error_set(err, KILN_E_INVALID, "oci-layout: expected a JSON object");
    else if (!v)
        r = kiln_error_set(err, KILN_E_INVALID,
                           "oci-layout: required field 'imageLayoutVersion' is missing");
    else if (!json_is_string(v) || strcmp(json_string_value(v), "1.0.0") != 0)
        r = kiln_error_set(err, KILN_E_INVALID, "oci-layout: imageLayoutVersion must be \"1.0.0\"");
    json_decref(root);
    return r;
}

int kiln_oci_validate(const char *media_type, const char *json, size_t len, struct kiln_error **err)
{
    const unsigned strict = KILN_OCI_PARSE_STRICT;
    int r;
    if (strcmp(media_type, KILN_OCI_MT_LAYOUT_HEADER) == 0)
        return validate_layout_header(json, len, err);
    if (strcmp(media_type, KILN_OCI_MT_DESCRIPTOR) == 0) {
        struct kiln_oci_descriptor *d = NULL;
        r = kiln_oci_descriptor_parse(json, len, strict, &d, err);
        kiln_oci_descriptor_free(d);
    } else if (kiln_oci_mediatype_is_manifest(media_type)) {
        struct kiln_oci_manifest *m = NULL;
        r = kiln_oci_manifest_parse(json, len, strict, &m, err);
        kiln_oci_manifest_free(m);
    } else if (kiln_oci_mediatype_is_index(media_type)) {
        struct kiln_oci_index *idx = NULL;
        r = kiln_oci_index_parse(json, len, strict, &idx, err);
        kiln_oci_index_free(idx);
    } else if (kiln_oci_mediatype_is_config(media_type)) {
        struct kiln_oci_config *c = NULL;
        r = kiln_oci_config_parse(json, len, strict, &c, err);
        kiln_oci_config_free(c);
    } else {
        r = kiln_error_set(err, KILN_E_INVALID, "no validator for media type '%.*s%s'",
                           KILN_OCI_QUOTE(media_type));
    }
    return r > 0 ? 0 : r;
}
