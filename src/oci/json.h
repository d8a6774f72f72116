/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.h - internal to src/oci: JSON out as Go's encoding/json writes it,
 * JSON in through jansson with a size cap, and the field tables that map JSON
 * objects onto the structs of descriptor.h, manifest.h, index.h, config.h.
 *
 * A struct is described once, by a table of its fields in Go declaration
 * order; decoding, encoding, comparing and freeing all walk that table.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/error.h"
#include "base/strv.h"

/* ---- writer (json.c) ---- */

#define KILN_OCI_JSON_DEPTH 16

struct kiln_oci_jw {
    struct kiln_buf *out;
    bool indent;    /* json.MarshalIndent(v, "", "  ") */
    bool after_key; /* the next value follows "key": */
    unsigned depth;
    bool has_items[KILN_OCI_JSON_DEPTH + 1];
    int r; /* first failure (KILN_E_LIMIT from the buffer), sticky */
};

/* Writes into `out` (appending); w->r holds the first failure. */
void kiln_oci_jw_init(struct kiln_oci_jw *w, struct kiln_buf *out, bool indent);
/* Opens '{' or '['; kiln_oci_jw_close() takes the matching '}' or ']'. */
void kiln_oci_jw_open(struct kiln_oci_jw *w, char open);
void kiln_oci_jw_close(struct kiln_oci_jw *w, char close);
/* An object key and its separator; the next call writes its value. */
void kiln_oci_jw_key(struct kiln_oci_jw *w, const char *key);
/* A JSON string with Go's escaping (HTML characters, U+2028/9, bad UTF-8). */
void kiln_oci_jw_string(struct kiln_oci_jw *w, const char *s);
/* Scalars: a decimal integer, true/false, null. */
void kiln_oci_jw_int(struct kiln_oci_jw *w, int64_t v);
void kiln_oci_jw_bool(struct kiln_oci_jw *w, bool v);
void kiln_oci_jw_null(struct kiln_oci_jw *w);
/* []byte: standard base64 with padding. */
void kiln_oci_jw_base64(struct kiln_oci_jw *w, const uint8_t *p, size_t n);

/* The strings of s as a JSON array. Caller decrefs. */
json_t *kiln_oci_json_strv(const struct kiln_strv *s);

/* ---- reader (json.c) ---- */

/*
 * Parses `len` bytes into *ret (owned by the caller). `what` names the
 * document in messages. KILN_E_LIMIT past `max` bytes, KILN_E_INVALID with
 * line and column for malformed JSON.
 */
int kiln_oci_json_load(const char *what, const char *text, size_t len, size_t max, json_t **ret,
                       struct kiln_error **err);

/* Standard base64 with padding, NUL-terminated. Caller frees. */
char *kiln_oci_base64_encode(const uint8_t *p, size_t n);

/*
 * Decodes standard base64 as Go's encoding/json does for []byte: padding
 * required, '\r' and '\n' skipped. Returns false for anything else.
 */

bool kiln_oci_base64_decode(const char *s, uint8_t **ret, size_t *ret_len);

/* ---- field tables (oci.c) ---- */

enum kiln_oci_kind {
    KILN_OCI_K_STRING,       /* char * */
    KILN_OCI_K_INT,          /* int64_t */
    KILN_OCI_K_BOOL,         /* bool */
    KILN_OCI_K_STRV,         /* struct kiln_strv: []string */
    KILN_OCI_K_SET,          /* struct kiln_strv, sorted: map[string]struct{} */
    KILN_OCI_K_MAP,          /* struct kiln_oci_map: map[string]string */
    KILN_OCI_K_BYTES,        /* struct kiln_oci_bytes: []byte */
    KILN_OCI_K_TIME,         /* struct kiln_oci_time *: *time.Time */
    KILN_OCI_K_OBJECT,       /* an embedded struct of .type */
    KILN_OCI_K_OBJECT_PTR,   /* a pointer to a struct of .type */
    KILN_OCI_K_OBJECT_ARRAY, /* T *at .offset, size_t count at .count_offset */
};

