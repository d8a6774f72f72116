/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloud-build.h - `kiln build` on a cloud builder: the request and the
 * context go to kilnd, the progress comes back and is shown as the local
 * driver shows it, then the outputs that stream back are written where
 * they were asked for (docs/internals/client-cloud.md).
 */
#pragma once

#include <jansson.h>

#include "build-flags.h"
#include "builders.h"
#include "cloud-http.h"

/* Runs the build on builder `b`; returns the exit code (0, 1 failed, 2 usage). */
int kiln_cloud_build_run(struct kiln_build_request *req, const struct kiln_build_cli *cli,
                         const struct kiln_builder_entry *b);

/*
 * After a build that succeeded: fetches its output (GET /v1/builds/ID/output)
 * into what req's outputs name (a file, stdout, a directory for type=local,
 * or the local Docker engine for a load), and writes --metadata-file and
 * --iidfile from `result` (the build's "result" event). `load_host`: the
 * Docker engine to load into when the output is a load (engine/docker-host.h;
 * NULL: none).
 */
int kiln_cloud_output_fetch(struct kiln_cloud *c, const char *id,
                            const struct kiln_build_request *req, const char *load_host,
                            struct kiln_error **err);
int kiln_cloud_result_report(const struct kiln_build_cli *cli, json_t *result,
                             const char *build_ref, struct kiln_error **err);
