/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fsroot.h - paths resolved inside a root directory, never outside it:
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so ".." and absolute
 * symlinks stop at the root as if it were "/".
 */
#pragma once

/*
 * Opens `path` (absolute or relative, taken as relative to the root) inside
 * directory fd `root` with open(2) `flags` (O_CLOEXEC is added). Returns the
 * fd or -errno.
 */
int kiln_fsroot_open(int root, const char *path, int flags, int mode);
