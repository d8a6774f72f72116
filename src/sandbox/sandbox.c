/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.c - one RUN: bundle, working directory, mount stubs, the runtime,
 * and the stubs removed again (docs/internals/sandbox.md).
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "bundle.h"
#include "guard.h"
#include "limits.h"
#include "netns-spare.h"
#include "runtime-select.h"
#include "runtime.h"
#include "seccomp.h"
#include "stubs.h"
#include "userns-mounts.h"

#include "base/banned.h"

static int check_opts(const struct kiln_sandbox_opts *o, struct kiln_error **err)
{
    if (!o->rootfs || o->rootfs[0] != '/')
        return kiln_error_set(err, KILN_E_INVALID, "sandbox rootfs must be an absolute path");
    if (!o->state_dir || o->state_dir[0] != '/')
        return kiln_error_set(err, KILN_E_INVALID, "sandbox state_dir must be an absolute path");
    if (!o->cwd || o->cwd[0] != '/')
        return kiln_error_set(err, KILN_E_INVALID, "working directory '%s' is not absolute",
                              o->cwd ? o->cwd : "");
    if (!o->argv || !o->argv[0])
        return kiln_error_set(err, KILN_E_INVALID, "nothing to run: the command is empty");
    return 0;
}

/* Whether `dest` lies under the destination of one of the first n mounts (so inside that mount). */
static bool under_earlier(json_t *mounts, size_t n, const char *dest)
{
    for (size_t i = 0; i < n; i++) {
        const char *d =
                json_string_value(json_object_get(json_array_get(mounts, i), "destination"));
        size_t len = strlen(d);
        if (strncmp(dest, d, len) == 0 && dest[len] == '/')
            return true;
    }
    return false;
}

/* Makes the mount points of the spec that the rootfs lacks, owned by `owner`, recording them in
 * stubs. */
static int make_stubs(int rootfd, json_t *spec, uint32_t owner, struct kiln_sandbox_stubs *stubs,
                      struct kiln_error **err)
{
    json_t *mounts = json_object_get(spec, "mounts");
    for (size_t i = 0; i < json_array_size(mounts); i++) {
        json_t *m = json_array_get(mounts, i);
        const char *dest = json_string_value(json_object_get(m, "destination"));
        const char *src = json_string_value(json_object_get(m, "source"));
        if (under_earlier(mounts, i, dest))
            continue;
        struct stat st;
        bool dir = strcmp(json_string_value(json_object_get(m, "type")), "bind") != 0 ||
                   (stat(src, &st) == 0 && S_ISDIR(st.st_mode));
        int r = kiln_sandbox_mkpath(rootfd, dest, dir, owner, owner, stubs, err);
        if (r < 0)
            return kiln_error_wrap(err, r, "mount point '%s'", dest);
    }
    return 0;
}

struct prepare {
    int rootfd;
    const struct kiln_sandbox_opts *o;
    json_t *spec;
    struct kiln_sandbox_stubs *stubs;
    struct kiln_error **err;
};

/* The working directory and the mount points, owned by the ids the step sees (in a user
 * namespace, the host's ids they stand for). */
static int prepare_root(void *arg)
{
    struct prepare *p = arg;
    const struct kiln_sandbox_opts *o = p->o;
    uint32_t base = o->userns ? o->userns->host_id : 0;
    int r = kiln_sandbox_mkpath(p->rootfd, o->cwd, true, base + o->uid, base + o->gid, NULL,
                                p->err);
    if (r < 0)
        return kiln_error_wrap(p->err, r, "working directory '%s'", o->cwd);
    return make_stubs(p->rootfd, p->spec, base, p->stubs, p->err);
}

/*
 * The step's cgroup for a runtime that puts a container without a
 * cgroupsPath at the root of the hierarchies (crun does; runc nests it under
 * its own cgroup): under ours, so that limits set on the builder's service
 * (a systemd unit's MemoryMax=, a cgroup's pids.max) hold its steps too.
 * NULL for runc, or when ours cannot be read.
 */
