/* SPDX-License-Identifier: Apache-2.0 */
/*
 * helper-spawn.h - a helper process of the sandbox (the OCI runtime, slirp4netns)
 * started the same way: its own process group, default signals, stdin from
 * /dev/null, chosen fds and nothing else; on request in a mount namespace
 * of its own that shows the cgroup v1 hierarchies only.
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

/*
 * Starts argv (argv[0] looked up in PATH when it holds no '/'); fds[i]
 * becomes the child's fd i + 1 (stdout, stderr, then 3, 4, ...), every
 * other fd is closed. With `v1_view` the child runs in a new mount
 * namespace (its mounts slaves of this one's) from which the hybrid
 * cgroup2 mount is detached, so that it sees a plain v1 host: crun 1.8
 * refuses hybrid hosts and runs on v1 ones. Returns 0 and *ret_pid, or
 * -errno (what the child's setup or exec failed with).
 */
int kiln_sandbox_spawn(const char *const *argv, const int *fds, size_t n_fds, bool v1_view,
                       pid_t *ret_pid);
