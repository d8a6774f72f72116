/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime-select.c - the OCI runtime of this process: a choice as it is,
 * else crun when a trivial container runs with it, else runc; on a hybrid
 * cgroup host, a runtime that refuses it is tried with cgroup2 hidden; each
 * answer kept for the process (docs/internals/sandbox.md, "Runtime").
 */
#include "runtime-select.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "helper-spawn.h"
#include "runtime.h"

#include "base/banned.h"

/* The trivial container: the static binary bound read-only into an empty rootfs, run as true;
 * /dev a tmpfs, so that what the runtime makes there leaves with it. */
static const char probe_spec[] =
        "{\"ociVersion\":\"1.0.2\","
        "\"process\":{\"args\":[\"/busybox\",\"true\"],\"cwd\":\"/\","
        "\"user\":{\"uid\":0,\"gid\":0},\"env\":[\"PATH=/\"]},"
        "\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
        "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
        "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"},"
        "{\"destination\":\"/busybox\",\"type\":\"bind\",\"source\":\"" KILN_SANDBOX_PROBE_BINARY
        "\",\"options\":[\"bind\",\"ro\"]}],"
        "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"ipc\"},"
        "{\"type\":\"uts\"},{\"type\":\"network\"}]}}";

/* The probe's rootfs, made in this order and removed in the reverse one. */
static const char *const probe_dirs[] = {"rootfs", "rootfs/proc", "rootfs/dev"};

/* Removes the rootfs and the files the bundle holds (config.json, what the runtime wrote). */
static void probe_remove(int dirfd)
{
    (void)unlinkat(dirfd, "rootfs/busybox", 0);
    for (size_t i = ELEMENTSOF(probe_dirs); i-- > 0;)
        (void)unlinkat(dirfd, probe_dirs[i], AT_REMOVEDIR);
    int fd = dup(dirfd);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    for (struct dirent *de; (de = readdir(d));)
        if (de->d_type != DT_DIR)
            (void)unlinkat(dirfd, de->d_name, 0);
    closedir(d);
}

