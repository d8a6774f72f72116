/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layer-private.h - helpers the layer writer (layer.c) and the unpacker
 * (unpack.c) share: a set of paths, and opening paths inside a root.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* A set of strings (owned copies), open addressing. */
struct kiln_oci_pathset {
    char **slots;
    size_t n, alloc;
};

#define KILN_OCI_PATHSET_INIT             \
    {                                     \
        .slots = NULL, .n = 0, .alloc = 0 \
    }

/* Adds a copy of s. Returns true when s was not in the set yet. */
bool kiln_oci_pathset_add(struct kiln_oci_pathset *s, const char *str);
bool kiln_oci_pathset_contains(const struct kiln_oci_pathset *s, const char *str);
void kiln_oci_pathset_release(struct kiln_oci_pathset *s);

/*
 * openat2(rootfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
 * extra_resolve): every symlink and ".." is resolved as if rootfd were "/",
 * so nothing outside the root is reached. O_CLOEXEC is added; EAGAIN (a
 * rename raced the lookup) is retried. Returns the fd or -errno (no message:
 * callers name the entry).
 */
int kiln_oci_open_in_root(int rootfd, const char *path, int flags,
                          unsigned long long extra_resolve);
