/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json-array.h - the exec form of RUN/CMD/ENTRYPOINT/SHELL/COPY/ADD/VOLUME:
 * a JSON array of strings, judged exactly as Go's encoding/json judges it.
 */
#pragma once

#include <stddef.h>

#include "base/error.h"
#include "base/strv.h"

/*
 * Decodes s (n bytes) as a JSON array of strings. Returns 1 and appends the
 * decoded strings to ret when it is one; when a string holds a NUL byte
 * ("\u0000"), *lens becomes an array (caller frees) of the byte length of
 * every entry of ret; 0 when s is not valid JSON (the
 * caller falls back to shell form); KILN_E_INVALID when s is a valid JSON
 * array holding something other than strings (a hard error in BuildKit).
 * Invalid UTF-8 and lone surrogates decode to U+FFFD, as in Go.
 */
int kiln_df_json_array(const char *s, size_t n, struct kiln_strv *ret, size_t **lens,
                       struct kiln_error **err);

/*
 * When s is a valid JSON object (Go's rules) whose member `key` (the last
 * one, when repeated) is a string, returns 1 and its value in *ret_value
 * (caller frees); else 0.
 */
int kiln_df_json_object_string(const char *s, size_t n, const char *key, char **ret_value);
