/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-netns.c - RUN's default network with the real slirp4netns: a new
 * namespace with outbound network that cannot reach the host's loopback,
 * torn down without a trace (no slirp4netns, no fd) on close, cancel and
 * failure; its spec entry and resolv.conf. Tests that need root and
 * slirp4netns are skipped without them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "sandbox/netfiles.h"
#include "sandbox/netns-egress.h"
#include "sandbox/netns-spare.h"
#include "sandbox/netns.h"
#include "sandbox/spec.h"

#include "base/banned.h"

/* slirp4netns processes whose parent is this process. */
static int slirp_children(void)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int n = 0;
    char want[32];
    snprintf(want, sizeof(want), "PPid:\t%d\n", (int)getpid());
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], text[4096] = "";
        snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, text, sizeof(text) - 1);
        close(fd);
        if (len > 0 && strncmp(text, "Name:\tslirp4netns\n", 18) == 0 && strstr(text, want))
            n++;
    }
    closedir(d);
    return n;
}

/* slirp4netns children once the ones just killed are reaped (in the background: at most 2 s). */
static int slirp_children_after_close(void)
{
    int n = slirp_children();
    for (int i = 0; n > 0 && i < 200; i++) {
        usleep(10000);
        n = slirp_children();
    }
    return n;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

static bool have_slirp(void)
{
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/bin:/bin";; p++) {
        size_t len = strcspn(p, ":");
        _cleanup_free_ char *cand = kiln_xasprintf("%.*s/slirp4netns", (int)len, p);
        if (access(cand, X_OK) == 0)
            return true;
        p += len;
        if (!*p)
            return false;
    }
}

static void need_root_and_slirp(void)
{
    if (geteuid() != 0 || !have_slirp()) {
        print_message("needs root and slirp4netns (apt-get install slirp4netns)\n");
        skip();
    }
}

/* A TCP listener on addr (IPv4 text), port chosen by the kernel; returns the fd and *port. */
static int listen_on(const char *addr, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* The first IPv4 address of an interface that is up and not loopback, or false. */
static bool host_address(char out[INET_ADDRSTRLEN])
{
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) < 0)
        return false;
    bool found = false;
    for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_UP) &&
            !(i->ifa_flags & IFF_LOOPBACK))
            found = inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out,
                              INET_ADDRSTRLEN) != NULL;
    freeifaddrs(ifs);
    return found;
}

struct probe {
    int nsfd;
    const char *addr;
    uint16_t port;
    int result; /* 0 connected, -errno */
};

/* Connects to probe->addr:port from inside the namespace (this thread only joins it). */
static void *probe_thread(void *arg)
{
    struct probe *p = arg;
    if (setns(p->nsfd, CLONE_NEWNET) < 0) {
        p->result = -errno;
        return NULL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(p->port)};
    inet_pton(AF_INET, p->addr, &sa.sin_addr);
    p->result = -ETIMEDOUT;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        p->result = 0;
    } else if (errno == EINPROGRESS) {
        struct pollfd pf = {fd, POLLOUT, 0};
        if (poll(&pf, 1, 3000) == 1) {
            int e = 0;
            socklen_t len = sizeof(e);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);
            p->result = -e;
        }
    } else {
        p->result = -errno;
    }
    close(fd);
    return NULL;
}

/* Whether a connection from the namespace to addr:port gets through to the listener lfd. */
/* The host's non-loopback address, or the case is skipped. */
static void need_host_address(char addr[INET_ADDRSTRLEN])
{
    if (!host_address(addr)) {
        print_message("the host has no non-loopback IPv4 address\n");
        skip();
    }
}

static bool reaches(int nsfd, int lfd, const char *addr, uint16_t port)
{
    struct probe p = {nsfd, addr, port, -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, probe_thread, &p), 0);
    pthread_join(t, NULL);
    if (p.result != 0)
        return false;
    /* slirp4netns accepts for the guest first: the host side proves it got through */
    struct pollfd pf = {lfd, POLLIN, 0};
    if (poll(&pf, 1, 3000) != 1)
        return false;
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c >= 0)
        close(c);
    return c >= 0;
}

