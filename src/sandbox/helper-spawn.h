/* SPDX-License-Identifier: Apache-2.0 */
/*
 * helper-spawn.h - a helper process of the sandbox (the OCI runtime, slirp4netns)
 * started the same way: its own process group, default signals, stdin from
 * /dev/null, chosen fds and nothing else; the runtime in a mount namespace
 * of its own, its binary read-only there and, where it needs it, only the
 * cgroup v1 hierarchies shown.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Where hosts with hybrid cgroups mount the v2 hierarchy beside the v1 ones. */
#define KILN_SANDBOX_CGROUP2_HYBRID "/sys/fs/cgroup/unified"

/*
 * Whether this host mounts its cgroups hybrid: a tmpfs at /sys/fs/cgroup
 * with the v1 hierarchies, and cgroup2 at KILN_SANDBOX_CGROUP2_HYBRID.
 */
bool kiln_sandbox_cgroups_hybrid(void);

/* How a helper sees the mounts (kiln_sandbox_spawn). */
enum kiln_sandbox_view {
    KILN_SANDBOX_VIEW_HOST,    /* as this process does */
    KILN_SANDBOX_VIEW_RUNTIME, /* a mount namespace of its own, its binary read-only */
    KILN_SANDBOX_VIEW_V1,      /* as RUNTIME, and the hybrid cgroup2 mount detached */
};

/*
 * Starts argv (argv[0] looked up in PATH when it holds no '/'); fds[i]
 * becomes the child's fd i + 1 (stdout, stderr, then 3, 4, ...), every
 * other fd is closed. With KILN_SANDBOX_VIEW_RUNTIME the child runs in a
 * new mount namespace (its mounts slaves of this one's) where argv[0], a
 * path, is bound read-only over itself: an OCI runtime on a read-only mount
 * needs no sealed copy of itself against a container overwriting it
 * (CVE-2019-5736), and makes none. KILN_SANDBOX_VIEW_V1 also detaches the
 * hybrid cgroup2 mount there, so that the child sees a plain v1 host: crun
 * 1.8 refuses hybrid hosts and runs on v1 ones. Returns 0 and *ret_pid, or
 * -errno (what the child's setup or exec failed with).
 */
int kiln_sandbox_spawn(const char *const *argv, const int *fds, size_t n_fds,
                       enum kiln_sandbox_view view, pid_t *ret_pid);
