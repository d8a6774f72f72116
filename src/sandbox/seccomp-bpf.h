/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp-bpf.h - the step's seccomp filter as a ready program: crun loads
 * it from the annotation run.oci.seccomp_bpf_data instead of compiling
 * linux.seccomp at every start (docs/internals/sandbox.md, "Seccomp").
 */
#pragma once

/* The annotation crun (1.0 and later) loads the filter from; runc ignores it. */
#define KILN_SANDBOX_SECCOMP_BPF_ANNOTATION "run.oci.seccomp_bpf_data"

/*
 * kiln_sandbox_seccomp()'s filter compiled with libseccomp exactly as crun
 * compiles linux.seccomp (the same program, byte for byte), in base64;
 * compiled at the first call and kept for the process. NULL when there is
 * no filter (KILN_RUN_SECCOMP=unconfined at that first call) or it cannot
 * be compiled here: crun then compiles linux.seccomp itself, as before.
 */
const char *kiln_sandbox_seccomp_bpf(void);
