/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build-output.h - `kiln build -o`, --push and --load: buildx's exporter
 * entries (docs/internals/client.md).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"
#include "engine/build.h"

/*
 * Adds the output of one -o VALUE to req: CSV "type=T,key=value,..." (a
 * field may be quoted as in CSV: "name=a,b"), one plain field not starting
 * with type= (a directory: type=local) or "-" (type=tar to stdout). Errors:
 * KILN_E_INVALID naming the key and the values it takes, KILN_E_LIMIT past
 * KILN_BUILD_OUTPUTS_MAX.
 */
int kiln_build_output_parse(const char *value, struct kiln_build_request *req,
                            struct kiln_error **err);

/*
 * After every flag: --push sets push=true on the image outputs (adding one
 * when there is none), --load adds a type=docker output loaded into the
 * local engine unless one is there; oci and tar outputs without dest= go to
 * stdout, which must not be a terminal, and only one output may use it.
 */
int kiln_build_outputs_finish(struct kiln_build_request *req, bool push, bool load,
                              bool stdout_is_tty, struct kiln_error **err);