static char *cgroups_path(const char *runtime, const char *id)
{
    const char *base = strrchr(runtime, '/');
    if (strcmp(base ? base + 1 : runtime, "crun") != 0)
        return NULL;
    _cleanup_free_ char *own = kiln_sandbox_cgroup_of(getpid(), "pids", NULL);
    if (!own)
        return NULL;
    return kiln_xasprintf("%s/%s", strcmp(own, "/") == 0 ? "" : own, id);
}

/* A container id unique on the host: our pid, a per-process count and random bits. */
static void container_id(char out[static 64])
{
    static unsigned long counter;
    uint32_t rnd = 0;
    (void)getrandom(&rnd, sizeof(rnd), 0);
    snprintf(out, 64, "kiln-%d-%lu-%08x", (int)getpid(),
             __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED), rnd);
}

int kiln_sandbox_run(const struct kiln_sandbox_opts *o, int *ret_exit_code, struct kiln_error **err)
{
    int r = check_opts(o, err);
    if (r >= 0)
        r = kiln_sandbox_seccomp_check(err);
    if (r < 0)
        return r;
    struct kiln_sandbox_opts limited;
    if ((r = kiln_sandbox_limits_resolve(o, &limited, err)) < 0)
        return r;
    o = &limited;
    _cleanup_(kiln_sandbox_runtime_release) struct kiln_sandbox_runtime runtime = {0};
    r = kiln_sandbox_runtime_select(o->runtime, o->state_dir, &runtime, err);
    if (r < 0)
        return r;
    _cleanup_close_ int rootfd = open(o->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return kiln_error_set_errno(err, -errno, "open the sandbox rootfs '%s'", o->rootfs);
    _cleanup_close_ int statefd = open(o->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (statefd < 0)
        return kiln_error_set_errno(err, -errno, "open the sandbox state directory '%s'",
                                    o->state_dir);
    _cleanup_(kiln_sandbox_netns_close) struct kiln_sandbox_netns ns = KILN_SANDBOX_NETNS_INIT;
    struct kiln_sandbox_opts networked;
    if (o->network == KILN_SANDBOX_NET_DEFAULT && !o->netns) {
        if ((r = kiln_sandbox_netns_take(&ns, o->cancel_fd, err)) < 0)
            return r;
        networked = *o;
        networked.netns = ns.path;
        o = &networked;
    }
    _cleanup_(kiln_sandbox_mapped_binds_release) struct kiln_sandbox_mapped_binds binds = {0};
    struct kiln_sandbox_opts mapped;
    if (o->userns) {
        if ((r = kiln_sandbox_map_binds(o, &binds, err)) < 0)
            return r;
        mapped = *o;
        mapped.mounts = binds.v;
        o = &mapped;
    }
    char id[64];
    container_id(id);
    _cleanup_free_ char *cgroup = cgroups_path(runtime.path, id);
    struct kiln_sandbox_opts placed;
    if (cgroup) {
        placed = *o;
        placed.cgroups_path = cgroup;
        o = &placed;
    }
    json_t *spec = NULL;
    r = kiln_sandbox_write_bundle(statefd, o, &spec, err);
    if (r < 0)
        return r;
    struct kiln_sandbox_stubs stubs = {0};
    struct prepare p = {.rootfd = rootfd, .o = o, .spec = spec, .stubs = &stubs, .err = err};
    r = o->userns ? kiln_sandbox_as_mapped_root(o->userns, prepare_root, &p) : prepare_root(&p);
    if (r < 0 && err && !*err)
        r = kiln_error_set_errno(err, r, "prepare the rootfs as the step's mapped root");
    json_decref(spec);
    if (r >= 0) {
        _cleanup_free_ char *log = kiln_xasprintf("%s/runtime.log", o->state_dir);
        const struct kiln_sandbox_container c = {.runtime = runtime.path,
                                                 .id = id,
                                                 .bundle = o->state_dir,
                                                 .log = log,
                                                 .v1_view = runtime.v1_view};
        r = kiln_sandbox_runtime_run(&c, o, ret_exit_code, err);
    }
    kiln_sandbox_stubs_remove(rootfd, &stubs);
    return r;
}
