/* SPDX-License-Identifier: Apache-2.0 */
/*
 * binfmt.h - can this host run a platform's binaries? Natively (its own
 * architecture, or one it runs as BuildKit's archutil finds: 386 on amd64,
 * arm on arm64), or through an enabled qemu-ARCH handler in binfmt_misc
 * (Debian's qemu-user-static registers them with the F flag).
 */
#pragma once

#include "base/error.h"
#include "oci/platform.h"

/* Where the kernel lists binfmt_misc handlers. */
#define KILN_BINFMT_DIR "/proc/sys/fs/binfmt_misc"

/*
 * The name qemu gives p's architecture ("aarch64" for arm64, "x86_64" for
 * amd64, "arm" for arm/v7, ...); NULL when qemu has none. Static.
 */
const char *kiln_binfmt_qemu_arch(const struct kiln_oci_platform *p);

/*
 * 0 when `host` runs p's binaries natively or binfmt_misc (in directory
 * `dir`, normally KILN_BINFMT_DIR) has an enabled qemu handler for them.
 * Otherwise KILN_E_INVALID saying which handler is missing and which
 * package installs it.
 */
int kiln_binfmt_check(const char *dir, const struct kiln_oci_platform *host,
                      const struct kiln_oci_platform *p, struct kiln_error **err);
