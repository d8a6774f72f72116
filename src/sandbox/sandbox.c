/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.c - RUN in runc: bundle, process, output, time limit, cleanup
 * (docs/internals/sandbox.md).
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/fsroot.h"
#include "spec.h"
#include "stubs.h"

#include "base/banned.h"

/* Whether `name` is an executable (a path, or found in PATH). */
static bool find_program(const char *name)
{
    if (strchr(name, '/'))
        return access(name, X_OK) == 0;
    const char *path = getenv("PATH");
    _cleanup_free_ char *copy = kiln_xstrdup(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    char *save = NULL;
    for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        _cleanup_free_ char *p = kiln_xasprintf("%s/%s", d, name);
        if (access(p, X_OK) == 0)
            return true;
    }
    return false;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int write_file(const char *path, const char *text, struct kiln_error **err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", path);
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    close(fd);
    return n == (ssize_t)len ? 0 : kiln_error_set_errno(err, -EIO, "cannot write '%s'", path);
}

/* The host's resolv.conf; without host networking, localhost name servers are dropped. */
static char *resolv_conf(bool host)
{
    FILE *f = fopen("/etc/resolv.conf", "re");
    struct kiln_buf b = KILN_BUF_INIT(1u << 20);
    char line[1024];
    while (f && fgets(line, sizeof(line), f)) {
        if (!host && strncmp(line, "nameserver", 10) == 0 &&
            (strstr(line, " 127.") || strstr(line, " ::1")))
            continue;
        kiln_buf_adds(&b, line);
    }
    if (f)
        fclose(f);
    return kiln_buf_detach(&b, NULL);
}

static int make_cwd(const char *rootfs, const char *cwd, uint32_t uid, uint32_t gid)
{
    int root = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return -errno;
    _cleanup_free_ char *p = kiln_xstrdup(cwd);
    int r = 0;
    for (char *s = p + 1; r == 0; s++) {
        bool end = *s == '\0';
        if (*s != '/' && !end)
            continue;
        *s = '\0';
        int fd = kiln_fsroot_open(root, p, O_RDONLY | O_DIRECTORY, 0);
        if (fd == -ENOENT) {
            char *slash = strrchr(p, '/');
            *slash = '\0';
            int pfd = kiln_fsroot_open(root, *p ? p : "/", O_RDONLY | O_DIRECTORY, 0);
            *slash = '/';
            if (pfd < 0 || mkdirat(pfd, slash + 1, 0755) < 0 ||
                fchownat(pfd, slash + 1, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                r = -errno;
            if (pfd >= 0)
                close(pfd);
        } else if (fd >= 0) {
            close(fd);
        }
        if (end)
            break;
        *s = '/';
    }
    close(root);
    return r;
}

/* Runs `argv` and waits; returns its exit status or -errno. */
static int run_quiet(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct child {
    pid_t pid;
    int out, err;
};

static int spawn(const char *runtime, const char *state, const char *bundle, const char *id,
                 struct child *c, struct kiln_error **err)
{
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) < 0)
        return kiln_error_set_errno(err, -errno, "pipe");
    if (pipe2(pe, O_CLOEXEC) < 0) {
        close(po[0]);
        close(po[1]);
        return kiln_error_set_errno(err, -errno, "pipe");
    }
    c->pid = fork();
    if (c->pid == 0) {
        setpgid(0, 0);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        execlp(runtime, runtime, "--root", state, "run", "--bundle", bundle, id, (char *)NULL);
        dprintf(2, "cannot run %s: %s\n", runtime, strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    c->out = po[0];
    c->err = pe[0];
    if (c->pid < 0) {
        close(po[0]);
        close(pe[0]);
        return kiln_error_set_errno(err, -errno, "fork");
    }
    return 0;
}

static void kill_tree(const char *runtime, const char *state, const char *id, pid_t pid)
{
    char *const argv[] = {(char *)runtime, (char *)"--root", (char *)state,  (char *)"kill",
                          (char *)"--all", (char *)id,       (char *)"KILL", NULL};
    run_quiet(argv);
    kill(-pid, SIGKILL);
}

/* Forwards output until both pipes close; kills on timeout or cancel. */
static int pump(const struct kiln_sandbox_opts *o, struct child *c, const char *runtime,
                const char *state, const char *id, struct kiln_error **err)
{
    int64_t deadline = o->timeout_ns ? now_ns() + o->timeout_ns : 0;
    int fds[2] = {c->out, c->err};
    int open_fds = 2, r = 0;
    bool killed = false;
    while (open_fds > 0) {
        struct pollfd p[3] = {{.fd = fds[0], .events = POLLIN},
                              {.fd = fds[1], .events = POLLIN},
                              {.fd = o->cancel_fd, .events = POLLIN}};
        int timeout = deadline ? (int)((deadline - now_ns()) / 1000000) : -1;
        if (deadline && timeout < 0)
            timeout = 0;
        int n = poll(p, o->cancel_fd >= 0 ? 3 : 2, killed ? 1000 : timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (!killed && ((n == 0 && deadline) || (o->cancel_fd >= 0 && p[2].revents))) {
            r = n == 0 ? kiln_error_set(err, KILN_E_TIMEOUT, "the command ran past its time limit")
                       : kiln_error_set(err, KILN_E_CANCELLED, "the build was cancelled");
            kill_tree(runtime, state, id, c->pid);
            killed = true;
            continue;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[8192];
            ssize_t got = read(fds[i], buf, sizeof(buf));
            if (got > 0 && o->output)
                o->output(o->output_userdata, i + 1, buf, (size_t)got);
            if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
                close(fds[i]);
                fds[i] = -1;
                open_fds--;
            }
        }
    }
    return r;
}

int kiln_sandbox_run(const struct kiln_sandbox_opts *o, int *ret_exit_code, struct kiln_error **err)
{
    const char *runtime = o->runtime ? o->runtime : "runc";
    if (!find_program(runtime))
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "RUN needs the OCI runtime %s, which is not installed: apt-get "
                              "install runc",
                              runtime);
    _cleanup_free_ char *hosts = kiln_xasprintf("%s/hosts", o->state_dir);
    _cleanup_free_ char *resolv = kiln_xasprintf("%s/resolv.conf", o->state_dir);
    _cleanup_free_ char *state = kiln_xasprintf("%s/runtime", o->state_dir);
    _cleanup_free_ char *config = kiln_xasprintf("%s/config.json", o->state_dir);
    _cleanup_free_ char *resolv_text = resolv_conf(o->network == KILN_SANDBOX_NET_HOST);
    char id[64];
    snprintf(id, sizeof(id), "kiln-%d-%lld", (int)getpid(), (long long)now_ns());
    int r = write_file(hosts,
                       "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost "
                       "ip6-loopback\n",
                       err);
    if (r >= 0)
        r = write_file(resolv, resolv_text, err);
    struct kiln_stubs stubs;
    if (r >= 0 && kiln_stubs_find(o->rootfs, &stubs) < 0)
        r = kiln_error_set_errno(err, -errno, "cannot open the rootfs '%s'", o->rootfs);
    if (r < 0)
        return r;
    if (make_cwd(o->rootfs, o->cwd, o->uid, o->gid) < 0)
        r = kiln_error_set_errno(err, -errno, "cannot create the working directory %s", o->cwd);
    json_t *spec = r >= 0 ? kiln_sandbox_spec(o, hosts, resolv) : NULL;
    if (spec && json_dump_file(spec, config, JSON_COMPACT) < 0)
        r = kiln_error_set(err, -EIO, "cannot write '%s'", config);
    json_decref(spec);
    struct child c = {.pid = -1};
    if (r >= 0)
        r = spawn(runtime, state, o->state_dir, id, &c, err);
    if (r >= 0) {
        r = pump(o, &c, runtime, state, id, err);
        int st = 0;
        while (waitpid(c.pid, &st, 0) < 0 && errno == EINTR)
            ;
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        *ret_exit_code = code;
        char *const del[] = {
                (char *)runtime, (char *)"--root", state, (char *)"delete", (char *)"-f", id, NULL};
        run_quiet(del);
    }
    kiln_stubs_remove(&stubs);
    return r;
}
