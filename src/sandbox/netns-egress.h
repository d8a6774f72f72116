/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netns-egress.h - addresses the default network of RUN never reaches: by
 * default the link-local range, where cloud machines serve their instance
 * metadata and credentials (169.254.169.254), and Alibaba Cloud's metadata
 * address (docs/internals/sandbox.md, "Network").
 */
#pragma once

#include "base/error.h"

/* The denied IPv4 ranges, comma-separated CIDRs; "none" (or empty) denies nothing. */
#define KILN_SANDBOX_EGRESS_ENV     "KILN_RUN_EGRESS_DENY"
#define KILN_SANDBOX_EGRESS_DEFAULT "169.254.0.0/16,100.100.100.200/32"
/* Bytes of nft's own output kept to report why it failed. */
#define KILN_SANDBOX_EGRESS_LOG_MAX 1024

/*
 * The nft command denying $KILN_RUN_EGRESS_DENY (its default when unset):
 * 0 and *ret (NULL when nothing is denied); KILN_E_INVALID naming the
 * variable for anything but IPv4 CIDRs. The caller frees *ret.
 */
int kiln_sandbox_egress_rules(char **ret, struct kiln_error **err);

/*
 * Installs the rules in the network namespace at `netns_path`
 * (/proc/PID/fd/N): an nftables output chain rejecting those destinations
 * (ICMP admin-prohibited, so a connection fails at once), run as
 * `nsenter --net=PATH nft CMD`. The step holds no CAP_NET_ADMIN, so it
 * cannot remove them. KILN_E_NOTFOUND naming the package when nft or
 * nsenter is missing, KILN_E_UPSTREAM with nft's message when it fails.
 */
int kiln_sandbox_egress_deny(const char *netns_path, struct kiln_error **err);
