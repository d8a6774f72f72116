/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spec.c - config.json for runc (docs/internals/sandbox.md).
 */
#include "spec.h"

#include <stdio.h>
#include <string.h>

#include "base/banned.h"

static const char *const caps[] = {
        "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
        "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
        "CAP_KILL",    "CAP_AUDIT_WRITE",
};

static const char *const masked[] = {
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
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

static json_t *mount(const char *dest, const char *type, const char *src, const char *opts)
{
    json_t *o = json_array();
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", opts);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(o, json_string(t));
    return json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source", src,
                     "options", o);
}

json_t *kiln_sandbox_spec(const struct kiln_sandbox_opts *o, const char *hosts, const char *resolv)
{
    json_t *groups = json_array();
    for (size_t i = 0; i < o->n_groups; i++)
        json_array_append_new(groups, json_integer(o->groups[i]));
    json_t *capset = strings(caps, sizeof(caps) / sizeof(*caps));
    json_t *process =
            json_pack("{s:b, s:{s:I, s:I, s:o}, s:o, s:o, s:s, s:{s:O, s:O, s:O, s:O}, s:b}",
                      "terminal", 0, "user", "uid", (json_int_t)o->uid, "gid", (json_int_t)o->gid,
                      "additionalGids", groups, "args", nul_list(o->argv), "env", nul_list(o->env),
                      "cwd", o->cwd, "capabilities", "bounding", capset, "effective", capset,
                      "permitted", capset, "ambient", capset, "noNewPrivileges", 0);
    json_decref(capset);
    json_t *mounts = json_array();
    json_array_append_new(mounts, mount("/proc", "proc", "proc", "nosuid,noexec,nodev"));
    json_array_append_new(
            mounts, mount("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
    json_array_append_new(mounts, mount("/dev/pts", "devpts", "devpts",
                                        "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
    json_array_append_new(
            mounts, mount("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
    json_array_append_new(mounts, mount("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
    json_array_append_new(mounts, mount("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
    json_array_append_new(
            mounts, mount("/sys/fs/cgroup", "cgroup", "cgroup", "ro,nosuid,noexec,nodev,relatime"));
    json_array_append_new(mounts, mount("/etc/hosts", "bind", hosts, "rbind,ro"));
    json_array_append_new(mounts, mount("/etc/resolv.conf", "bind", resolv, "rbind,ro"));
    json_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type", "ipc", "type",
                           "uts", "type", "mount");
    if (o->network == KILN_SANDBOX_NET_NONE)
        json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
    return json_pack("{s:s, s:{s:s, s:b}, s:o, s:s, s:o, s:{s:o, s:o, s:o}}", "ociVersion", "1.0.2",
                     "root", "path", o->rootfs, "readonly", 0, "process", process, "hostname",
                     o->hostname ? o->hostname : "buildkitsandbox", "mounts", mounts, "linux",
                     "namespaces", ns, "maskedPaths",
                     strings(masked, sizeof(masked) / sizeof(*masked)), "readonlyPaths",
                     strings(readonly, sizeof(readonly) / sizeof(*readonly)));
}
