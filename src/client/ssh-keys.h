/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ssh-keys.h - `--ssh ID=KEYFILE`, as buildx takes it: an ssh-agent of
 * kiln's own holds the key for the build, and RUN --mount=type=ssh reaches
 * it like any agent (docs/internals/client.md, "SSH keys").
 */
#pragma once

#include "base/error.h"
#include "engine/build.h"

struct kiln_ssh_keys;

/*
 * For each --ssh entry of req naming a key file, starts `ssh-agent -D` on a
 * socket in a private directory, loads the key with `ssh-add`, and sets the
 * entry's socket. *ret (NULL when there is nothing to start) is stopped with
 * kiln_ssh_keys_stop(). Errors: KILN_E_NOTFOUND when ssh-agent or ssh-add is
 * missing (what to install); KILN_E_INVALID with ssh-add's own message when
 * it cannot load a key (a passphrase asked for without a terminal, not a
 * key); -errno. Nothing is left running after an error.
 */
int kiln_ssh_keys_start(struct kiln_build_request *req, struct kiln_ssh_keys **ret,
                        struct kiln_error **err);

/* Stops the agents and removes their sockets; accepts NULL. */
void kiln_ssh_keys_stop(struct kiln_ssh_keys *k);
