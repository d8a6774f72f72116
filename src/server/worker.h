/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker.h - `kilnd worker BUILD_DIR`: runs one build in its own process
 * (docs/internals/server.md). The job comes on stdin as JSON:
 *
 *   {"store": DIR, "builder": "acme/ci", "request": REQUEST, "dockerfile": TEXT,
 *    "context": [ENTRY..], "registry_auth": {HOST: {"username","secret"}},
 *    "cache_max": BYTES}
 *
 * progress goes to stdout as rawjson lines, the outcome to BUILD_DIR/result.json:
 * {"status": "succeeded"|"failed"|"canceled", "error", "line", "image_digest",
 *  "config_digest", "descriptor", "names"}. SIGTERM cancels the build.
 */
#pragma once

int kilnd_worker_main(int argc, char **argv);
