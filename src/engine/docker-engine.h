/* SPDX-License-Identifier: Apache-2.0 */
/*
 * docker-engine.h - what the local Docker engine already holds, so --load
 * sends only the layers it lacks (docs/internals/export.md).
 */
#pragma once

#include "base/strv.h"

/* Chain ids asked of the engine at most (one per layer of each name). */
#define KILN_DOCKER_CHAINS_MAX 4096u

/*
 * Adds to *chains the chain id of every layer prefix of the images the
 * engine at `host` (docker-host.h) has under `names` (as tagged, e.g. the
 * build's -t names). Best effort: an engine that does not answer, an image
 * it lacks, or an engine whose images live in containerd's store (its load
 * reads every blob of the tar) add nothing.
 */
void kiln_docker_engine_chains(const char *host, const struct kiln_strv *names,
                               struct kiln_strv *chains);
