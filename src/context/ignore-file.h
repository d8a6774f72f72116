/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ignore-file.h - which .dockerignore applies to a build, and its patterns.
 */
#pragma once

#include "base/error.h"
#include "base/strv.h"

/*
 * Reads the ignore file of a build as BuildKit chooses it: DOCKERFILE +
 * ".dockerignore" beside the Dockerfile when that exists, else
 * CONTEXT/.dockerignore. `dockerfile` is a path relative to the current
 * directory (or absolute). Appends the patterns to ret (none when neither
 * file exists); *ret_used (may be NULL; caller frees) names the file read.
 * Errors: -errno reading it, KILN_E_LIMIT over KILN_DOCKERIGNORE_MAX bytes or
 * a line over 64 KiB (with the line), KILN_E_INVALID.
 */
int kiln_context_read_ignore(const char *context, const char *dockerfile, struct kiln_strv *ret,
                             char **ret_used, struct kiln_error **err);
