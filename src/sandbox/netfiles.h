/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netfiles.h - the /etc/hosts and /etc/resolv.conf a RUN sees, generated as
 * BuildKit does and bound read-only into the container.
 */
#pragma once

#include <stdbool.h>

#include "base/buf.h"
#include "base/error.h"
#include "sandbox.h"

/* Appends the hosts file for `hostname` to out. */
int kiln_sandbox_hosts(const char *hostname, struct kiln_buf *out, struct kiln_error **err);

/*
 * Appends to out the resolv.conf made from the host's `host_conf` (its text):
 * without host networking, nameserver lines naming a loopback address are
 * dropped, since they cannot be reached from a new network namespace. When
 * none is left: slirp4netns's forwarder (10.0.2.3, which asks the host's
 * resolver) for the default network, else Google's public resolvers.
 */
int kiln_sandbox_resolv(const char *host_conf, enum kiln_sandbox_network network,
                        struct kiln_buf *out, struct kiln_error **err);
