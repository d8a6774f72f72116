/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mkdir.h - WORKDIR's directory: mkdir -p inside a root.
 */
#pragma once

#include "base/error.h"

/*
 * Creates `path` (absolute) and its missing parents inside directory `root`,
 * 0755 and owned by `user` ("" for root; "name", "uid", "user:group") as the
 * root's /etc/passwd and /etc/group say, by BuildKit's file-op rules
 * (kiln_passwd_resolve() with copy_semantics: "1000" alone is 1000:1000). Existing directories are
 * left as they are. Errors: those of kiln_passwd_resolve(), -ENOTDIR when a component is a file,
 * -errno.
 */
int kiln_mkdir_apply(const char *root, const char *path, const char *user, struct kiln_error **err);
