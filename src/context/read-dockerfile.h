/* SPDX-License-Identifier: Apache-2.0 */
/*
 * read-dockerfile.h - a Dockerfile's bytes from a file or standard input,
 * capped at KILN_DOCKERFILE_MAX.
 */
#pragma once

#include "base/buf.h"
#include "base/error.h"

/*
 * Appends the content of `path` ("-": standard input) to out, NUL-terminated.
 * Errors: -errno (wrapped with the path), KILN_E_LIMIT past KILN_DOCKERFILE_MAX.
 */
int kiln_context_read_dockerfile(const char *path, struct kiln_buf *out, struct kiln_error **err);
