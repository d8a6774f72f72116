/* SPDX-License-Identifier: Apache-2.0 */
/*
 * userns.c - the operator's user namespace mapping, the namespace itself,
 * idmapped mounts and a thread acting as the mapped root
 * (docs/internals/sandbox.md, "User namespace").
 */
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/securebits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"

#include "base/banned.h"

static int bad(const char *v, struct kiln_error **err)
{
    return kiln_error_set(err, KILN_E_INVALID,
                          "%s='%s' is not a user namespace mapping; give HOSTID[:SIZE] such as "
                          "100000:65536 (the step's root becomes host user HOSTID), or unset it",
                          KILN_SANDBOX_USERNS_ENV, v);
}

int kiln_sandbox_userns_get(struct kiln_sandbox_userns *ret, struct kiln_error **err)
{
    const char *v = getenv(KILN_SANDBOX_USERNS_ENV);
    if (!v || !*v || strcmp(v, "off") == 0)
        return 0;
    char *end;
    errno = 0;
    unsigned long long host = strtoull(v, &end, 10), size = KILN_SANDBOX_USERNS_SIZE;
    if (errno || end == v || v[0] == '-' || (*end && *end != ':'))
        return bad(v, err);
    if (*end == ':') {
        const char *s = end + 1;
        size = strtoull(s, &end, 10);
        if (errno || end == s || *s == '-' || *end)
            return bad(v, err);
    }
    if (host == 0 || size == 0 || host + size - 1 > UINT32_MAX - 1)
        return kiln_error_set(err, KILN_E_INVALID,
                              "%s='%s': HOSTID must be above 0 (the host's root) and the %llu ids "
                              "from it must stay below 4294967295",
                              KILN_SANDBOX_USERNS_ENV, v, size);
    *ret = (struct kiln_sandbox_userns){.host_id = (uint32_t)host, .size = (uint32_t)size};
    return 1;
}

static int write_map(pid_t pid, const char *file, const struct kiln_sandbox_userns *u)
{
    char path[64], map[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    int n = snprintf(map, sizeof(map), "0 %u %u\n", u->host_id, u->size);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    return write(fd, map, (size_t)n) == n ? 0 : -errno;
}

/* A child that only waits in a new user namespace, for its maps to be written and its fd taken. */
static int make_userns(const struct kiln_sandbox_userns *u)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid == 0) {
        char c;
        close(p[1]);
        (void)!read(p[0], &c, 1); /* until the parent is done */
        _exit(0);
    }
    close(p[0]);
    if (pid < 0) {
        int r = -errno;
        close(p[1]);
        return r;
    }
    int r = write_map(pid, "uid_map", u);
    if (r == 0)
        r = write_map(pid, "gid_map", u);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
    int fd = r < 0 ? r : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && r == 0)
        r = -errno;
    close(p[1]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return r < 0 ? r : fd;
}

static pthread_mutex_t ns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kiln_sandbox_userns ns_map;
static int ns_fd = -1;

int kiln_sandbox_userns_fd(const struct kiln_sandbox_userns *u, struct kiln_error **err)
{
    pthread_mutex_lock(&ns_lock);
    if (ns_fd >= 0 && (ns_map.host_id != u->host_id || ns_map.size != u->size)) {
        close(ns_fd);
        ns_fd = -1;
    }
    if (ns_fd < 0) {
        ns_fd = make_userns(u);
        ns_map = *u;
    }
    int fd = ns_fd;
    if (fd < 0)
        ns_fd = -1;
    pthread_mutex_unlock(&ns_lock);
    if (fd < 0)
        return kiln_error_set_errno(err, fd, "create a user namespace for %s=%u:%u",
                                    KILN_SANDBOX_USERNS_ENV, u->host_id, u->size);
    return fd;
}

int kiln_sandbox_idmap_mount(const struct kiln_sandbox_userns *u, const char *source,
                             const char *target, struct kiln_error **err)
{
    int fd = kiln_sandbox_userns_fd(u, err);
    if (fd < 0)
        return fd;
    _cleanup_close_ int tree =
            (int)syscall(SYS_open_tree, AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0)
        return kiln_error_set_errno(err, -errno, "clone the mount of '%s'", source);
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)fd};
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
        return kiln_error_set_errno(err, -errno,
                                    "idmap '%s' (the kernel or the filesystem cannot: turn %s "
                                    "off)",
                                    source, KILN_SANDBOX_USERNS_ENV);
    if (syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return kiln_error_set_errno(err, -errno, "mount '%s' idmapped on '%s'", source, target);
    return 0;
}

int kiln_sandbox_userns_mount_point(const struct kiln_sandbox_userns *u, char **ret,
                                    struct kiln_error **err)
{
    char base[64];
    snprintf(base, sizeof(base), KILN_SANDBOX_USERNS_MNT_FMT, u->host_id);
    if (mkdir(base, 0700) == 0 && (chown(base, 0, u->host_id) < 0 || chmod(base, 0710) < 0))
        return kiln_error_set_errno(err, -errno, "cannot set up '%s'", base);
    struct stat st;
    if (lstat(base, &st) < 0)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", base);
    if (!S_ISDIR(st.st_mode) || st.st_uid != 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "'%s' is not a directory of root's; remove it so that kiln makes it",
                              base);
    char *point = kiln_xasprintf("%s/XXXXXX", base);
    if (!mkdtemp(point)) {
        int r = kiln_error_set_errno(err, -errno, "cannot create a mount point in '%s'", base);
        free(point);
        return r;
    }
    *ret = point;
    return 0;
}

int kiln_sandbox_userns_check(struct kiln_sandbox_userns *ret, struct kiln_error **err)
{
    int on = kiln_sandbox_userns_get(ret, err);
    if (on <= 0)
        return on;
    _cleanup_free_ char *point = NULL;
    int r = kiln_sandbox_userns_mount_point(ret, &point, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *base = kiln_xstrndup(point, (size_t)(strrchr(point, '/') - point));
    r = kiln_sandbox_idmap_mount(ret, base, point, err);
    if (r >= 0)
        umount2(point, MNT_DETACH);
    rmdir(point);
    return r < 0 ? r : 1;
}

struct mapped_call {
    const struct kiln_sandbox_userns *u;
    int (*fn)(void *);
    void *arg;
    int r;
};

/* Credentials are per thread: this one's die with it. */
static void *mapped_thread(void *p)
{
    struct mapped_call *c = p;
    if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP) < 0) { /* keep the capabilities */
        c->r = -errno;
        return NULL;
    }
    setfsuid(c->u->host_id);
    setfsgid(c->u->host_id);
    if ((uint32_t)setfsuid((uid_t)-1) != c->u->host_id ||
        (uint32_t)setfsgid((gid_t)-1) != c->u->host_id) {
        c->r = -EPERM;
        return NULL;
    }
    c->r = c->fn(c->arg);
    return NULL;
}

int kiln_sandbox_as_mapped_root(const struct kiln_sandbox_userns *u, int (*fn)(void *arg),
                                void *arg)
{
    struct mapped_call c = {.u = u, .fn = fn, .arg = arg};
    pthread_t t;
    int r = pthread_create(&t, NULL, mapped_thread, &c);
    if (r != 0)
        return -r;
    pthread_join(t, NULL);
    return c.r;
}
