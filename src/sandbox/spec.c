/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spec.c - config.json for runc (docs/internals/sandbox.md).
 */
#include "spec.h"

#include <string.h>
#include <sys/statvfs.h>

#include "limits.h"
#include "seccomp-bpf.h"
#include "seccomp.h"

#include "base/banned.h"

static const char *const caps[] = {
        "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
        "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
        "CAP_KILL",    "CAP_AUDIT_WRITE",
};

static const char *const masked[] = {
        "/proc/acpi",          "/proc/asound",
        "/proc/kcore",         "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats",   "/proc/sched_debug",
        "/sys/firmware",       "/sys/devices/virtual/powercap",
        "/proc/scsi",
};

static const char *const readonly[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static json_t *strings(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *nul_list(const char *const *v)
{
    json_t *a = json_array();
    for (; v && *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

/* The mounts of BuildKit's spec, in its order; "/etc/..." sources are the generated files. */
static const struct {
    const char *dest, *type, *source, *options;
} mounts[] = {
        {"/proc", "proc", "proc", "nosuid,noexec,nodev"},
        {"/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"},
        {"/dev/pts", "devpts", "devpts", "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"},
        {"/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"},
        {"/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"},
        {"/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"},
        {"/etc/resolv.conf", "bind", NULL, "nosuid,noexec,nodev,rbind,ro"},
        {"/etc/hosts", "bind", NULL, "nosuid,noexec,nodev,rbind,ro"},
        {"/sys/fs/cgroup", "cgroup", "cgroup", "ro,nosuid,noexec,nodev"},
};

/* /sys in a user namespace: sysfs cannot be mounted there (its network namespace is not the user
 * namespace's), so the host's is bound read-only, as rootless runtimes do. */
static const char sys_in_userns[] = "rbind,nosuid,noexec,nodev,ro";

static json_t *mount_list(const char *hosts, const char *resolv, bool userns)
{
    json_t *a = json_array();
    for (size_t i = 0; i < ELEMENTSOF(mounts); i++) {
        const char *src = mounts[i].source, *type = mounts[i].type, *o = mounts[i].options;
        if (!src)
            src = strcmp(mounts[i].dest, "/etc/hosts") == 0 ? hosts : resolv;
        if (userns && strcmp(type, "sysfs") == 0) {
            type = "bind";
            src = "/sys";
            o = sys_in_userns;
        }
        json_t *opts = json_array();
        for (size_t len; *o; o += len + (o[len] == ',')) {
            len = strcspn(o, ",");
            json_array_append_new(opts, json_stringn(o, len));
        }
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:o}", "destination", mounts[i].dest,
                                           "type", type, "source", src, "options", opts));
    }
    return a;
}

/* A bind source's mount flags a bind keeps. */
static const struct {
    unsigned long flag;
    const char *name;
} kept_flags[] = {{ST_NOSUID, "nosuid"}, {ST_NODEV, "nodev"}, {ST_NOEXEC, "noexec"}};

/* RUN --mount's mounts, after the standard ones so they may sit below them. */
static void extra_mounts(json_t *list, const struct kiln_sandbox_opts *o)
{
    for (size_t i = 0; i < o->n_mounts; i++) {
        const struct kiln_sandbox_mount *m = &o->mounts[i];
        json_t *opts = json_array();
        struct statvfs fs;
        if (m->source) {
            json_array_append_new(opts, json_string("rbind"));
            json_array_append_new(opts, json_string(m->readonly ? "ro" : "rw"));
            /* the source mount's own: kept when the runtime remounts the bind (a secret's tmpfs);
               in a user namespace the kernel refuses a remount that would drop them */
            if (statvfs(m->source, &fs) == 0)
                for (size_t k = 0; k < ELEMENTSOF(kept_flags); k++)
                    if (fs.f_flag & kept_flags[k].flag)
                        json_array_append_new(opts, json_string(kept_flags[k].name));
        } else {
            json_array_append_new(opts, json_string("nosuid"));
            json_array_append_new(opts, json_string("nodev"));
            if (m->size > 0)
                json_array_append_new(opts, json_sprintf("size=%lld", (long long)m->size));
        }
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o}", "destination", m->target,
                                              "type", m->source ? "bind" : "tmpfs", "source",
                                              m->source ? m->source : "tmpfs", "options", opts));
    }
}

