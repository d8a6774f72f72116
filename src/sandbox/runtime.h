/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime.h - the OCI runtime binary (runc, crun) driven from outside: run a
 * bundle in the foreground, kill the container's whole tree, delete it.
 */
#pragma once

#include "sandbox.h"

/*
 * The runtime's path: `name` (NULL: "runc") as it is when it holds a '/',
 * otherwise looked up in PATH. KILN_E_NOTFOUND, saying what to install,
 * when it is missing. The caller frees *ret_path.
 */
int kiln_sandbox_find_runtime(const char *name, char **ret_path, struct kiln_error **err);

struct kiln_sandbox_container {
    const char *runtime; /* path of the binary */
    const char *id;      /* container id, unique on the host */
    const char *bundle;  /* directory holding config.json */
    const char *log;     /* the runtime's own log (JSON lines) */
    bool v1_view;        /* runs with cgroup2 hidden (kiln_sandbox_spawn) */
};

/*
 * Runs the container of c to its end, passing its output to o->output, and
 * kills its process tree when o->timeout_ns passes or o->cancel_fd becomes
 * readable. The container is deleted in every case. Returns 0 and the exit
 * status (128 + signal when killed by one) or KILN_E_TIMEOUT,
 * KILN_E_CANCELLED, KILN_E_INVALID (the runtime refused to start the
 * process: its message), -errno.
 */
int kiln_sandbox_runtime_run(const struct kiln_sandbox_container *c,
                             const struct kiln_sandbox_opts *o, int *ret_exit_code,
                             struct kiln_error **err);
