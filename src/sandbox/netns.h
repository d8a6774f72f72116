/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netns.h - RUN's default network: a fresh network namespace with outbound
 * network through slirp4netns, which cannot reach the host's loopback
 * (docs/internals/sandbox.md, "Network").
 */
#pragma once

#include <sys/types.h>

#include "base/error.h"

/* How long slirp4netns may take to bring the namespace's interface up. */
#define KILN_SANDBOX_NETNS_START_MS 10000

/* Bytes of slirp4netns's own output kept to report why it failed. */
#define KILN_SANDBOX_NETNS_LOG_MAX 4096

/* slirp4netns's MTU, the largest it takes (as RootlessKit sets it). */
#define KILN_SANDBOX_NETNS_MTU "65520"

/* slirp4netns's DNS forwarder inside the namespace; it asks the host's resolver. */
#define KILN_SANDBOX_NETNS_DNS "10.0.2.3"

struct kiln_sandbox_netns {
    int fd;        /* the namespace (nsfs), O_CLOEXEC; -1 when closed */
    pid_t slirp;   /* slirp4netns, our child; 0 when none */
    int exit_fd;   /* write end of slirp4netns's --exit-fd pipe: it exits when we do */
    char path[64]; /* "/proc/<pid>/fd/<fd>": the namespace by path, for runc to join */
};

#define KILN_SANDBOX_NETNS_INIT \
    {                           \
        .fd = -1, .exit_fd = -1 \
    }

/*
 * Makes a new network namespace (lo and tap0 up, 10.0.2.100/24, default
 * route via 10.0.2.2, DNS at 10.0.2.3, no route to the ranges of
 * $KILN_RUN_EGRESS_DENY: netns-egress.h) and starts slirp4netns on it with
 * the host's loopback disabled; returns once the interface is up. No mount is
 * made: the namespace lives while ns->fd is open. cancel_fd (-1: none)
 * readable stops the wait. The caller closes it with
 * kiln_sandbox_netns_close(). Errors: KILN_E_NOTFOUND (slirp4netns missing:
 * what to install, or RUN --network=none), KILN_E_TIMEOUT,
 * KILN_E_CANCELLED, KILN_E_UPSTREAM (slirp4netns failed: its message), -errno.
 */
int kiln_sandbox_netns_open(struct kiln_sandbox_netns *ret, int cancel_fd, struct kiln_error **err);

/*
 * Kills slirp4netns and drops the namespace; a detached thread reaps it, as
 * its exit waits for the kernel to remove the tap device (about 30 ms).
 * Accepts a closed one.
 */
void kiln_sandbox_netns_close(struct kiln_sandbox_netns *ns);
