/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox-limits.h - caps of the sandbox on what the rootfs and the host hand it.
 */
#pragma once

/* Bytes of the host's /etc/resolv.conf read; a longer file is refused. */
#define KILN_SANDBOX_RESOLV_MAX (64 * 1024)

/* Symbolic links followed while resolving one mount point inside the rootfs. */
#define KILN_SANDBOX_SYMLINK_HOPS 40

/* Bytes of one path inside the rootfs (mount points, cwd, symlink targets). */
#define KILN_SANDBOX_PATH_MAX 4096

/* Bytes of the runtime's own log read back to report why it failed. */
#define KILN_SANDBOX_LOG_MAX (64 * 1024)
