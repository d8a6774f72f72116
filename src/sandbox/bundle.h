/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bundle.h - the OCI bundle of a RUN in its state directory: config.json,
 * and the hosts and resolv.conf files it binds into the container.
 */
#pragma once

#include <jansson.h>

#include "sandbox.h"

/*
 * Writes "hosts", "resolv.conf" and "config.json" into o->state_dir (open
 * as statefd) and returns the spec in *ret_spec (the caller unrefs it).
 * Errors: -errno, KILN_E_LIMIT (host resolv.conf too large).
 */
int kiln_sandbox_write_bundle(int statefd, const struct kiln_sandbox_opts *o, json_t **ret_spec,
                              struct kiln_error **err);
