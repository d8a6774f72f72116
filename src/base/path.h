/* SPDX-License-Identifier: Apache-2.0 */
/*
 * path.h - slash-separated path arithmetic, as Go's path/filepath on Linux.
 */
#pragma once

#include <stddef.h>

/*
 * Go's filepath.Clean: collapses repeated slashes, drops "." elements,
 * resolves ".." against the element before it (a rooted path cannot go above
 * "/"), and gives "." for an empty result. Returns a new string (caller
 * frees).
 */
char *kiln_path_clean(const char *path, size_t n);
