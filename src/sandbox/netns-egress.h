/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netns-egress.h - addresses the default network of RUN never reaches: by
 * default the link-local range, where cloud machines serve their instance
 * metadata and credentials (169.254.169.254), and Alibaba Cloud's metadata
 * address (docs/internals/sandbox.md, "Network").
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* The denied IPv4 ranges, comma-separated CIDRs; "none" (or empty) denies nothing. */
#define KILN_SANDBOX_EGRESS_ENV     "KILN_RUN_EGRESS_DENY"
#define KILN_SANDBOX_EGRESS_DEFAULT "169.254.0.0/16,100.100.100.200/32"
/* Ranges one variable may name. */
#define KILN_SANDBOX_EGRESS_MAX 64

struct kiln_sandbox_egress {
    size_t n;
    struct {
        uint32_t addr; /* network byte order, host bits cleared */
        uint8_t bits;
    } v[KILN_SANDBOX_EGRESS_MAX];
};

/*
 * The ranges of $KILN_RUN_EGRESS_DENY (its default when unset; none for
 * "none" or ""): 0 and *ret; KILN_E_INVALID naming the variable for
 * anything but IPv4 CIDRs, or more than KILN_SANDBOX_EGRESS_MAX of them.
 */
int kiln_sandbox_egress_get(struct kiln_sandbox_egress *ret, struct kiln_error **err);

/*
 * Adds an "unreachable" route for each range to the network namespace of
 * the calling thread (rtnetlink, as `ip route add unreachable CIDR`): a
 * connection there fails at once with EHOSTUNREACH ("No route to host"),
 * and the more specific route wins over the default one slirp4netns adds.
 * The step holds no CAP_NET_ADMIN, so it cannot take them out. -errno.
 */
int kiln_sandbox_egress_routes(const struct kiln_sandbox_egress *e);
