/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stubs.h - paths made inside a rootfs for a RUN: the working directory
 * (kept) and the mount points the runtime needs (removed afterwards, with
 * the parent directory's times put back, so the rootfs shows only what the
 * process wrote). Every path is resolved inside the root (openat2 with
 * RESOLVE_IN_ROOT), symbolic links included, so nothing outside is touched.
 */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "base/error.h"

struct kiln_sandbox_stub {
    char *path;                     /* relative to the root, as it was created */
    struct timespec parent_orig[2]; /* parent's atime and mtime before the stub */
    long long parent_mtime_after;   /* parent's mtime (ns) just after it */
};

struct kiln_sandbox_stubs {
    struct kiln_sandbox_stub *v;
    size_t n, alloc;
};

/*
 * Makes `path` (absolute inside the root) exist under the directory fd
 * rootfd: missing components become directories (0755), the last one a
 * directory too when `dir`, otherwise an empty file (0644). A missing
 * component that is a dangling symbolic link is followed inside the root.
 * Created entries are owned by uid:gid; each is recorded in `stubs` when it
 * is not NULL. Errors: -errno (ENOTDIR, ELOOP...) with a message.
 */
int kiln_sandbox_mkpath(int rootfd, const char *path, bool dir, uid_t uid, gid_t gid,
                        struct kiln_sandbox_stubs *stubs, struct kiln_error **err);

/*
 * Removes the recorded stubs, newest first, when they are still an empty
 * directory or an empty file, and puts the parent's times back. Best effort:
 * what cannot be removed stays. Releases the list.
 */
void kiln_sandbox_stubs_remove(int rootfd, struct kiln_sandbox_stubs *stubs);

void kiln_sandbox_stubs_release(struct kiln_sandbox_stubs *stubs);
