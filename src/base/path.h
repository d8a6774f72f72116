/* SPDX-License-Identifier: Apache-2.0 */
/*
 * path.h - slash-separated path arithmetic, as Go's path/filepath on Linux.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/*
 * Go's filepath.Clean: collapses repeated slashes, drops "." elements,
 * resolves ".." against the element before it (a rooted path cannot go above
 * "/"), and gives "." for an empty result. Returns a new string (caller
 * frees).
 */
char *kiln_path_clean(const char *path, size_t n);

/*
 * mkdir -p: creates dir and its missing parents (parents 0755, dir itself
 * `mode`); an existing directory is fine. Errors: -errno naming the path.
 */
int kiln_mkdir_p(const char *dir, mode_t mode, struct kiln_error **err);
