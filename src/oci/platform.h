/* SPDX-License-Identifier: Apache-2.0 */
/*
 * platform.h - platforms as containerd's platforms package (v1.0.0-rc, the
 * version BuildKit uses) parses, normalises, formats and matches them:
 * "linux/amd64", "linux/arm64/v8", "windows(10.0.17763)/amd64".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/strv.h"

/* The image-spec Platform; strings are NULL when empty. */
struct kiln_oci_platform {
    char *architecture;
    char *os;
    char *os_version;
    struct kiln_strv os_features;
    char *variant;
};

/*
 * Parses a platform specifier as platforms.Parse does: "os", "arch",
 * "os/arch" or "os/arch/variant", the os optionally with "(os.version)".
 * One component that is a known OS takes the host's architecture, one that
 * is a known architecture the host's OS. The architecture is normalised
 * ("x86_64" -> "amd64", "aarch64" -> "arm64", "armhf" -> "arm" with no
 * variant); "os/arm64/v8" keeps variant "v8". *ret is the caller's
 * (kiln_oci_platform_release). KILN_E_INVALID with the reason.
 */
int kiln_oci_platform_parse(const char *spec, struct kiln_oci_platform *ret,
                            struct kiln_error **err);

/*
 * platforms.Normalize, in place: OS lower case ("macos" -> "darwin"),
 * architecture aliases resolved, arm64 variant "v8" dropped, arm without a
 * variant becomes "v7".
 */
void kiln_oci_platform_normalize(struct kiln_oci_platform *p);

/* platforms.Format: "os/arch[/variant]" ("unknown" without an OS). Caller frees. */
char *kiln_oci_platform_format(const struct kiln_oci_platform *p);
/* platforms.FormatAll: also "(os.version)" after the OS. Caller frees. */
char *kiln_oci_platform_format_all(const struct kiln_oci_platform *p);

/*
 * Does `have` satisfy `want` exactly, as platforms.NewMatcher(want).Match:
 * equal after normalising (so arm64 and arm64/v8 are the same)? The OS
 * version is not compared (containerd compares it for Windows only).
 */
bool kiln_oci_platform_match(const struct kiln_oci_platform *want,
                             const struct kiln_oci_platform *have);

/*
 * How well `have` serves `want` under platforms.Only(want), the matcher
 * BuildKit picks base images with: 0 for an exact match, then the
 * fallbacks in order (amd64 runs 386; arm64 runs arm v8 down to v5; arm vN
 * runs arm vN-1 down to v5), or -1 when it does not run at all.
 */
long kiln_oci_platform_rank(const struct kiln_oci_platform *want,
                            const struct kiln_oci_platform *have);

/*
 * The platform BuildKit builds for by default: the host's OS and
 * architecture (from the compiler's target), normalised.
 */
void kiln_oci_platform_host(struct kiln_oci_platform *ret);

/* Frees what p owns and zeroes it. */
void kiln_oci_platform_release(struct kiln_oci_platform *p);
