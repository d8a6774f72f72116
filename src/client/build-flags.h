/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build-flags.h - `kiln build` command line into a build request.
 */
#pragma once

#include <stdbool.h>

#include "base/error.h"
#include "engine/build.h"

/* What the command itself does with its flags (not part of the request). */
struct kiln_build_cli {
    enum kiln_progress_mode progress;
    bool quiet;
    bool help;
    const char *metadata_file;
    const char *iidfile;
};

/*
 * Parses argv (argv[0] is "build") into *req and *cli. The caller releases
 * req (kiln_build_request_release) in every case. Errors: KILN_E_INVALID
 * naming the flag and what to write instead.
 */
int kiln_build_flags_parse(int argc, char **argv, struct kiln_build_request *req,
                           struct kiln_build_cli *cli, struct kiln_error **err);
