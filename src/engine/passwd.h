/* SPDX-License-Identifier: Apache-2.0 */
/*
 * passwd.h - "user[:group]" to numbers, by the /etc/passwd and /etc/group of
 * a root filesystem (never the host's), as BuildKit resolves --chown, USER
 * and WORKDIR owners.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/*
 * Resolves `spec` (names or numbers) in root/etc/passwd and root/etc/group.
 * copy_semantics: a lone user sets gid = uid (COPY --chown); otherwise the
 * user's primary group (USER, RUN, WORKDIR). ret_groups (may be NULL; caller
 * frees) receives the user's supplementary groups. Errors: KILN_E_NOTFOUND
 * naming the user or group missing from the image, -errno reading the files.
 */
int kiln_passwd_resolve(const char *root, const char *spec, bool copy_semantics, uint32_t *ret_uid,
                        uint32_t *ret_gid, uint32_t **ret_groups, size_t *ret_n_groups,
                        struct kiln_error **err);
