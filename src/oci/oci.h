/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci.h - what the image-format structs of src/oci share: string maps and
 * sets as Go writes them (keys in byte order), byte strings, and the flags of
 * the parse and to_json functions.
 *
 * Strings in these structs are NULL when empty: Go cannot tell "" from an
 * absent field either, so nothing is lost.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/strv.h"

/* Flags of the *_parse() functions. */
enum {
    /*
     * Also apply the image-spec validator's rules (schema/validator.go and
     * the JSON schemas): required fields, media type and digest grammar,
     * absolute URLs, Env entries with '=', schemaVersion 2, non-empty
     * layers. Without it a document is accepted as Go's typed json.Unmarshal
     * accepts it, which is what containerd and BuildKit do on pull.
     */
    KILN_OCI_PARSE_STRICT = 1u << 0,
};

/* Flags of the *_to_json() functions. */
enum {
    /* json.MarshalIndent(v, "", "  "): how BuildKit writes manifests and indexes. */
    KILN_OCI_JSON_INDENT = 1u << 0,
    /*
     * Manifests and indexes: the image-spec struct's own field order
     * (schemaVersion first), as containerd writes an OCI layout's index.json.
     * Without it "mediaType" comes first, as in BuildKit's exporter, which
     * wraps the struct to set that field.
     */
    KILN_OCI_JSON_SPEC_ORDER = 1u << 1,
};

struct kiln_oci_kv {
    char *key;
    char *value; /* never NULL */
};

/* map[string]string: entries sorted by key (byte order), keys unique. */
struct kiln_oci_map {
    struct kiln_oci_kv *v;
    size_t n;
    size_t alloc;
};

/* []byte: data is NULL when len is 0. */
struct kiln_oci_bytes {
    uint8_t *data;
    size_t len;
};

/* Sets `key` to `value` (both copied), keeping the entries sorted. */
void kiln_oci_map_set(struct kiln_oci_map *m, const char *key, const char *value);
/* The value of `key`, or NULL. The map keeps ownership. */
const char *kiln_oci_map_get(const struct kiln_oci_map *m, const char *key);
/* Frees the entries; m is an empty map afterwards. */
void kiln_oci_map_release(struct kiln_oci_map *m);

/*
 * map[string]struct{} (ExposedPorts, Volumes) is a struct kiln_strv kept
 * sorted and without duplicates. Adds a copy of `key` when it is missing.
 */
void kiln_oci_set_add(struct kiln_strv *set, const char *key);
