/* SPDX-License-Identifier: Apache-2.0 */
/*
 * binfmt.c - foreign RUN steps need an emulator registered in binfmt_misc
 * (docs/internals/engine.md, "Several platforms").
 */
#include "binfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"

#include "base/banned.h"

static const char *str(const char *s)
{
    return s ? s : "";
}

const char *kiln_binfmt_qemu_arch(const struct kiln_oci_platform *p)
{
    static const struct {
        const char *arch, *qemu;
    } names[] = {
            {"amd64", "x86_64"},        {"386", "i386"},
            {"arm64", "aarch64"},       {"arm", "arm"},
            {"ppc64le", "ppc64le"},     {"ppc64", "ppc64"},
            {"s390x", "s390x"},         {"riscv64", "riscv64"},
            {"mips64le", "mips64el"},   {"mips64", "mips64"},
            {"mipsle", "mipsel"},       {"mips", "mips"},
            {"loong64", "loongarch64"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(str(p->architecture), names[i].arch) == 0)
            return names[i].qemu;
    return NULL;
}

/* What the host's CPU runs without an emulator. */
static bool native(const struct kiln_oci_platform *host, const struct kiln_oci_platform *p)
{
    const char *h = str(host->architecture), *a = str(p->architecture);
    return strcmp(h, a) == 0 || (strcmp(h, "amd64") == 0 && strcmp(a, "386") == 0) ||
           (strcmp(h, "arm64") == 0 && strcmp(a, "arm") == 0);
}

/* Whether file `name` in dir starts with "enabled" (the kernel's first line). */
static bool enabled(const char *dir, const char *name)
{
    _cleanup_free_ char *path = kiln_xasprintf("%s/%s", dir, name);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    char buf[16] = "";
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return strncmp(buf, "enabled", strlen("enabled")) == 0;
}

int kiln_binfmt_check(const char *dir, const struct kiln_oci_platform *host,
                      const struct kiln_oci_platform *p, struct kiln_error **err)
{
    if (strcmp(str(host->os), str(p->os)) == 0 && native(host, p))
        return 0;
    _cleanup_free_ char *name = kiln_oci_platform_format(p);
    if (strcmp(str(p->os), "linux") != 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "cannot run %s RUN steps on a %s host: build for linux, or keep "
                              "RUN in stages FROM --platform=$BUILDPLATFORM",
                              name, str(host->os));
    const char *qemu = kiln_binfmt_qemu_arch(p);
    if (!qemu)
        return kiln_error_set(err, KILN_E_INVALID,
                              "cannot run %s RUN steps: qemu has no emulator for '%s'; keep RUN "
                              "in stages FROM --platform=$BUILDPLATFORM",
                              name, str(p->architecture));
    _cleanup_free_ char *handler = kiln_xasprintf("qemu-%s", qemu);
    if (enabled(dir, "status") && enabled(dir, handler))
        return 0;
    return kiln_error_set(err, KILN_E_INVALID,
                          "cannot run %s RUN steps: no binfmt_misc handler for %s; install "
                          "qemu-user-static (apt-get install qemu-user-static)",
                          name, qemu);
}
