/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.h - RUN's process in an OCI runtime (runc): its own pid, ipc, uts,
 * mount and (unless host) network namespaces, BuildKit's default
 * capabilities, generated /etc/hosts and /etc/resolv.conf; the whole tree
 * killed on timeout or cancel. What the sandbox itself needs in the rootfs
 * (mount points) is removed afterwards, so the rootfs shows only what the
 * process wrote.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "userns.h"

enum kiln_sandbox_network {
    KILN_SANDBOX_NET_NONE, /* a new network namespace with loopback only */
    KILN_SANDBOX_NET_HOST,
    /* a new network namespace with outbound network through slirp4netns, without the host's
       loopback (netns.h) */
    KILN_SANDBOX_NET_DEFAULT,
};

typedef void kiln_sandbox_output_fn(void *userdata, int stream, const char *data, size_t len);

/* A mount besides the standard ones: a host directory bound in, or a tmpfs. */
struct kiln_sandbox_mount {
    const char *source; /* a host directory; NULL: a tmpfs */
    const char *target; /* absolute, inside the container */
    bool readonly;
    int64_t size; /* tmpfs: bytes, 0 for the kernel's default */
    bool mapped;  /* with o->userns: the source already shows the mapped ids (not idmapped again) */
};

struct kiln_sandbox_opts {
    const char *rootfs;      /* a writable directory */
    const char *const *argv; /* NULL-terminated, run as is */
    const char *const *env;  /* NULL-terminated "K=V": exactly the process environment */
    const char *cwd;         /* absolute; created when missing (0755, uid:gid) */
    uint32_t uid, gid;
    const uint32_t *groups;
    size_t n_groups;
    const struct kiln_sandbox_mount *mounts; /* RUN --mount: cache and tmpfs mounts */
    size_t n_mounts;
    enum kiln_sandbox_network network;
    const char *netns; /* KILN_SANDBOX_NET_DEFAULT: a namespace to join by path; NULL: a new one */
    const char *hostname;  /* NULL: "buildkitsandbox" */
    const char *state_dir; /* an empty private directory for the bundle */
    const char *runtime;   /* NULL: $KILN_OCI_RUNTIME, else crun where it works, else runc
                              (runtime-select.h) */
    int64_t timeout_ns;    /* 0: none; past it the tree is killed: KILN_E_TIMEOUT */
    int cancel_fd;         /* -1: none; readable means cancel: KILN_E_CANCELLED */
    int64_t pids_max;      /* 0: KILN_RUN_PIDS_MAX or 4096; -1: none (limits.h) */
    int64_t disk_reserve;  /* bytes kept free where rootfs lies; 0: KILN_RUN_DISK_RESERVE or
                              max(1 GiB, 5%); -1: none */
    int64_t inode_reserve; /* inodes kept free there; 0: KILN_RUN_INODE_RESERVE or 5%; -1: none */
    int64_t memory_max;    /* bytes of memory; 0: KILN_RUN_MEMORY_MAX or none; -1: none. Past any
                              limit but CPU: KILN_E_LIMIT */
    int64_t cpu_millis;    /* thousandths of a CPU the step may use; 0: KILN_RUN_CPUS or none; -1:
                              none. Past it the kernel makes the step wait */
    /* a user namespace for the step (userns.h), NULL: none. rootfs must then be mounted
       through it (kiln_mount_state_mapped); other bind sources are idmapped here */
    const struct kiln_sandbox_userns *userns;
    const char *cgroups_path; /* set by kiln_sandbox_run: linux.cgroupsPath; NULL: the runtime's */
    kiln_sandbox_output_fn *output;
    void *output_userdata;
};

/*
 * Runs the process to its end: 0 and *ret_exit_code (its status, or 128 +
 * the signal that killed it). Errors: KILN_E_NOTFOUND when the runtime is
 * missing, KILN_E_TIMEOUT, KILN_E_CANCELLED, KILN_E_LIMIT (the pids limit
 * or the disk reserve was hit and the tree killed), -errno.
 */
int kiln_sandbox_run(const struct kiln_sandbox_opts *o, int *ret_exit_code,
                     struct kiln_error **err);
