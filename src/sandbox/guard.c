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

/* Whether the comma-separated list [list, end) holds `name`. */
static bool listed(const char *list, const char *end, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p < end; p += strcspn(p, ",:") + 1)
        if ((size_t)(strcspn(p, ",:")) == n && strncmp(p, name, n) == 0)
            return true;
    return false;
}

char *kiln_sandbox_cgroup_of(pid_t pid, const char *controller, bool *ret_v1)
{
    char text[4096];
    _cleanup_free_ char *proc = kiln_xasprintf("/proc/%d/cgroup", (int)pid);
    if (!read_small(proc, text, sizeof(text)))
        return NULL;
    const char *v2 = NULL;
    for (const char *line = text; *line;
         line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0)) {
        const char *ctrls = strchr(line, ':'), *path = ctrls ? strchr(ctrls + 1, ':') : NULL;
        if (!path || path > line + strcspn(line, "\n"))
            continue;
        if (path == ctrls + 1 && strncmp(line, "0:", 2) == 0)
            v2 = path + 1;
        else if (listed(ctrls + 1, path, controller)) {
            if (ret_v1)
                *ret_v1 = true;
            return kiln_xstrndup(path + 1, strcspn(path + 1, "\n"));
        }
    }
    if (!v2)
        return NULL;
    if (ret_v1)
        *ret_v1 = false;
    return kiln_xstrndup(v2, strcspn(v2, "\n"));
}

/* A file of the `controller` cgroup of the process in pid_file (v1_file under cgroup v1, v2_file
 * under v2); NULL while the file or the process is not there. */
static char *cgroup_file(const char *pid_file, const char *controller, const char *v1_file,
                         const char *v2_file)
{
    char text[32];
    if (!read_small(pid_file, text, sizeof(text)))
        return NULL;
    bool v1 = false;
    _cleanup_free_ char *cg =
            kiln_sandbox_cgroup_of((pid_t)strtol(text, NULL, 10), controller, &v1);
    if (!cg)
        return NULL;
    return v1 ? kiln_xasprintf("/sys/fs/cgroup/%s%s/%s", controller, cg, v1_file)
              : kiln_xasprintf("/sys/fs/cgroup%s/%s", cg, v2_file);
}

void kiln_sandbox_guard_init(struct kiln_sandbox_guard *g, const struct kiln_sandbox_opts *o,
                             const char *pid_file, int64_t now_ns)
{
    *g = (struct kiln_sandbox_guard){.o = o};
    if (o->pids_max > 0 || o->memory_max > 0)
        g->pid_file = kiln_xstrdup(pid_file);
    if (g->pid_file || o->disk_reserve > 0 || o->inode_reserve > 0)
        g->next_ns = now_ns;
}

void kiln_sandbox_guard_release(struct kiln_sandbox_guard *g)
{
    free(g->pid_file);
    free(g->pids_events);
    free(g->oom_events);
    g->pid_file = g->pids_events = g->oom_events = NULL;
}

/* The counter `key` ("max ", "oom_kill ") of a cgroup's events file; 0 when it cannot be read. */
static long long counter(const char *path, const char *key)
{
    char text[1024];
    const char *at = read_small(path, text, sizeof(text)) ? strstr(text, key) : NULL;
    return at ? strtoll(at + strlen(key), NULL, 10) : 0;
}

bool kiln_sandbox_guard_check(struct kiln_sandbox_guard *g, int64_t now_ns, bool force)
{
    if (g->hit)
        return true;
    if (!g->next_ns || (!force && now_ns < g->next_ns))
        return false;
    g->next_ns = now_ns + KILN_SANDBOX_GUARD_NS;
    if (g->o->pids_max > 0 && !g->pids_events) /* forks refused at the limit: "max N" */
        g->pids_events = cgroup_file(g->pid_file, "pids", "pids.events", "pids.events");
    if (g->pids_events && counter(g->pids_events, "max ") > 0)
        g->hit = KILN_SANDBOX_HIT_PIDS;
    if (g->o->memory_max > 0 && !g->oom_events) /* processes the kernel killed at the limit */
        g->oom_events = cgroup_file(g->pid_file, "memory", "memory.oom_control", "memory.events");
    long long kills = g->oom_events ? counter(g->oom_events, "oom_kill ") : 0;
    if (kills > g->oom_kills) /* not a hit: the kernel's kill is the limit, as in Docker; a
                                 cgroup gone (the step ended) reads as 0 */
        g->oom_kills = kills;
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

int kiln_sandbox_guard_oom_error(const struct kiln_sandbox_guard *g, int exit_code,
                                 struct kiln_error **err)
{
    char limit[KILN_HUMAN_SIZE_MAX];
    kiln_human_size((uint64_t)g->o->memory_max, limit);
    return kiln_error_set(err, KILN_E_LIMIT,
                          "'%s' ran out of memory: the kernel killed a process of the step at its "
                          "memory limit of %s, and the step failed (exit code: %d); raise the "
                          "limit with %s if the step needs more",
                          g->o->argv[0], limit, exit_code, KILN_SANDBOX_MEMORY_ENV);
}