static void test_netns__reaches_hosts_but_not_host_loopback(void **state)
{
    (void)state;
    need_root_and_slirp();
    char addr[INET_ADDRSTRLEN];
    need_host_address(addr);
    uint16_t lo_port, ext_port;
    int lo = listen_on("127.0.0.1", &lo_port);
    int ext = listen_on(addr, &ext_port);
    struct kiln_sandbox_netns ns;
    struct kiln_error *err = NULL;
    assert_int_equal(kiln_sandbox_netns_open(&ns, -1, &err), 0);

    struct stat own, other;
    assert_int_equal(stat("/proc/self/ns/net", &own), 0);
    assert_int_equal(stat(ns.path, &other), 0);
    if (own.st_ino == other.st_ino)
        fail_msg("'%s' is the host's own network namespace", ns.path);
    assert_int_equal(slirp_children(), 1);

    if (!reaches(ns.fd, ext, addr, ext_port))
        fail_msg("the namespace cannot reach %s:%u on the host", addr, ext_port);
    if (reaches(ns.fd, lo, "10.0.2.2", lo_port))
        fail_msg("the namespace reached the host's 127.0.0.1:%u through 10.0.2.2", lo_port);
    if (reaches(ns.fd, lo, "127.0.0.1", lo_port))
        fail_msg("the namespace's 127.0.0.1 is the host's");

    kiln_sandbox_netns_close(&ns);
    assert_int_equal(ns.fd, -1);
    assert_int_equal(slirp_children_after_close(), 0);
    close(lo);
    close(ext);
}

static void test_netns__close_leaves_nothing(void **state)
{
    (void)state;
    need_root_and_slirp();
    int fds = open_fds();
    for (int i = 0; i < 5; i++) {
        struct kiln_sandbox_netns ns;
        assert_int_equal(kiln_sandbox_netns_open(&ns, -1, NULL), 0);
        assert_int_equal(slirp_children(), 1);
        kiln_sandbox_netns_close(&ns);
        kiln_sandbox_netns_close(&ns); /* a closed one again is a no-op */
        assert_int_equal(slirp_children_after_close(), 0);
    }
    assert_int_equal(open_fds(), fds);
}

/* Whether a slirp4netns whose namespace path names `pid` runs, within 2 s. */
static bool slirp_of_pid_stays(pid_t pid)
{
    char want[48];
    snprintf(want, sizeof(want), "/proc/%d/fd/", (int)pid);
    for (int i = 0; i < 200; i++) {
        bool seen = false;
        DIR *d = opendir("/proc");
        assert_non_null(d);
        for (struct dirent *e; (e = readdir(d));) {
            char path[300], cmd[4096] = "";
            snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue;
            ssize_t len = read(fd, cmd, sizeof(cmd) - 1);
            close(fd);
            for (ssize_t k = 0; k < len; k++)
                if (cmd[k] == '\0')
                    cmd[k] = ' ';
            seen |= len > 0 && strncmp(cmd, "slirp4netns ", 12) == 0 && strstr(cmd, want);
        }
        closedir(d);
        if (!seen)
            return false;
        usleep(10000);
    }
    return true;
}

static void test_netns__owner_killed_leaves_no_slirp(void **state)
{
    (void)state;
    need_root_and_slirp();
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct kiln_sandbox_netns ns;
        char ok = kiln_sandbox_netns_open(&ns, -1, NULL) == 0 ? 'y' : 'n';
        if (write(p[1], &ok, 1) != 1)
            _exit(2);
        pause(); /* killed, never closes ns */
        _exit(0);
    }
    close(p[1]);
    char ok = 0;
    assert_int_equal(read(p[0], &ok, 1), 1);
    close(p[0]);
    assert_int_equal(ok, 'y');
    assert_true(slirp_of_pid_stays(child)); /* running while its owner lives */
    kill(child, SIGKILL);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    if (slirp_of_pid_stays(child))
        fail_msg("slirp4netns outlived the process that started it by 2 s");
}

static void test_netns__cancel_leaves_nothing(void **state)
{
    (void)state;
    need_root_and_slirp();
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    int fds = open_fds();
    struct kiln_sandbox_netns ns;
    struct kiln_error *err = NULL;
    int r = kiln_sandbox_netns_open(&ns, p[0], &err);
    if (r != KILN_E_CANCELLED)
        fail_msg("open with cancel: %d %s", r, err ? err->message : "");
    kiln_error_free(err);
    assert_int_equal(slirp_children_after_close(), 0);
    assert_int_equal(open_fds(), fds);
    close(p[0]);
    close(p[1]);
}

static void test_netns__missing_slirp_says_what_to_install(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    _cleanup_free_ char *path = kiln_xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin");
    setenv("PATH", "/nonexistent", 1);
    int fds = open_fds();
    struct kiln_sandbox_netns ns;
    struct kiln_error *err = NULL;
    int r = kiln_sandbox_netns_open(&ns, -1, &err);
    setenv("PATH", path, 1);
    assert_int_equal(r, KILN_E_NOTFOUND);
    assert_non_null(err);
    if (!strstr(err->message, "apt-get install slirp4netns") ||
        !strstr(err->message, "--network=none"))
        fail_msg("message names neither the package nor the way out: %s", err->message);
    kiln_error_free(err);
    assert_int_equal(open_fds(), fds);
}