static int probe_write(int dirfd)
{
    for (size_t i = 0; i < ELEMENTSOF(probe_dirs); i++)
        if (mkdirat(dirfd, probe_dirs[i], 0755) < 0)
            return -errno;
    int fd = openat(dirfd, "rootfs/busybox", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    if (fd < 0)
        return -errno;
    close(fd);
    fd = openat(dirfd, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, probe_spec, sizeof(probe_spec) - 1);
    int r = n == (ssize_t)sizeof(probe_spec) - 1 ? 0 : n < 0 ? -errno : -EIO;
    close(fd);
    return r;
}

/* Runs the trivial container with `runtime`: 0 when it exits 0, else the reason in err. */
static int probe_once(const char *runtime, bool v1_view, const char *scratch,
                      struct kiln_error **err)
{
    _cleanup_free_ char *base = realpath(scratch, NULL); /* the runtime resolves paths itself */
    if (!base)
        return kiln_error_set_errno(err, -errno, "the runtime probe's directory '%s'", scratch);
    _cleanup_free_ char *dir = kiln_xasprintf("%s/runtime-probe-XXXXXX", base);
    if (!mkdtemp(dir))
        return kiln_error_set_errno(err, -errno, "create the runtime probe's directory in '%s'",
                                    scratch);
    _cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = dirfd < 0 ? -errno : probe_write(dirfd);
    if (r < 0) {
        r = kiln_error_set_errno(err, r, "write the runtime probe's bundle in '%s'", dir);
    } else {
        static unsigned long counter;
        char id[64];
        snprintf(id, sizeof(id), "kiln-probe-%d-%lu", (int)getpid(),
                 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
        _cleanup_free_ char *rootfs = kiln_xasprintf("%s/rootfs", dir);
        _cleanup_free_ char *log = kiln_xasprintf("%s/runtime.log", dir);
        const char *const argv[] = {"/busybox", "true", NULL};
        const struct kiln_sandbox_opts o = {.rootfs = rootfs,
                                            .argv = argv,
                                            .timeout_ns = KILN_SANDBOX_PROBE_TIMEOUT_NS,
                                            .cancel_fd = -1,
                                            .pids_max = -1,
                                            .disk_reserve = -1,
                                            .inode_reserve = -1};
        const struct kiln_sandbox_container c = {
                .runtime = runtime, .id = id, .bundle = dir, .log = log, .v1_view = v1_view};
        int code = 0;
        r = kiln_sandbox_runtime_run(&c, &o, &code, err);
        if (r >= 0 && code != 0)
            r = kiln_error_set(err, KILN_E_INVALID, "the trivial container exited with %d", code);
    }
    if (dirfd >= 0)
        probe_remove(dirfd);
    (void)rmdir(dir);
    return r;
}

/*
 * The trivial container with `runtime`, as it is and, when it refuses a
 * hybrid host, again with cgroup2 hidden: 0 and *v1_view when one runs,
 * else the first refusal in err.
 */
static int probe(const char *runtime, const char *scratch, bool *v1_view, struct kiln_error **err)
{
    struct kiln_error *plain = NULL;
    int r = probe_once(runtime, false, scratch, &plain);
    *v1_view = false;
    if (r < 0 && r != KILN_E_TIMEOUT && kiln_sandbox_cgroups_hybrid() &&
        probe_once(runtime, true, scratch, NULL) >= 0) {
        *v1_view = true;
        r = 0;
    }
    if (r < 0)
        r = kiln_error_set(err, r, "%s", kiln_error_message(plain, r));
    kiln_error_free(plain);
    return r;
}

/* An explicit choice: found, and probed when the probe's binary is there. */
static int chosen(const char *choice, const char *scratch, struct kiln_sandbox_runtime *ret,
                  struct kiln_error **err)
{
    _cleanup_free_ char *path = NULL;
    int r = kiln_sandbox_find_runtime(choice, &path, err);
    if (r < 0)
        return r;
    struct kiln_error *why = NULL;
    if (access(KILN_SANDBOX_PROBE_BINARY, X_OK) == 0 &&
        (r = probe(path, scratch, &ret->v1_view, &why)) < 0) {
        r = kiln_error_set(err, r == KILN_E_TIMEOUT ? r : KILN_E_INVALID,
                           "OCI runtime '%s' cannot run a container on this host: %s; choose "
                           "another with --oci-runtime runc (or %s=runc)",
                           choice, kiln_error_message(why, r), KILN_SANDBOX_RUNTIME_ENV);
        kiln_error_free(why);
        return r;
    }
    ret->path = TAKE_PTR(path);
    return 0;
}

/* No choice: crun where it works, else runc; ret->note says why crun was passed over. */
static int preferred(const char *scratch, struct kiln_sandbox_runtime *ret, struct kiln_error **err)
{
    _cleanup_free_ char *crun = NULL;
    char *note = NULL;
    if (kiln_sandbox_find_runtime("crun", &crun, NULL) >= 0) {
        struct kiln_error *why = NULL;
        int r = access(KILN_SANDBOX_PROBE_BINARY, X_OK) < 0
                        ? -ENOENT
                        : probe(crun, scratch, &ret->v1_view, &why);
        if (r >= 0) {
            ret->path = TAKE_PTR(crun);
            return 0;
        }
        note = why ? kiln_xasprintf("crun does not work on this host, using runc: %s",
                                    kiln_error_message(why, r))
                   : kiln_xstrdup("crun was not tried, using runc: " KILN_SANDBOX_PROBE_BINARY
                                  " (busybox-static), which the probe runs, is missing");
        kiln_error_free(why);
    }
    int r = kiln_sandbox_find_runtime("runc", &ret->path, err);
    if (r < 0) {
        free(note);
        return r;
    }
    ret->note = note;
    return 0;
}

/* One answer per choice ("" for none), or per decision handed down; kept for the process. */
struct answer {
    struct answer *next;
    char *key;  /* the choice, or the decision handed down */
    bool known; /* key is $KILN_OCI_RUNTIME_KNOWN's */
    int r;
    struct kiln_sandbox_runtime rt;
    char *message; /* the error when r < 0 */
};

static pthread_mutex_t answers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct answer *answers;

/* A decision handed down ("host PATH", "v1 PATH"), when it is a usable one. */
static bool parse_known(const char *v, struct kiln_sandbox_runtime *ret)
{
    bool v1 = strncmp(v, "v1 ", 3) == 0;
    if (!v1 && strncmp(v, "host ", 5) != 0)
        return false;
    const char *path = v + (v1 ? 3 : 5);
    if (path[0] != '/' || access(path, X_OK) < 0)
        return false;
    *ret = (struct kiln_sandbox_runtime){.path = kiln_xstrdup(path), .v1_view = v1};
    return true;
}

static struct answer *decide(const char *choice, const char *known, const char *scratch)
{
    struct answer *a = kiln_xcalloc(1, sizeof(*a));
    a->key = kiln_xstrdup(known ? known : choice);
    a->known = known != NULL;
    if (known && parse_known(known, &a->rt))
        return a;
    struct kiln_error *e = NULL;
    a->r = *choice ? chosen(choice, scratch, &a->rt, &e) : preferred(scratch, &a->rt, &e);
    if (a->r >= 0 && a->rt.v1_view && !a->rt.note)
        a->rt.note = kiln_xasprintf("%s runs with " KILN_SANDBOX_CGROUP2_HYBRID
                                    " hidden from it: it refuses cgroups mounted hybrid",
                                    a->rt.path);
    if (a->r < 0)
        a->message = kiln_xstrdup(kiln_error_message(e, a->r));
    kiln_error_free(e);
    return a;
}

int kiln_sandbox_runtime_select(const char *choice, const char *scratch,
                                struct kiln_sandbox_runtime *ret, struct kiln_error **err)
{
    const char *known = choice ? NULL : getenv(KILN_SANDBOX_RUNTIME_KNOWN_ENV);
    if (known && !*known)
        known = NULL;
    if (!choice)
        choice = getenv(KILN_SANDBOX_RUNTIME_ENV);
    if (!choice)
        choice = "";
    const char *key = known ? known : choice;
    pthread_mutex_lock(&answers_lock);
    struct answer *a = answers;
    while (a && (a->known != (known != NULL) || strcmp(a->key, key) != 0))
        a = a->next;
    if (!a) {
        a = decide(choice, known, scratch);
        a->next = answers;
        answers = a;
    }
    pthread_mutex_unlock(&answers_lock);
    if (a->r < 0)
        return kiln_error_set(err, a->r, "%s", a->message);
    *ret = (struct kiln_sandbox_runtime){.path = kiln_xstrdup(a->rt.path),
                                         .v1_view = a->rt.v1_view,
                                         .note = a->rt.note ? kiln_xstrdup(a->rt.note) : NULL};
    return 0;
}

int kiln_sandbox_runtime_export(const struct kiln_sandbox_runtime *rt)
{
    _cleanup_free_ char *v = kiln_xasprintf("%s %s", rt->v1_view ? "v1" : "host", rt->path);
    return setenv(KILN_SANDBOX_RUNTIME_KNOWN_ENV, v, 1) < 0 ? -errno : 0;
}

void kiln_sandbox_runtime_release(struct kiln_sandbox_runtime *rt)
{
    free(rt->path);
    free(rt->note);
    *rt = (struct kiln_sandbox_runtime){0};
}
