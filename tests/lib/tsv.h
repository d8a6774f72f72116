/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tsv.h - reader for the conformance corpora's TSV records
 * (../shared/conformance/README.md): TAB-separated fields, '#' comment lines,
 * "quoted" fields with the escapes \\ \" \t \n \r \xHH, bare words otherwise.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct tsv_field {
    char *text;  /* unescaped bytes, NUL-terminated */
    size_t len;  /* length (quoted fields may contain NUL bytes via \x00) */
    bool quoted; /* was "..." in the file */
};

struct tsv_record {
    struct tsv_field *f;
    size_t n;
    unsigned line; /* 1-based line in the file */
};

struct tsv_file {
    struct tsv_record *r;
    size_t n;
};

/* Reads a whole file; aborts the test with a message when it cannot. */
void tsv_load(struct tsv_file *out, const char *path);
void tsv_release(struct tsv_file *f);

/* True when field i exists and is the bare word `w`. */
bool tsv_is(const struct tsv_record *r, size_t i, const char *w);

/*
 * Section helper for "keyword value value ..." records: returns the index of
 * bare word `key` at or after `from`, or (size_t)-1. The values run from the
 * returned index + 1 up to the next bare word.
 */
size_t tsv_section(const struct tsv_record *r, size_t from, const char *key);
/* The number of quoted values following index i (up to the next bare word). */
size_t tsv_section_len(const struct tsv_record *r, size_t i);

/* Reads a whole file into a NUL-terminated buffer; aborts on failure. */
char *tsv_slurp(const char *path, size_t *ret_len);
/* Path of a conformance file: $KILN_CONFORMANCE_DIR (set by meson) + rel. */
char *conformance_path(const char *rel);
