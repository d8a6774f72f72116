/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build-metadata.h - what `kiln build` writes after a build: buildx's
 * --metadata-file and --iidfile (docs/internals/client.md).
 */
#pragma once

#include "base/error.h"
#include "engine/build.h"

/* The image id buildx prints and writes: the config digest, else the manifest's; "" without. */
const char *kiln_build_image_id(const struct kiln_build_result *res);

/*
 * Writes buildx's metadata file: 2-space-indented JSON with
 * containerimage.digest, containerimage.descriptor,
 * containerimage.config.digest and image.name for what the build has, and
 * buildx.build.ref (BUILDER/NODE/ID) when build_ref is given.
 * The file is replaced atomically (mode 0644). Errors: -errno naming the file.
 */
int kiln_build_metadata_write(const char *path, const struct kiln_build_result *res,
                              const char *build_ref, struct kiln_error **err);

/* Writes the image id to `path` without a newline, as buildx's --iidfile. Errors: -errno. */
int kiln_build_iidfile_write(const char *path, const struct kiln_build_result *res,
                             struct kiln_error **err);

/* A failed build, as buildx reports it: "ERROR: failed to solve: ..." and FILE:LINE when known. */
void kiln_build_print_failure(const struct kiln_build_request *req, const struct kiln_error *e,
                              int r);
