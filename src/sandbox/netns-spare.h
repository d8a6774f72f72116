/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netns-spare.h - RUN's default network made one step ahead: each step
 * takes a namespace that was set up while the previous one ran, and the
 * next is started in the background (docs/internals/sandbox.md, "Network").
 */
#pragma once

#include "netns.h"

/*
 * A fresh namespace, as kiln_sandbox_netns_open() makes it: the spare when
 * one is ready (or being made: then waited for), else one made now; in
 * either case the next spare is started in the background. A namespace is
 * never handed out twice. A spare that failed is dropped and one is made
 * now, so errors are reported as kiln_sandbox_netns_open() reports them.
 * The caller closes it with kiln_sandbox_netns_close().
 */
int kiln_sandbox_netns_take(struct kiln_sandbox_netns *ret, int cancel_fd, struct kiln_error **err);

/* Closes the spare, waiting for one being made; a later take starts again. */
void kiln_sandbox_netns_drop_spare(void);
