/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp.c - linux.seccomp of a RUN's config.json: what Docker's default
 * profile refuses a process holding the sandbox's 14 capabilities, io_uring
 * included, written as a list of refusals (docs/internals/sandbox.md,
 * "Seccomp").
 */
#include "seccomp.h"

#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

#include "base/banned.h"

#define EPERM_RET   1  /* what a refused call returns */
#define ENOSYS_RET  38 /* clone3: "not implemented", so libc falls back to clone */
#define AF_VSOCK_NR 40
#define TOP_BIT     0x80000000u

/* Every ABI a step's processes may use on either builder architecture. A name the host's
   libseccomp does not know (a newer call, another architecture's) is skipped by runc. */
static const char *const arches[] = {
        "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM",
};

/* Refused with EPERM whatever their arguments: every call of Linux's x86_64, i386 and generic
   (arm64) tables that Docker's default profile does not allow a process holding only the
   sandbox's capabilities (spec.c), and the few newer ones it gates the same way. */
/* clang-format off */
static const char *const refused[] = {
        /* namespaces, mounts and what Docker keeps for CAP_SYS_ADMIN */
        "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig",
        "fsmount", "fspick", "move_mount", "open_tree", "open_tree_attr", "mount_setattr",
        "statmount", "listmount", "quotactl", "quotactl_fd", "lookup_dcookie", "fanotify_init",
        "sethostname", "setdomainname", "syslog", "bpf", "perf_event_open",
        /* the kernel's keyrings */
        "keyctl", "add_key", "request_key",
        /* the kernel itself, devices and the machine */
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
        "create_module", "get_kernel_syms", "query_module", "reboot", "swapon", "swapoff", "acct",
        "nfsservctl", "_sysctl", "sysfs", "ustat", "uselib", "bdflush", "vhangup", "iopl", "ioperm",
        "pciconfig_iobase", "pciconfig_read", "pciconfig_write",
        /* the clock */
        "settimeofday", "stime", "clock_settime", "clock_settime64",
        /* other processes' descriptors and memory, NUMA placement, userfaultfd */
        "kcmp", "pidfd_getfd", "process_madvise", "userfaultfd", "mbind", "set_mempolicy",
        "get_mempolicy", "set_mempolicy_home_node", "migrate_pages", "move_pages",
        /* io_uring (Docker 25 dropped it), file handles (CAP_DAC_READ_SEARCH) */
        "io_uring_setup", "io_uring_enter", "io_uring_register", "open_by_handle_at",
        /* i386's and arm's old or unimplemented calls */
        "vm86", "vm86old", "idle", "afs_syscall", "break", "ftime", "getpmsg", "putpmsg", "gtty",
        "stty", "lock", "mpx", "nice", "oldfstat", "oldlstat", "oldolduname", "oldstat", "olduname",
        "prof", "profil", "readdir", "security", "sgetmask", "ssetmask", "sigaction", "signal",
        "sigpending", "sigsuspend", "tuxcall", "ulimit", "vserver",
};
/* clang-format on */

/* clone's flags that make a namespace (Docker allows clone only without all of them):
   CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
   CLONE_NEWNET */
static const json_int_t clone_ns_flags[] = {0x20000,    0x2000000,  0x4000000, 0x8000000,
                                            0x10000000, 0x20000000, 0x40000000};

/* personality(2): Docker allows PER_LINUX (0), PER_LINUX32 (0x8), UNAME26 (0x20000), both,
   and the query 0xffffffff. */
#define PERSONALITY_ALLOWED_BITS 0x20008u

static json_t *names(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* A rule refusing `name` (errno ret) when (argument 0 & mask) == value. */
static json_t *refuse_masked(const char *name, int ret, json_int_t mask, json_int_t value)
{
    return json_pack("{s:[s], s:s, s:i, s:[{s:i, s:I, s:I, s:s}]}", "names", name, "action",
                     "SCMP_ACT_ERRNO", "errnoRet", ret, "args", "index", 0, "value", mask,
                     "valueTwo", value, "op", "SCMP_CMP_MASKED_EQ");
}

/* A filter compares one value per argument, so "anything but these five" becomes one rule per
   bit: a bit outside PERSONALITY_ALLOWED_BITS set while the top bit is clear, or the top bit set
   while some other bit is clear (anything with it but 0xffffffff). */
static void refuse_personalities(json_t *list)
{
    for (unsigned b = 0; b < 31; b++) {
        json_int_t bit = (json_int_t)1 << b;
        if (!(bit & PERSONALITY_ALLOWED_BITS))
            json_array_append_new(list,
                                  refuse_masked("personality", EPERM_RET, bit | TOP_BIT, bit));
        json_array_append_new(list,
                              refuse_masked("personality", EPERM_RET, bit | TOP_BIT, TOP_BIT));
    }
}

static json_t *rules(void)
{
    json_t *list = json_array();
    json_array_append_new(list,
                          json_pack("{s:o, s:s, s:i}", "names", names(refused, ELEMENTSOF(refused)),
                                    "action", "SCMP_ACT_ERRNO", "errnoRet", EPERM_RET));
    for (size_t i = 0; i < ELEMENTSOF(clone_ns_flags); i++)
        json_array_append_new(
                list, refuse_masked("clone", EPERM_RET, clone_ns_flags[i], clone_ns_flags[i]));
    /* clone3 passes its flags in memory, where a filter cannot look: ENOSYS, then libc's clone */
    json_array_append_new(list, json_pack("{s:[s], s:s, s:i}", "names", "clone3", "action",
                                          "SCMP_ACT_ERRNO", "errnoRet", ENOSYS_RET));
    /* AF_VSOCK reaches the host's hypervisor sockets */
    json_array_append_new(list, refuse_masked("socket", EPERM_RET, 0xffffffff, AF_VSOCK_NR));
    refuse_personalities(list);
    return list;
}

json_t *kiln_sandbox_seccomp(void)
{
    const char *v = getenv(KILN_SANDBOX_SECCOMP_ENV);
    if (v && strcmp(v, KILN_SANDBOX_SECCOMP_UNCONFINED) == 0)
        return NULL;
    return json_pack("{s:s, s:o, s:o}", "defaultAction", "SCMP_ACT_ALLOW", "architectures",
                     names(arches, ELEMENTSOF(arches)), "syscalls", rules());
}

int kiln_sandbox_seccomp_check(struct kiln_error **err)
{
    const char *v = getenv(KILN_SANDBOX_SECCOMP_ENV);
    if (!v || !*v || strcmp(v, "default") == 0 || strcmp(v, KILN_SANDBOX_SECCOMP_UNCONFINED) == 0)
        return 0;
    return kiln_error_set(err, KILN_E_INVALID,
                          "%s='%s' is not a seccomp mode; unset it to filter RUN's system calls "
                          "(the default), or give '%s' to run steps without the filter",
                          KILN_SANDBOX_SECCOMP_ENV, v, KILN_SANDBOX_SECCOMP_UNCONFINED);
}