/* A slirp4netns that fails at once: a fault the real one gives only on a broken host. */
static void test_netns__slirp_failing_is_reported_with_its_message(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    char dir[] = "/tmp/kiln-netns-XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *fake = kiln_xasprintf("%s/slirp4netns", dir);
    int fd = open(fake, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    assert_true(fd >= 0);
    static const char script[] = "#!/bin/sh\necho 'open(\"/dev/net/tun\"): No such device' >&2\n"
                                 "exit 1\n";
    assert_int_equal(write(fd, script, sizeof(script) - 1), (ssize_t)sizeof(script) - 1);
    close(fd);
    _cleanup_free_ char *path = kiln_xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin");
    _cleanup_free_ char *with_fake = kiln_xasprintf("%s:%s", dir, path);
    setenv("PATH", with_fake, 1);
    int fds = open_fds();
    struct kiln_sandbox_netns ns;
    struct kiln_error *err = NULL;
    int r = kiln_sandbox_netns_open(&ns, -1, &err);
    setenv("PATH", path, 1);
    unlink(fake);
    rmdir(dir);
    assert_int_equal(r, KILN_E_UPSTREAM);
    if (!strstr(err->message, "/dev/net/tun") || !strstr(err->message, "--network=none"))
        fail_msg("message lacks slirp4netns's own words or the way out: %s", err->message);
    kiln_error_free(err);
    assert_int_equal(open_fds(), fds);
}

static void test_netns__spec_joins_the_namespace(void **state)
{
    (void)state;
    struct kiln_sandbox_opts o = {.rootfs = "/r",
                                  .argv = (const char *const[]){"true", NULL},
                                  .cwd = "/",
                                  .network = KILN_SANDBOX_NET_DEFAULT,
                                  .netns = "/proc/1/fd/9"};
    json_t *spec = kiln_sandbox_spec(&o, "/s/hosts", "/s/resolv.conf");
    json_t *nss = json_object_get(json_object_get(spec, "linux"), "namespaces");
    const char *path = NULL;
    for (size_t i = 0; i < json_array_size(nss); i++) {
        json_t *n = json_array_get(nss, i);
        if (strcmp(json_string_value(json_object_get(n, "type")), "network") == 0)
            path = json_string_value(json_object_get(n, "path"));
    }
    if (!path || strcmp(path, "/proc/1/fd/9") != 0)
        fail_msg("network namespace path: %s", path ? path : "(none)");
    json_decref(spec);
}

static void test_netns__resolv_for_the_default_network(void **state)
{
    (void)state;
    struct kiln_buf b = KILN_BUF_INIT(4096);
    /* loopback resolvers are out of reach: slirp4netns's forwarder asks them */
    assert_int_equal(kiln_sandbox_resolv("nameserver 127.0.0.53\nsearch example.org\n",
                                         KILN_SANDBOX_NET_DEFAULT, &b, NULL),
                     0);
    assert_string_equal(b.buf, "nameserver 10.0.2.3\nsearch example.org\n");
    kiln_buf_reset(&b);
    /* other resolvers are reached through slirp4netns, as BuildKit keeps them */
    assert_int_equal(kiln_sandbox_resolv("nameserver 127.0.0.1\nnameserver 192.0.2.53\n",
                                         KILN_SANDBOX_NET_DEFAULT, &b, NULL),
                     0);
    assert_string_equal(b.buf, "nameserver 192.0.2.53\n");
    kiln_buf_reset(&b);
    /* --network=none keeps BuildKit's public fallback */
    assert_int_equal(kiln_sandbox_resolv("nameserver 127.0.0.1\n", KILN_SANDBOX_NET_NONE, &b, NULL),
                     0);
    if (strstr(b.buf, "10.0.2.3"))
        fail_msg("--network=none names slirp4netns's resolver: %s", b.buf);
    kiln_buf_release(&b);
}

/* KILN_RUN_EGRESS_DENY: read as IPv4 CIDRs, none, or the default (the metadata ranges). */
static void test_netns__egress_ranges(void **state)
{
    (void)state;
    struct kiln_sandbox_egress d;
    struct kiln_error *e = NULL;
    unsetenv(KILN_SANDBOX_EGRESS_ENV);
    assert_int_equal(kiln_sandbox_egress_get(&d, &e), 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.v[0].addr, inet_addr("169.254.0.0"));
    assert_int_equal(d.v[0].bits, 16);
    assert_int_equal(d.v[1].addr, inet_addr("100.100.100.200"));
    assert_int_equal(d.v[1].bits, 32);
    setenv(KILN_SANDBOX_EGRESS_ENV, "10.1.2.3/8", 1); /* host bits cleared */
    assert_int_equal(kiln_sandbox_egress_get(&d, &e), 0);
    assert_int_equal(d.v[0].addr, inet_addr("10.0.0.0"));
    static const char *const none[] = {"none", ""};
    for (size_t i = 0; i < 2; i++) {
        setenv(KILN_SANDBOX_EGRESS_ENV, none[i], 1);
        assert_int_equal(kiln_sandbox_egress_get(&d, &e), 0);
        assert_int_equal(d.n, 0);
    }
    static const char *const bad[] = {"bogus",    "10.0.0.1",   "10.0.0.0/33",
                                      "fd00::/8", "1.2.3.4/8,", ",1.2.3.4/8"};
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        setenv(KILN_SANDBOX_EGRESS_ENV, bad[i], 1);
        assert_int_equal(kiln_sandbox_egress_get(&d, &e), KILN_E_INVALID);
        if (!strstr(e->message, KILN_SANDBOX_EGRESS_ENV) || !strstr(e->message, "CIDR"))
            fail_msg("'%s': %s", bad[i], e->message);
        kiln_error_free(e);
        e = NULL;
    }
    unsetenv(KILN_SANDBOX_EGRESS_ENV);
}

