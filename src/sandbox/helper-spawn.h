/* SPDX-License-Identifier: Apache-2.0 */
/*
 * helper-spawn.h - a helper process of the sandbox (the OCI runtime, slirp4netns)
 * started the same way: its own process group, default signals, stdin from
 * /dev/null, chosen fds and nothing else.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/*
 * Starts argv (argv[0] looked up in PATH when it holds no '/'); fds[i]
 * becomes the child's fd i + 1 (stdout, stderr, then 3, 4, ...), every
 * other fd is closed. Returns 0 and *ret_pid, or -errno.
 */
int kiln_sandbox_spawn(const char *const *argv, const int *fds, size_t n_fds, pid_t *ret_pid);