enum {
    KILN_OCI_F_OMITEMPTY = 1u << 0, /* `json:",omitempty"` */
    KILN_OCI_F_REQUIRED = 1u << 1,  /* strict: the key must be there */
    KILN_OCI_F_NULLABLE = 1u << 2,  /* strict: null is allowed */
    KILN_OCI_F_NONEMPTY = 1u << 3,  /* strict: an array needs an item */
    KILN_OCI_F_LEADING = 1u << 4,   /* written first unless KILN_OCI_JSON_SPEC_ORDER */
};

struct kiln_oci_dec;
struct kiln_oci_type;

struct kiln_oci_field {
    const char *name;
    enum kiln_oci_kind kind;
    unsigned flags;
    size_t offset;
    size_t count_offset;
    const struct kiln_oci_type *type;
    /* Strict only: checks a string, integer or each array item. */
    int (*check)(struct kiln_oci_dec *d, const json_t *v);
};

struct kiln_oci_type {
    size_t size;
    const struct kiln_oci_field *fields;
    size_t n_fields;
};

#define KILN_OCI_TYPE(st, table)                                             \
    {                                                                        \
        .size = sizeof(st), .fields = (table), .n_fields = ELEMENTSOF(table) \
    }

/*
 * Decodes object `v` into `out`, a zeroed struct of type t. On failure
 * everything decoded so far is released again and the message names the
 * field ("layers[2].digest: ..."). KILN_E_INVALID.
 */
int kiln_oci_decode(const struct kiln_oci_type *t, const json_t *v, bool strict, void *out,
                    struct kiln_error **err);
/* Fails the decoding: "<field path>: <message>". Returns KILN_E_INVALID. */
int kiln_oci_dec_fail(struct kiln_oci_dec *d, const char *fmt, ...) _printf_(2, 3);
/* Appends `obj` as Go's json.Marshal(/Indent) would. KILN_E_LIMIT at the buffer cap. */
int kiln_oci_encode(const struct kiln_oci_type *t, const void *obj, unsigned flags,
                    struct kiln_buf *out);
/* Field by field, as their JSON would compare (NULL strings equal ""). */
bool kiln_oci_equal(const struct kiln_oci_type *t, const void *a, const void *b);
/* Frees what `obj` owns and zeroes it. */
void kiln_oci_release(const struct kiln_oci_type *t, void *obj);
/* Does object `v` have `key`, compared the way Go matches field names? */
bool kiln_oci_json_has_key(const json_t *v, const char *key);

/* A check of a whole decoded document (`root` is its JSON), after the fields. */
typedef int (*kiln_oci_doc_check)(const json_t *root, const void *obj, bool strict,
                                  struct kiln_error **err);

/*
 * The whole parse of a document: load (capped at `max`), decode, run `check`
 * (may be NULL), and prefix messages with `what`. *ret is a new struct of
 * type t on success.
 */
int kiln_oci_parse_document(const char *what, const struct kiln_oci_type *t,
                            kiln_oci_doc_check check, const char *text, size_t len, size_t max,
                            unsigned flags, void **ret, struct kiln_error **err);

/* Arguments for "'%.*s%s'": a value in a message, cut after 80 bytes. */
#define KILN_OCI_QUOTE(s) 80, (s), (strlen(s) > 80 ? "..." : "")

/* The tables other files embed (descriptor.c). */
extern const struct kiln_oci_type kiln_oci_descriptor_type;
extern const struct kiln_oci_type kiln_oci_platform_type;

/*
 * ---- strict value checks (validate.c) ----
 * Each checks one JSON value of the right type and fails the decoding with
 * what is wrong: a media type, a digest (go-digest), a size >= 0,
 * schemaVersion 2, an absolute URL, a KEY=value Env entry, rootfs type "layers".
 */

int kiln_oci_check_media_type(struct kiln_oci_dec *d, const json_t *v);
int kiln_oci_check_digest(struct kiln_oci_dec *d, const json_t *v);
int kiln_oci_check_size(struct kiln_oci_dec *d, const json_t *v);
int kiln_oci_check_schema_version(struct kiln_oci_dec *d, const json_t *v);
int kiln_oci_check_url(struct kiln_oci_dec *d, const json_t *v);
int kiln_oci_check_env(struct kiln_oci_dec *d, const json_t *v);
int kiln_oci_check_rootfs_type(struct kiln_oci_dec *d, const json_t *v);
