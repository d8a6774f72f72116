/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ssh-forward.h - a step's own ssh agent socket (docs/internals/run-mounts.md):
 * a listening unix socket with the mount's owner and mode, and a thread that
 * connects each client to the real agent and copies bytes both ways, as
 * BuildKit's sshforward gives RUN --mount=type=ssh a socket of its own.
 *
 *   struct kiln_ssh_forward *f;
 *   kiln_ssh_forward_start(dirfd, "ssh-0", "/tmp/ssh-X/agent.1", 1000, 1000, 0600, &f, &err);
 *   ... bind DIR/ssh-0 into the step, run it ...
 *   kiln_ssh_forward_stop(f);
 */
#pragma once

#include <sys/types.h>

#include "base/error.h"

/* Connections one forwarding socket serves at once (more wait in the backlog). */
#define KILN_SSH_FORWARD_CONN_MAX 64u
/* Bytes buffered per direction of a connection. */
#define KILN_SSH_FORWARD_BUF 16384u

struct kiln_ssh_forward;

/*
 * Creates the unix socket `name` (one path component) in the directory
 * `dirfd`, owned by uid:gid with `mode`, and starts the thread that forwards
 * each connection to the agent listening at `agent`. A connection lasts
 * until both sides have closed their writing end, or either fails; a client
 * the agent refuses is closed at once. Errors: KILN_E_INVALID for an agent
 * path too long for a unix socket, -errno.
 */
int kiln_ssh_forward_start(int dirfd, const char *name, const char *agent, uid_t uid, gid_t gid,
                           mode_t mode, struct kiln_ssh_forward **ret, struct kiln_error **err);

/*
 * Stops accepting, closes every connection, joins the thread and removes
 * the socket: nothing of the forwarder is left. Accepts NULL.
 */
void kiln_ssh_forward_stop(struct kiln_ssh_forward *f);
