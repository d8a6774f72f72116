/* SPDX-License-Identifier: Apache-2.0 */
/*
 * directives.h - reading one parser directive without parsing the file, as
 * a frontend selector does (BuildKit DetectSyntax / ParseDirective).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * Finds directive `key` ("syntax", "check", "escape") in data: a UTF-8 BOM
 * and a leading `#!` line are skipped, then the leading `# key=value` block
 * is read; with any_format also a `// key=value` block and a whole-file JSON
 * object {"key": "value"}. On success *ret_value (caller frees) is the value
 * and *ret_line its 1-based line (0 for JSON without a shebang).
 */
bool kiln_df_find_directive(const char *data, size_t len, const char *key, bool any_format,
                            char **ret_value, unsigned *ret_line);