/* A denied range is out of reach of the namespace; the same address is reached without it. */
static void test_netns__denied_range_is_unreachable(void **state)
{
    (void)state;
    need_root_and_slirp();
    char addr[INET_ADDRSTRLEN];
    need_host_address(addr);
    uint16_t port;
    int ext = listen_on(addr, &port);
    _cleanup_free_ char *deny = kiln_xasprintf("%s/32", addr);
    setenv(KILN_SANDBOX_EGRESS_ENV, deny, 1);
    struct kiln_sandbox_netns ns;
    struct kiln_error *err = NULL;
    int r = kiln_sandbox_netns_open(&ns, -1, &err);
    unsetenv(KILN_SANDBOX_EGRESS_ENV);
    if (r < 0)
        fail_msg("open with %s=%s: %s", KILN_SANDBOX_EGRESS_ENV, deny, kiln_error_message(err, r));
    if (reaches(ns.fd, ext, addr, port))
        fail_msg("the namespace reached %s:%u, which %s denies", addr, port,
                 KILN_SANDBOX_EGRESS_ENV);
    kiln_sandbox_netns_close(&ns);
    assert_int_equal(kiln_sandbox_netns_open(&ns, -1, &err), 0); /* the default: reached */
    if (!reaches(ns.fd, ext, addr, port))
        fail_msg("the namespace does not reach %s:%u without the rule", addr, port);
    kiln_sandbox_netns_close(&ns);
    close(ext);
    assert_int_equal(slirp_children_after_close(), 0);
}

/* Each step's namespace is made while the previous step runs, and is never handed out twice. */
static void test_netns__spare_is_made_ahead_and_never_reused(void **state)
{
    (void)state;
    need_root_and_slirp();
    struct kiln_sandbox_netns a, b;
    struct kiln_error *err = NULL;
    assert_int_equal(kiln_sandbox_netns_take(&a, -1, &err), 0);
    int n = slirp_children(); /* a's, and the spare's once it started */
    for (int i = 0; n < 2 && i < 200; i++) {
        usleep(10000);
        n = slirp_children();
    }
    assert_int_equal(n, 2);
    assert_int_equal(kiln_sandbox_netns_take(&b, -1, &err), 0);
    struct stat sa, sb;
    assert_int_equal(stat(a.path, &sa), 0);
    assert_int_equal(stat(b.path, &sb), 0);
    if (sa.st_ino == sb.st_ino)
        fail_msg("the same namespace was handed out twice");
    kiln_sandbox_netns_close(&a);
    kiln_sandbox_netns_close(&b);
    kiln_sandbox_netns_drop_spare();
    assert_int_equal(slirp_children_after_close(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_netns__reaches_hosts_but_not_host_loopback),
            cmocka_unit_test(test_netns__close_leaves_nothing),
            cmocka_unit_test(test_netns__owner_killed_leaves_no_slirp),
            cmocka_unit_test(test_netns__cancel_leaves_nothing),
            cmocka_unit_test(test_netns__missing_slirp_says_what_to_install),
            cmocka_unit_test(test_netns__slirp_failing_is_reported_with_its_message),
            cmocka_unit_test(test_netns__spec_joins_the_namespace),
            cmocka_unit_test(test_netns__resolv_for_the_default_network),
            cmocka_unit_test(test_netns__egress_ranges),
            cmocka_unit_test(test_netns__denied_range_is_unreachable),
            cmocka_unit_test(test_netns__spare_is_made_ahead_and_never_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
