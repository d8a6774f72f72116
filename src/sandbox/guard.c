/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guard.c - a running step checked against its pids limit and disk reserve
 * (docs/internals/sandbox.md, "Limits").
 */
#include "guard.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/human.h"
#include "limits.h"

#include "base/banned.h"

/* Reads a small file whole into buf (NUL-terminated); false when it cannot. */
static bool read_small(const char *path, char *buf, size_t size)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return true;
}

char *kiln_sandbox_pids_cgroup(pid_t pid, bool *ret_v1)
{
    char text[4096];
    _cleanup_free_ char *proc = kiln_xasprintf("/proc/%d/cgroup", (int)pid);
    if (!read_small(proc, text, sizeof(text)))
        return NULL;
    const char *v1 = strstr(text, ":pids:"), *v2 = strstr(text, "0::");
    if (v1 || (v2 && (v2 == text || v2[-1] == '\n'))) {
        const char *path = v1 ? v1 + 6 : v2 + 3;
        if (ret_v1)
            *ret_v1 = v1 != NULL;
        return kiln_xstrndup(path, strcspn(path, "\n"));
    }
    return NULL;
}

/* pids.events of the cgroup of the process in pid_file; NULL while the file or the process is not
 * there. */
static char *pids_events_path(const char *pid_file)
{
    char text[32];
    if (!read_small(pid_file, text, sizeof(text)))
        return NULL;
    bool v1 = false;
    _cleanup_free_ char *cg = kiln_sandbox_pids_cgroup((pid_t)strtol(text, NULL, 10), &v1);
    return cg ? kiln_xasprintf("/sys/fs/cgroup%s%s/pids.events", v1 ? "/pids" : "", cg) : NULL;
}

void kiln_sandbox_guard_init(struct kiln_sandbox_guard *g, const struct kiln_sandbox_opts *o,
                             const char *pid_file, int64_t now_ns)
{
    *g = (struct kiln_sandbox_guard){.o = o};
    if (o->pids_max > 0)
        g->pid_file = kiln_xstrdup(pid_file);
    if (g->pid_file || o->disk_reserve > 0 || o->inode_reserve > 0)
        g->next_ns = now_ns;
}

void kiln_sandbox_guard_release(struct kiln_sandbox_guard *g)
{
    free(g->pid_file);
    free(g->pids_events);
    g->pid_file = g->pids_events = NULL;
}

/* Forks the cgroup refused at its limit ("max N" of pids.events); 0 when it cannot be read. */
static long long pids_refused(const char *path)
{
    char text[256];
    const char *max = read_small(path, text, sizeof(text)) ? strstr(text, "max ") : NULL;
    return max ? strtoll(max + 4, NULL, 10) : 0;
}

bool kiln_sandbox_guard_check(struct kiln_sandbox_guard *g, int64_t now_ns, bool force)
{
    if (g->hit)
        return true;
    if (!g->next_ns || (!force && now_ns < g->next_ns))
        return false;
    g->next_ns = now_ns + KILN_SANDBOX_GUARD_NS;
    if (g->pid_file && !g->pids_events)
        g->pids_events = pids_events_path(g->pid_file);
    if (g->pids_events && pids_refused(g->pids_events) > 0)
        g->hit = KILN_SANDBOX_HIT_PIDS;
    struct statvfs fs;
    bool watch_fs = g->o->disk_reserve > 0 || g->o->inode_reserve > 0;
    if (!g->hit && watch_fs && statvfs(g->o->rootfs, &fs) == 0) {
        uint64_t avail = (uint64_t)fs.f_bavail * fs.f_frsize;
        if (g->o->disk_reserve > 0 && avail < (uint64_t)g->o->disk_reserve) {
            g->hit = KILN_SANDBOX_HIT_DISK;
            g->free_bytes = avail;
        } else if (g->o->inode_reserve > 0 && fs.f_files &&
                   fs.f_favail < (uint64_t)g->o->inode_reserve) {
            g->hit = KILN_SANDBOX_HIT_INODES;
            g->free_inodes = fs.f_favail;
        }
    }
    return g->hit != KILN_SANDBOX_HIT_NONE;
}

int kiln_sandbox_guard_error(const struct kiln_sandbox_guard *g, struct kiln_error **err)
{
    const char *what = g->o->argv[0];
    if (g->hit == KILN_SANDBOX_HIT_PIDS)
        return kiln_error_set(err, KILN_E_LIMIT,
                              "'%s' hit the process limit of %lld processes and threads (pids) "
                              "and was killed; a fork bomb? Raise the limit with %s if the step "
                              "needs more",
                              what, (long long)g->o->pids_max, KILN_SANDBOX_PIDS_ENV);
    if (g->hit == KILN_SANDBOX_HIT_INODES)
        return kiln_error_set(err, KILN_E_LIMIT,
                              "'%s' was killed: the builder's filesystem has %llu inodes (files) "
                              "free, under the reserve of %lld kept free on the filesystem "
                              "holding the build; a step making millions of files? Change the "
                              "reserve with %s",
                              what, (unsigned long long)g->free_inodes,
                              (long long)g->o->inode_reserve, KILN_SANDBOX_INODES_ENV);
    char reserve[KILN_HUMAN_SIZE_MAX], left[KILN_HUMAN_SIZE_MAX];
    kiln_human_size((uint64_t)g->o->disk_reserve, reserve);
    kiln_human_size(g->free_bytes, left);
    return kiln_error_set(err, KILN_E_LIMIT,
                          "'%s' was killed: the builder's disk has %s free, under the reserve of "
                          "%s kept free on the filesystem holding the build; free space, or change "
                          "the reserve with %s",
                          what, left, reserve, KILN_SANDBOX_RESERVE_ENV);
}
