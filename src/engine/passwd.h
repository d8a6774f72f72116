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

/* An /etc/passwd or /etc/group larger than this is refused (bytes). */
#define KILN_PASSWD_FILE_MAX (4u * 1024 * 1024)

/*
 * Resolves `spec` ("user[:group]", names or numbers; "" is root) in
 * root/etc/passwd and root/etc/group, both opened inside root. A name gives
 * its uid and primary group; a group part replaces the group.
 * copy_semantics (COPY --chown, WORKDIR: BuildKit's file ops): a numeric
 * user alone is uid:uid. Otherwise (USER, RUN: runc's lookup) a numeric
 * user takes the primary group of its /etc/passwd entry, or 0. ret_groups
 * (may be NULL; caller frees) receives the groups of /etc/group listing the
 * user. Errors: KILN_E_NOTFOUND naming a user or group name missing from
 * the image, KILN_E_LIMIT for a file over KILN_PASSWD_FILE_MAX, -errno.
 */
int kiln_passwd_resolve(const char *root, const char *spec, bool copy_semantics, uint32_t *ret_uid,
                        uint32_t *ret_gid, uint32_t **ret_groups, size_t *ret_n_groups,
                        struct kiln_error **err);
