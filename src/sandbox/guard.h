/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guard.h - watches a running step against its limits (limits.h): the
 * cgroup's pids.events for a fork refused at the pids limit, and the free
 * space and inodes of the filesystem holding its rootfs; and it notes the
 * processes the kernel killed at the memory limit, to name it when the step
 * fails (docs/internals/sandbox.md,
 * "Limits").
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "sandbox.h"

enum kiln_sandbox_limit_hit {
    KILN_SANDBOX_HIT_NONE,
    KILN_SANDBOX_HIT_PIDS,   /* a fork failed at the pids limit */
    KILN_SANDBOX_HIT_DISK,   /* free space went under the reserve */
    KILN_SANDBOX_HIT_INODES, /* free inodes went under theirs */
};

/* Watches one running container against the resolved limits of its options. */
struct kiln_sandbox_guard {
    const struct kiln_sandbox_opts *o;
    char *pid_file;    /* the runtime's --pid-file: the container's first process; NULL without a
                          pids or memory limit */
    char *pids_events; /* its cgroup's pids.events, once the process was seen */
    char *oom_events;  /* its memory cgroup's OOM kill count (v1 memory.oom_control, v2
                          memory.events), once seen */
    int64_t next_ns;   /* when to look again; 0: nothing to watch */
    enum kiln_sandbox_limit_hit hit;
    uint64_t free_bytes;  /* free space when the disk limit was hit */
    uint64_t free_inodes; /* free inodes when theirs was */
    long long oom_kills;  /* processes the kernel killed at the memory limit, as last seen */
};

/*
 * The cgroup of process `pid` in the hierarchy of `controller` ("pids",
 * "memory"): its "N:...,controller,...:PATH" line of /proc/PID/cgroup
 * under cgroup v1 (*ret_v1 true), else its "0::PATH" line under v2; NULL
 * when there is neither. The caller frees it.
 */
char *kiln_sandbox_cgroup_of(pid_t pid, const char *controller, bool *ret_v1);

/*
 * o's limits must be resolved; pid_file is where the runtime writes the
 * container's first process (`run --pid-file`, runc and crun alike), whose
 * pids cgroup is the container's, wherever the runtime put it.
 */
void kiln_sandbox_guard_init(struct kiln_sandbox_guard *g, const struct kiln_sandbox_opts *o,
                             const char *pid_file, int64_t now_ns);
void kiln_sandbox_guard_release(struct kiln_sandbox_guard *g);

/* Looks when due (at now_ns >= g->next_ns, or always with force); true once a limit is hit. */
bool kiln_sandbox_guard_check(struct kiln_sandbox_guard *g, int64_t now_ns, bool force);

/* The error for a hit limit, naming it and how to change it: KILN_E_LIMIT. */
int kiln_sandbox_guard_error(const struct kiln_sandbox_guard *g, struct kiln_error **err);

/*
 * The error for a step that failed with exit_code after the guard saw the
 * kernel kill one of its processes at the memory limit (g->oom_kills > 0):
 * KILN_E_LIMIT naming the limit and KILN_RUN_MEMORY_MAX. A step that
 * survives such a kill passes, as under Docker's memory limit; one whose
 * kill came after the guard's last look fails with its exit code alone.
 */
int kiln_sandbox_guard_oom_error(const struct kiln_sandbox_guard *g, int exit_code,
                                 struct kiln_error **err);
