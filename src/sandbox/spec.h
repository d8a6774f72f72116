/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spec.h - the OCI runtime spec (config.json) of a RUN, as BuildKit's
 * executor writes it.
 */
#pragma once

#include <jansson.h>

#include "sandbox.h"

/* The spec for o, with /etc/hosts and /etc/resolv.conf bound from `hosts` and `resolv`. */
json_t *kiln_sandbox_spec(const struct kiln_sandbox_opts *o, const char *hosts, const char *resolv);
