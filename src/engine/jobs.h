/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jobs.h - n independent jobs on a few threads: each worker sets up its own
 * state (a store handle, a registry client), takes jobs in order until none
 * is left or one failed, then tears its state down.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

typedef int kiln_job_init_fn(void *shared, void **ret_local, struct kiln_error **err);
typedef void kiln_job_fini_fn(void *local);
typedef int kiln_job_fn(void *shared, void *local, size_t i, struct kiln_error **err);

/*
 * Runs fn(shared, local, i) for every i in [0, n) on up to `workers`
 * threads (skipping those skip[i] marks, when skip is not NULL). Returns 0,
 * or the first failure with its error.
 */
int kiln_jobs_run(size_t n, const bool *skip, unsigned workers, kiln_job_init_fn *init,
                  kiln_job_fini_fn *fini, kiln_job_fn *fn, void *shared, struct kiln_error **err);
