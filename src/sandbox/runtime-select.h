/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime-select.h - which OCI runtime runs a RUN: the one chosen
 * (--oci-runtime, $KILN_OCI_RUNTIME), else crun where it works on this host,
 * else runc (docs/internals/sandbox.md, "Runtime").
 */
#pragma once

#include <stdbool.h>

#include "base/error.h"

/* The environment's choice, NAME (looked up in PATH) or PATH; `--oci-runtime` wins over it. */
#define KILN_SANDBOX_RUNTIME_ENV "KILN_OCI_RUNTIME"
/* A decision already made, handed by kilnd to its build workers: "host PATH" or "v1 PATH"
 * (kiln_sandbox_runtime_export). */
#define KILN_SANDBOX_RUNTIME_KNOWN_ENV "KILN_OCI_RUNTIME_KNOWN"
/* The static binary the probe's container runs (busybox-static). */
#define KILN_SANDBOX_PROBE_BINARY "/bin/busybox"
/* A probe container that has not ended by then is killed and the runtime counts as unusable. */
#define KILN_SANDBOX_PROBE_TIMEOUT_NS (10 * 1000000000LL)

/* The runtime a run uses. */
struct kiln_sandbox_runtime {
    char *path;   /* its binary */
    bool v1_view; /* it runs only with the hybrid cgroup2 mount hidden (crun 1.8 on hybrid hosts) */
    char *note;   /* why crun was passed over, or that it runs with cgroup2 hidden; or NULL */
};

/*
 * The OCI runtime to use, decided once per process for each choice (the
 * answer is kept, so later calls cost nothing):
 *   - `choice` (NULL: $KILN_OCI_RUNTIME; NULL or "" there: none) is used as
 *     is once it runs a trivial container on this host; KILN_E_NOTFOUND when
 *     it is missing, KILN_E_INVALID with the runtime's own message and what
 *     to choose instead when it cannot run one;
 *   - without a choice, crun when it is installed and runs the trivial
 *     container, else runc (KILN_E_NOTFOUND when runc is missing too).
 * A runtime that refuses a host whose cgroups are mounted hybrid is probed
 * again with cgroup2 hidden from it (kiln_sandbox_spawn's v1 view); when
 * that runs, every run of it gets the same view. Without an explicit
 * `choice`, a decision in $KILN_OCI_RUNTIME_KNOWN (an executable path) is
 * taken as it is, unprobed. The probe's bundle is made
 * and removed in a directory of its own under `scratch` (an existing
 * directory). Release *ret with kiln_sandbox_runtime_release().
 */
int kiln_sandbox_runtime_select(const char *choice, const char *scratch,
                                struct kiln_sandbox_runtime *ret, struct kiln_error **err);

void kiln_sandbox_runtime_release(struct kiln_sandbox_runtime *rt);

/*
 * Puts rt into $KILN_OCI_RUNTIME_KNOWN, for the processes this one starts:
 * their selection without an explicit choice takes it as probed, so a
 * kilnd worker does not probe again at each build. -errno when setenv fails.
 */
int kiln_sandbox_runtime_export(const struct kiln_sandbox_runtime *rt);
