/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits.h - what one RUN may use of the builder: processes (the cgroup's
 * pids limit) and disk (free space kept on the filesystem holding its
 * files): defaults and the environment's overrides
 * (docs/internals/sandbox.md, "Limits").
 */
#pragma once

#include <stdint.h>

#include "base/error.h"
#include "sandbox.h"

/* Processes and threads of one step (podman's default is 2048; Docker and BuildKit set none). */
#define KILN_SANDBOX_PIDS_DEFAULT 4096
/* Free space kept on the step's filesystem: the larger of these two (free inodes: the
 * percentage alone). */
#define KILN_SANDBOX_RESERVE_MIN     (1024LL * 1024 * 1024)
#define KILN_SANDBOX_RESERVE_PERCENT 5
/* How often a running step's processes and free space are looked at. */
#define KILN_SANDBOX_GUARD_NS (100 * 1000000LL)

#define KILN_SANDBOX_PIDS_ENV    "KILN_RUN_PIDS_MAX"
#define KILN_SANDBOX_RESERVE_ENV "KILN_RUN_DISK_RESERVE"
#define KILN_SANDBOX_INODES_ENV  "KILN_RUN_INODE_RESERVE"
#define KILN_SANDBOX_MEMORY_ENV  "KILN_RUN_MEMORY_MAX"
#define KILN_SANDBOX_CPUS_ENV    "KILN_RUN_CPUS"
/* The most CPUs KILN_RUN_CPUS may name. */
#define KILN_SANDBOX_CPUS_MAX 1024
/* The CFS period a CPU limit is a quota of (Docker's --cpus uses the same 100 ms). */
#define KILN_SANDBOX_CPU_PERIOD_US 100000

/*
 * Copies o into ret with pids_max, cpu_millis, memory_max, disk_reserve
 * and inode_reserve resolved (KILN_RUN_CPUS: CPUs such as 1.5, 0 for
 * none; none by default):
 * the option when set, else the environment (KILN_RUN_PIDS_MAX: a count, 0
 * for none; KILN_RUN_DISK_RESERVE: a size such as 2GiB or a percentage such
 * as 10% of the filesystem holding o->rootfs, 0 for none;
 * KILN_RUN_INODE_RESERVE: a count or a percentage of its inodes, 0 for
 * none; KILN_RUN_MEMORY_MAX: a size, or a percentage of the builder's
 * memory, 0 for none), else the defaults (inodes: none on a filesystem
 * that counts none; memory: none, as BuildKit). Afterwards each is > 0,
 * or -1 for no limit. KILN_E_INVALID for a
 * malformed variable.
 */
int kiln_sandbox_limits_resolve(const struct kiln_sandbox_opts *o, struct kiln_sandbox_opts *ret,
                                struct kiln_error **err);
