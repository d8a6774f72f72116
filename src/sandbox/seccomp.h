/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp.h - the system call filter of a RUN: linux.seccomp of config.json,
 * refusing what Docker's default profile refuses the sandbox's capabilities
 * (docs/internals/sandbox.md, "Seccomp").
 */
#pragma once

#include <jansson.h>

#include "base/error.h"

/* The builder operator's way out: KILN_RUN_SECCOMP=unconfined runs steps without the filter. */
#define KILN_SANDBOX_SECCOMP_ENV        "KILN_RUN_SECCOMP"
#define KILN_SANDBOX_SECCOMP_UNCONFINED "unconfined"

/*
 * The linux.seccomp object for config.json (a new reference, the caller's),
 * or NULL when KILN_RUN_SECCOMP is "unconfined". It refuses (EPERM) what
 * Docker's default profile refuses a process with spec.c's capabilities:
 * namespaces and mounts, keyrings, bpf, perf_event_open, userfaultfd,
 * modules, kexec, the clock, io_uring, other personalities; clone with a
 * namespace flag; clone3 fails with ENOSYS so libc falls back to clone.
 */
json_t *kiln_sandbox_seccomp(void);

/*
 * Checks KILN_RUN_SECCOMP: unset, empty, "default" or "unconfined" are 0;
 * anything else is KILN_E_INVALID naming the variable (the filter would stay
 * on, but a misspelt way out should not pass unnoticed).
 */
int kiln_sandbox_seccomp_check(struct kiln_error **err);
