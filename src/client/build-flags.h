/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build-flags.h - the `kiln build` command line, read as buildx reads it,
 * into a build request (docs/internals/client.md).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/error.h"
#include "engine/build.h"

/* Caps on what a command line may ask for: values of one repeatable flag (-t,
 * --build-arg, ...), and outputs (-o, --push and --load together). */
#define KILN_BUILD_FLAG_VALUES_MAX 4096u
#define KILN_BUILD_OUTPUTS_MAX     16u

/* What the command itself does with its flags (not part of the request). */
struct kiln_build_cli {
    enum kiln_progress_mode progress; /* --progress, else $BUILDKIT_PROGRESS, else auto */
    bool quiet;                       /* -q: progress quiet, the image id on stdout */
    bool help;
    bool dry_run;              /* --dry-run-request: print the request as JSON, build nothing */
    const char *metadata_file; /* argv's */
    const char *iidfile;       /* argv's */
    const char *builder_name;  /* --builder (argv's): kiln_builder_select() picks the builder */
};

/*
 * Parses argv (argv[0] is "build") into *req and *cli. `in` is where
 * `-f -` reads the Dockerfile (stdin; at most KILN_DOCKERFILE_MAX bytes).
 * The caller releases req (kiln_build_request_release) in every case.
 * Errors: KILN_E_INVALID naming the flag and what to write instead,
 * KILN_E_LIMIT past the caps above, -errno reading `in`.
 */
int kiln_build_flags_parse(int argc, char **argv, FILE *in, struct kiln_build_request *req,
                           struct kiln_build_cli *cli, struct kiln_error **err);

/* The request as JSON (what --dry-run-request prints). Caller decrefs. */
json_t *kiln_build_request_json(const struct kiln_build_request *req,
                                const struct kiln_build_cli *cli);
