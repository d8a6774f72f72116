/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits.c - a step's pids limit and disk reserve from its options, the
 * environment and the defaults (docs/internals/sandbox.md, "Limits").
 */
#include "limits.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/human.h"

#include "base/banned.h"

static int pids_from_env(int64_t *ret, struct kiln_error **err)
{
    const char *v = getenv(KILN_SANDBOX_PIDS_ENV);
    if (!v || !*v) {
        *ret = KILN_SANDBOX_PIDS_DEFAULT;
        return 0;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || end == v || n < 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "%s='%s' is not a process count; give a whole number such as "
                              "4096, or 0 for no limit",
                              KILN_SANDBOX_PIDS_ENV, v);
    *ret = n == 0 ? -1 : n;
    return 0;
}

/* KILN_RUN_CPUS: CPUs as a decimal ("1.5"), in thousandths; unset, empty or 0: none (-1). */
static int cpus_from_env(int64_t *ret, struct kiln_error **err)
{
    const char *v = getenv(KILN_SANDBOX_CPUS_ENV);
    *ret = -1;
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    double cpus = strtod(v, &end);
    if (errno || *end || end == v || !(cpus >= 0) || cpus > KILN_SANDBOX_CPUS_MAX ||
        (cpus > 0 && cpus < 0.01))
        return kiln_error_set(err, KILN_E_INVALID,
                              "%s='%s' is not a number of CPUs; give one such as 2 or 0.5 (at "
                              "least 0.01), or 0 for no limit",
                              KILN_SANDBOX_CPUS_ENV, v);
    if (cpus > 0)
        *ret = (int64_t)(cpus * 1000 + 0.5);
    return 0;
}

static uint64_t percent(uint64_t total, uint64_t pct)
{
    return total / 100 * pct + total % 100 * pct / 100;
}

/* What one amount is counted in: bytes (a size such as 2GiB) or inodes (a count). */
struct amount_kind {
    const char *env;
    bool bytes;
    unsigned default_percent; /* of the total, when the variable is unset; 0: none */
    uint64_t min;             /* the default's floor */
    const char *example, *none;
};

static const struct amount_kind disk = {KILN_SANDBOX_RESERVE_ENV,
                                        true,
                                        KILN_SANDBOX_RESERVE_PERCENT,
                                        KILN_SANDBOX_RESERVE_MIN,
                                        "a size or a percentage; give one such as 2GiB or 10%",
                                        "keep no free space"};
static const struct amount_kind inodes = {KILN_SANDBOX_INODES_ENV,
                                          false,
                                          KILN_SANDBOX_RESERVE_PERCENT,
                                          0,
                                          "a count or a percentage; give one such as 100000 or "
                                          "10%",
                                          "keep no inodes free"};
static const struct amount_kind memory = {KILN_SANDBOX_MEMORY_ENV,
                                          true,
                                          0,
                                          0,
                                          "a size or a percentage of the builder's memory; give "
                                          "one such as 4GiB or 50%",
                                          "set no limit"};

/* A percentage "N%" of total, or an amount; unset: the default percentage (at least k->min); 0
 * gives -1 (none). */
static int amount_from_env(const struct amount_kind *k, uint64_t total, int64_t *ret,
                           struct kiln_error **err)
{
    const char *v = getenv(k->env);
    uint64_t n;
    size_t len = v ? strlen(v) : 0;
    char *end;
    errno = 0;
    if (len > 1 && v[len - 1] == '%') {
        unsigned long pct = strtoul(v, &end, 10);
        if (errno || end != v + len - 1 || pct > 100 || v[0] == '-')
            goto bad;
        n = percent(total, pct);
    } else if (len > 0 && k->bytes) {
        if (kiln_parse_size(v, &n) < 0 || n > INT64_MAX)
            goto bad;
    } else if (len > 0) {
        n = strtoull(v, &end, 10);
        if (errno || *end || v[0] == '-' || n > INT64_MAX)
            goto bad;
    } else {
        n = percent(total, k->default_percent);
        if (n < k->min && k->default_percent)
            n = k->min;
    }
    *ret = n == 0 ? -1 : (int64_t)n;
    return 0;
bad:
    return kiln_error_set(err, KILN_E_INVALID, "%s='%s' is not %s, or 0 to %s", k->env, v,
                          k->example, k->none);
}

int kiln_sandbox_limits_resolve(const struct kiln_sandbox_opts *o, struct kiln_sandbox_opts *ret,
                                struct kiln_error **err)
{
    *ret = *o;
    int r = 0;
    if (!o->pids_max)
        r = pids_from_env(&ret->pids_max, err);
    if (r >= 0 && !o->cpu_millis)
        r = cpus_from_env(&ret->cpu_millis, err);
    if (r >= 0 && !o->memory_max)
        r = amount_from_env(&memory,
                            (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE),
                            &ret->memory_max, err);
    if (r < 0 || (o->disk_reserve && o->inode_reserve))
        return r;
    struct statvfs fs;
    if (statvfs(o->rootfs, &fs) < 0)
        return kiln_error_set_errno(err, -errno, "cannot look at the free space where '%s' lies",
                                    o->rootfs);
    if (!o->disk_reserve)
        r = amount_from_env(&disk, (uint64_t)fs.f_blocks * fs.f_frsize, &ret->disk_reserve, err);
    if (r >= 0 && !o->inode_reserve) /* a filesystem that counts no inodes (btrfs) has none */
        r = fs.f_files ? amount_from_env(&inodes, fs.f_files, &ret->inode_reserve, err)
                       : (ret->inode_reserve = -1, 0);
    return r;
}