json_t *kiln_sandbox_spec(const struct kiln_sandbox_opts *o, const char *hosts, const char *resolv)
{
    json_t *groups = json_array();
    for (size_t i = 0; i < o->n_groups; i++)
        json_array_append_new(groups, json_integer(o->groups[i]));
    json_t *capset = strings(caps, ELEMENTSOF(caps));
    json_t *process =
            json_pack("{s:b, s:{s:I, s:I, s:o}, s:o, s:o, s:s, s:{s:O, s:O, s:O, s:O}, s:b}",
                      "terminal", 0, "user", "uid", (json_int_t)o->uid, "gid", (json_int_t)o->gid,
                      "additionalGids", groups, "args", nul_list(o->argv), "env", nul_list(o->env),
                      "cwd", o->cwd, "capabilities", "bounding", capset, "effective", capset,
                      "permitted", capset, "ambient", capset, "noNewPrivileges", 0);
    json_decref(capset);
    json_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type", "ipc", "type",
                           "uts", "type", "mount");
    if (o->network != KILN_SANDBOX_NET_HOST) {
        json_t *net = json_pack("{s:s}", "type", "network");
        if (o->network == KILN_SANDBOX_NET_DEFAULT && o->netns)
            json_object_set_new(net, "path", json_string(o->netns));
        json_array_append_new(ns, net);
    }
    if (o->userns)
        json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
    json_t *lx = json_pack("{s:o, s:o, s:o, s:{s:[{s:b, s:s}]}}", "namespaces", ns, "maskedPaths",
                           strings(masked, ELEMENTSOF(masked)), "readonlyPaths",
                           strings(readonly, ELEMENTSOF(readonly)), "resources", "devices", "allow",
                           0, "access", "rwm");
    if (o->userns) { /* the step's 0..size-1 are the host's host_id.. (userns.h) */
        json_t *map =
                json_pack("[{s:i, s:I, s:I}]", "containerID", 0, "hostID",
                          (json_int_t)o->userns->host_id, "size", (json_int_t)o->userns->size);
        json_object_set(lx, "uidMappings", map);
        json_object_set_new(lx, "gidMappings", map);
    }
    if (o->cgroups_path)
        json_object_set_new(lx, "cgroupsPath", json_string(o->cgroups_path));
    if (o->cpu_millis > 0) /* Docker's --cpus: a quota of each 100 ms period */
        json_object_set_new(
                json_object_get(lx, "resources"), "cpu",
                json_pack("{s:I, s:I}", "quota",
                          (json_int_t)(o->cpu_millis * KILN_SANDBOX_CPU_PERIOD_US / 1000), "period",
                          (json_int_t)KILN_SANDBOX_CPU_PERIOD_US));
    if (o->memory_max > 0) /* the kernel kills past it; the guard notes it for the error */
        json_object_set_new(json_object_get(lx, "resources"), "memory",
                            json_pack("{s:I}", "limit", (json_int_t)o->memory_max));
    if (o->pids_max > 0) /* the step's cgroup: a fork past it fails (limits.h) */
        json_object_set_new(json_object_get(lx, "resources"), "pids",
                            json_pack("{s:I}", "limit", (json_int_t)o->pids_max));
    json_t *annotations = json_object();
    json_t *filter = kiln_sandbox_seccomp(); /* NULL: KILN_RUN_SECCOMP=unconfined */
    if (filter) {
        json_object_set_new(lx, "seccomp", filter);
        const char *program = kiln_sandbox_seccomp_bpf(); /* crun's, compiled once */
        if (program)
            json_object_set_new(annotations, KILN_SANDBOX_SECCOMP_BPF_ANNOTATION,
                                json_string(program));
    }
    json_t *list = mount_list(hosts, resolv, o->userns != NULL);
    extra_mounts(list, o);
    return json_pack("{s:s, s:{s:s, s:b}, s:o, s:s, s:o, s:o, s:o}", "ociVersion", "1.0.2", "root",
                     "path", o->rootfs, "readonly", 0, "process", process, "hostname",
                     o->hostname ? o->hostname : "buildkitsandbox", "mounts", list, "linux", lx,
                     "annotations", annotations);
}
