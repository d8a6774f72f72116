/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp-bpf.c - the step's seccomp filter compiled once per process, the
 * way crun compiles linux.seccomp, for crun to load as it is
 * (docs/internals/sandbox.md, "Seccomp").
 */
#include "seccomp-bpf.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/cleanup.h"
#include "oci/json.h"
#include "seccomp.h"

#include "base/banned.h"

#define ARCH_PREFIX "SCMP_ARCH_"

/* "SCMP_ARCH_X86_64" as libseccomp names it ("x86_64"), 0 when it does not know it. */
static uint32_t arch_token(const char *name)
{
    if (strncmp(name, ARCH_PREFIX, strlen(ARCH_PREFIX)) == 0)
        name += strlen(ARCH_PREFIX);
    char lower[32];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof(lower); i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    lower[i] = '\0';
    return seccomp_arch_resolve_name(lower);
}

static int compare_op(const char *op)
{
    static const struct {
        const char *name;
        enum scmp_compare op;
    } ops[] = {{"SCMP_CMP_NE", SCMP_CMP_NE},
               {"SCMP_CMP_LT", SCMP_CMP_LT},
               {"SCMP_CMP_LE", SCMP_CMP_LE},
               {"SCMP_CMP_EQ", SCMP_CMP_EQ},
               {"SCMP_CMP_GE", SCMP_CMP_GE},
               {"SCMP_CMP_GT", SCMP_CMP_GT},
               {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
    for (size_t i = 0; op && i < ELEMENTSOF(ops); i++)
        if (strcmp(op, ops[i].name) == 0)
            return (int)ops[i].op;
    return -EINVAL;
}

/* One rule of linux.seccomp: every name, with its argument comparisons (one per index). */
static int add_rule(scmp_filter_ctx ctx, const json_t *rule)
{
    const char *action = json_string_value(json_object_get(rule, "action"));
    if (!action || strcmp(action, "SCMP_ACT_ERRNO") != 0)
        return -EINVAL; /* kiln's list refuses with an errno and nothing else */
    json_t *ret = json_object_get(rule, "errnoRet");
    uint32_t act = SCMP_ACT_ERRNO(ret ? (uint16_t)json_integer_value(ret) : EPERM);
    json_t *args = json_object_get(rule, "args");
    struct scmp_arg_cmp cmp[6];
    size_t n = json_array_size(args);
    if (n > ELEMENTSOF(cmp))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(args, i);
        int op = compare_op(json_string_value(json_object_get(a, "op")));
        if (op < 0)
            return op;
        cmp[i] = (struct scmp_arg_cmp){
                .arg = (unsigned)json_integer_value(json_object_get(a, "index")),
                .op = (enum scmp_compare)op,
                .datum_a = (scmp_datum_t)json_integer_value(json_object_get(a, "value")),
                .datum_b = (scmp_datum_t)json_integer_value(json_object_get(a, "valueTwo"))};
        for (size_t j = 0; j < i; j++)
            if (cmp[j].arg == cmp[i].arg)
                return -EINVAL; /* crun splits such a rule; kiln's list has none */
    }
    size_t k;
    json_t *name;
    json_array_foreach (json_object_get(rule, "names"), k, name) {
        int nr = seccomp_syscall_resolve_name(json_string_value(name));
        if (nr == __NR_SCMP_ERROR)
            continue; /* a name this libseccomp does not know is left out, as crun does */
        int r = seccomp_rule_add_array(ctx, act, nr, (unsigned)n, n ? cmp : NULL);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Compiles `filter` (linux.seccomp) into the program crun would make of it. */
static int compile(const json_t *filter, struct kiln_buf *out)
{
    const char *dflt = json_string_value(json_object_get(filter, "defaultAction"));
    if (!dflt || strcmp(dflt, "SCMP_ACT_ALLOW") != 0)
        return -EINVAL;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return -ENOMEM;
    int r = 0;
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(filter, "architectures"), i, v) {
        uint32_t arch = arch_token(json_string_value(v));
        r = arch ? seccomp_arch_add(ctx, arch) : -EINVAL;
        if (r == -EEXIST)
            r = 0;
        if (r < 0)
            break;
    }
    json_array_foreach (json_object_get(filter, "syscalls"), i, v) {
        if (r < 0 || (r = add_rule(ctx, v)) < 0)
            break;
    }
    int fd = r < 0 ? -1 : memfd_create("kiln-seccomp", MFD_CLOEXEC);
    if (r >= 0 && fd < 0)
        r = -errno;
    if (r >= 0)
        r = seccomp_export_bpf(ctx, fd);
    if (r >= 0 && lseek(fd, 0, SEEK_SET) < 0)
        r = -errno;
    if (r >= 0)
        r = kiln_buf_read_fd(out, fd);
    if (fd >= 0)
        close(fd);
    seccomp_release(ctx);
    return r < 0 ? r : 0;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *program; /* base64, or NULL */

static void compile_once(void)
{
    json_t *filter = kiln_sandbox_seccomp();
    struct kiln_buf b = KILN_BUF_INIT(1 << 20);
    if (filter && compile(filter, &b) == 0 && b.len > 0)
        program = kiln_oci_base64_encode((const uint8_t *)b.buf, b.len);
    kiln_buf_release(&b);
    json_decref(filter);
}

const char *kiln_sandbox_seccomp_bpf(void)
{
    pthread_once(&once, compile_once);
    return program;
}
