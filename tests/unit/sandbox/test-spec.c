/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-spec.c - what the sandbox writes and makes, without running it: the
 * runtime spec, /etc/hosts and resolv.conf, and mount stubs in a rootfs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "sandbox/netfiles.h"
#include "sandbox/spec.h"
#include "sandbox/stubs.h"

#include "base/banned.h"

static const char *const test_argv[] = {"/bin/sh", "-c", "true", NULL};
static const char *const test_env[] = {"PATH=/bin", NULL};

static struct kiln_sandbox_opts opts(enum kiln_sandbox_network net)
{
    return (struct kiln_sandbox_opts){.rootfs = "/r",
                                      .argv = test_argv,
                                      .env = test_env,
                                      .cwd = "/w",
                                      .uid = 7,
                                      .gid = 8,
                                      .network = net,
                                      .cancel_fd = -1};
}

static bool has_string(json_t *a, const char *s)
{
    for (size_t i = 0; i < json_array_size(a); i++)
        if (strcmp(json_string_value(json_array_get(a, i)), s) == 0)
            return true;
    return false;
}

static json_t *mount_at(json_t *spec, const char *dest)
{
    json_t *m = json_object_get(spec, "mounts");
    for (size_t i = 0; i < json_array_size(m); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(m, i), "destination")), dest) ==
            0)
            return json_array_get(m, i);
    return NULL;
}

static void test_spec__process_as_given(void **state)
{
    struct kiln_sandbox_opts o = opts(KILN_SANDBOX_NET_NONE);
    uint32_t groups[] = {10, 20};
    o.groups = groups;
    o.n_groups = 2;
    json_t *spec = kiln_sandbox_spec(&o, "/s/hosts", "/s/resolv.conf");
    json_t *p = json_object_get(spec, "process");
    assert_int_equal(json_array_size(json_object_get(p, "args")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(p, "args"), 2)), "true");
    assert_int_equal(json_array_size(json_object_get(p, "env")), 1);
    assert_string_equal(json_string_value(json_object_get(p, "cwd")), "/w");
    json_t *u = json_object_get(p, "user");
    assert_int_equal(json_integer_value(json_object_get(u, "uid")), 7);
    assert_int_equal(json_integer_value(json_object_get(u, "gid")), 8);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(u, "additionalGids"), 1)),
                     20);
    assert_false(json_is_true(json_object_get(p, "noNewPrivileges")));
    assert_false(json_is_true(json_object_get(p, "terminal")));
    assert_string_equal(json_string_value(json_object_get(spec, "hostname")), "buildkitsandbox");
    assert_string_equal(json_string_value(json_object_get(json_object_get(spec, "root"), "path")),
                        "/r");
    json_decref(spec);
}

static void test_spec__fourteen_default_capabilities(void **state)
{
    struct kiln_sandbox_opts o = opts(KILN_SANDBOX_NET_NONE);
    json_t *spec = kiln_sandbox_spec(&o, "/s/hosts", "/s/resolv.conf");
    json_t *caps = json_object_get(json_object_get(spec, "process"), "capabilities");
    static const char *const want[] = {
            "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
            "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
            "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
            "CAP_KILL",    "CAP_AUDIT_WRITE"};
    static const char *const sets[] = {"bounding", "effective", "permitted"};
    for (size_t s = 0; s < ELEMENTSOF(sets); s++) {
        json_t *set = json_object_get(caps, sets[s]);
        assert_int_equal(json_array_size(set), ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
            if (!has_string(set, want[i]))
                fail_msg("capability set '%s' lacks %s", sets[s], want[i]);
    }
    assert_false(has_string(json_object_get(caps, "bounding"), "CAP_SYS_ADMIN"));
    json_decref(spec);
}

static void test_spec__namespaces_follow_network(void **state)
{
    for (int net = 0; net < 2; net++) {
        struct kiln_sandbox_opts o = opts(net);
        json_t *spec = kiln_sandbox_spec(&o, "/s/hosts", "/s/resolv.conf");
        json_t *ns = json_object_get(json_object_get(spec, "linux"), "namespaces");
        bool seen[5] = {0};
        static const char *const types[] = {"pid", "ipc", "uts", "mount", "network"};
        for (size_t i = 0; i < json_array_size(ns); i++) {
            const char *t = json_string_value(json_object_get(json_array_get(ns, i), "type"));
            for (size_t k = 0; k < ELEMENTSOF(types); k++)
                seen[k] |= strcmp(t, types[k]) == 0;
        }
        for (size_t k = 0; k < 4; k++)
            if (!seen[k])
                fail_msg("namespace '%s' missing", types[k]);
        if (seen[4] != (net == KILN_SANDBOX_NET_NONE))
            fail_msg("network namespace %s with network mode %d", seen[4] ? "present" : "absent",
                     net);
        json_decref(spec);
    }
}

static void test_spec__mounts_and_masks(void **state)
{
    struct kiln_sandbox_opts o = opts(KILN_SANDBOX_NET_NONE);
    o.hostname = "box";
    json_t *spec = kiln_sandbox_spec(&o, "/s/hosts", "/s/resolv.conf");
    static const char *const dests[] = {"/proc",    "/dev",        "/dev/pts",
                                        "/dev/shm", "/dev/mqueue", "/sys"};
    for (size_t i = 0; i < ELEMENTSOF(dests); i++)
        if (!mount_at(spec, dests[i]))
            fail_msg("no mount at '%s'", dests[i]);
    assert_true(has_string(json_object_get(mount_at(spec, "/sys"), "options"), "ro"));
    json_t *hosts = mount_at(spec, "/etc/hosts");
    assert_non_null(hosts);
    assert_string_equal(json_string_value(json_object_get(hosts, "source")), "/s/hosts");
    assert_true(has_string(json_object_get(hosts, "options"), "ro"));
    assert_true(has_string(json_object_get(hosts, "options"), "nosuid"));
    json_t *resolv = mount_at(spec, "/etc/resolv.conf");
    assert_string_equal(json_string_value(json_object_get(resolv, "source")), "/s/resolv.conf");
    assert_true(has_string(json_object_get(resolv, "options"), "ro"));
    assert_null(mount_at(spec, "/run"));
    json_t *lx = json_object_get(spec, "linux");
    assert_true(has_string(json_object_get(lx, "maskedPaths"), "/proc/kcore"));
    assert_true(has_string(json_object_get(lx, "readonlyPaths"), "/proc/sys"));
    assert_string_equal(json_string_value(json_object_get(spec, "hostname")), "box");
    json_decref(spec);
}

static void test_spec__run_mounts_come_last(void **state)
{
    (void)state;
    struct kiln_sandbox_opts o = opts(KILN_SANDBOX_NET_NONE);
    const struct kiln_sandbox_mount extra[] = {
            {.source = "/data/cache-mounts/ab", .target = "/root/.cache"},
            {.source = "/data/cache-mounts/cd", .target = "/ro", .readonly = true},
            {.source = NULL, .target = "/scratch", .size = 1048576},
    };
    o.mounts = extra;
    o.n_mounts = ELEMENTSOF(extra);
    json_t *spec = kiln_sandbox_spec(&o, "/s/hosts", "/s/resolv.conf");
    json_t *mounts = json_object_get(spec, "mounts");
    size_t n = json_array_size(mounts);
    json_t *cache = json_array_get(mounts, n - 3), *ro = json_array_get(mounts, n - 2),
           *tmp = json_array_get(mounts, n - 1);
    assert_string_equal(json_string_value(json_object_get(cache, "destination")), "/root/.cache");
    assert_string_equal(json_string_value(json_object_get(cache, "type")), "bind");
    assert_true(has_string(json_object_get(cache, "options"), "rw"));
    assert_true(has_string(json_object_get(ro, "options"), "ro"));
    assert_string_equal(json_string_value(json_object_get(tmp, "type")), "tmpfs");
    assert_true(has_string(json_object_get(tmp, "options"), "size=1048576"));
    json_decref(spec);
}

static void test_netfiles__hosts(void **state)
{
    struct kiln_buf b = KILN_BUF_INIT(4096);
    assert_int_equal(kiln_sandbox_hosts(NULL, &b, NULL), 0);
    assert_string_equal(b.buf, "127.0.0.1\tlocalhost buildkitsandbox\n"
                               "::1\tlocalhost ip6-localhost ip6-loopback\n");
    kiln_buf_reset(&b);
    assert_int_equal(kiln_sandbox_hosts("box", &b, NULL), 0);
    assert_string_equal(b.buf, "127.0.0.1\tlocalhost box\n"
                               "::1\tlocalhost ip6-localhost ip6-loopback\n");
    kiln_buf_release(&b);
}

static const char host_conf[] = "# generated\n"
                                "nameserver 127.0.0.53\n"
                                "nameserver 10.0.0.2\n"
                                "nameserver ::1\n"
                                "nameserver 2001:db8::1\n"
                                "nameserver not-an-address\n"
                                "domain old.example\n"
                                "search a.example b.example\n"
                                "options ndots:2\n"
                                "options edns0\n"
                                "sortlist 10.0.0.0\n";

static void test_netfiles__resolv_drops_loopback_without_host_network(void **state)
{
    struct kiln_buf b = KILN_BUF_INIT(4096);
    assert_int_equal(kiln_sandbox_resolv(host_conf, false, &b, NULL), 0);
    assert_string_equal(b.buf, "nameserver 10.0.0.2\n"
                               "nameserver 2001:db8::1\n"
                               "search a.example b.example\n"
                               "options ndots:2 edns0\n"
                               "sortlist 10.0.0.0\n");
    kiln_buf_reset(&b);
    assert_int_equal(kiln_sandbox_resolv(host_conf, true, &b, NULL), 0);
    assert_string_equal(b.buf, "nameserver 127.0.0.53\n"
                               "nameserver 10.0.0.2\n"
                               "nameserver ::1\n"
                               "nameserver 2001:db8::1\n"
                               "search a.example b.example\n"
                               "options ndots:2 edns0\n"
                               "sortlist 10.0.0.0\n");
    kiln_buf_release(&b);
}

static void test_netfiles__resolv_falls_back_to_public_servers(void **state)
{
    struct kiln_buf b = KILN_BUF_INIT(4096);
    assert_int_equal(kiln_sandbox_resolv("nameserver 127.0.0.1\n", false, &b, NULL), 0);
    assert_string_equal(b.buf, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
                               "nameserver 2001:4860:4860::8888\n"
                               "nameserver 2001:4860:4860::8844\n");
    kiln_buf_reset(&b);
    assert_int_equal(kiln_sandbox_resolv("", true, &b, NULL), 0);
    assert_non_null(strstr(b.buf, "nameserver 8.8.8.8\n"));
    kiln_buf_release(&b);
}

/* A temporary directory as the root of a rootfs, with `state` holding its fd. */
struct root {
    char path[64];
    int fd;
};

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static int root_setup(void **state)
{
    struct root *r = kiln_xcalloc(1, sizeof(*r));
    snprintf(r->path, sizeof(r->path), "/tmp/kiln-stubs-XXXXXX");
    assert_non_null(mkdtemp(r->path));
    r->fd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(r->fd >= 0);
    *state = r;
    return 0;
}

static int root_teardown(void **state)
{
    struct root *r = *state;
    close(r->fd);
    nftw(r->path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(r);
    return 0;
}

static void set_mtime(const struct root *r, const char *rel, time_t t)
{
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    assert_int_equal(utimensat(r->fd, rel, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static time_t mtime(const struct root *r, const char *rel)
{
    struct stat st;
    assert_int_equal(fstatat(r->fd, rel, &st, AT_SYMLINK_NOFOLLOW), 0);
    return st.st_mtim.tv_sec;
}

static void test_stubs__made_and_removed_with_parent_times(void **state)
{
    struct root *r = *state;
    assert_int_equal(mkdirat(r->fd, "etc", 0755), 0);
    set_mtime(r, "etc", 1000);
    set_mtime(r, ".", 2000);
    struct kiln_sandbox_stubs s = {0};
    assert_int_equal(kiln_sandbox_mkpath(r->fd, "/etc/hosts", false, 0, 0, &s, NULL), 0);
    assert_int_equal(kiln_sandbox_mkpath(r->fd, "/proc", true, 0, 0, &s, NULL), 0);
    assert_int_equal(kiln_sandbox_mkpath(r->fd, "/a/b/c", true, 0, 0, &s, NULL), 0);
    assert_int_equal(s.n, 5); /* etc/hosts, proc, a, a/b, a/b/c */
    struct stat st;
    assert_int_equal(fstatat(r->fd, "etc/hosts", &st, 0), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(fstatat(r->fd, "a/b/c", &st, 0), 0);
    assert_true(S_ISDIR(st.st_mode));
    kiln_sandbox_stubs_remove(r->fd, &s);
    assert_int_equal(s.n, 0);
    assert_int_equal(faccessat(r->fd, "etc/hosts", F_OK, AT_SYMLINK_NOFOLLOW), -1);
    assert_int_equal(faccessat(r->fd, "proc", F_OK, AT_SYMLINK_NOFOLLOW), -1);
    assert_int_equal(faccessat(r->fd, "a", F_OK, AT_SYMLINK_NOFOLLOW), -1);
    assert_int_equal(mtime(r, "etc"), 1000);
    assert_int_equal(mtime(r, "."), 2000);
}

static void test_stubs__written_stub_is_kept(void **state)
{
    struct root *r = *state;
    struct kiln_sandbox_stubs s = {0};
    assert_int_equal(kiln_sandbox_mkpath(r->fd, "/dev", true, 0, 0, &s, NULL), 0);
    assert_int_equal(kiln_sandbox_mkpath(r->fd, "/etc/hosts", false, 0, 0, &s, NULL), 0);
    int fd = openat(r->fd, "dev/kept", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    close(fd);
    fd = openat(r->fd, "etc/hosts", O_WRONLY | O_CLOEXEC);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
    kiln_sandbox_stubs_remove(r->fd, &s);
    assert_int_equal(faccessat(r->fd, "dev/kept", F_OK, 0), 0);
    assert_int_equal(faccessat(r->fd, "etc/hosts", F_OK, 0), 0);
}

static void test_stubs__symlinks_stay_inside_the_root(void **state)
{
    struct root *r = *state;
    _cleanup_free_ char *outside = kiln_xasprintf("%s-outside", r->path);
    assert_int_equal(mkdir(outside, 0755), 0);
    _cleanup_free_ char *escape = kiln_xasprintf("../../../../../..%s/f", outside);
    assert_int_equal(mkdirat(r->fd, "etc", 0755), 0);
    assert_int_equal(symlinkat(escape, r->fd, "etc/hosts"), 0);
    _cleanup_free_ char *abs = kiln_xasprintf("%s/g", outside);
    assert_int_equal(symlinkat(abs, r->fd, "etc/resolv.conf"), 0);
    assert_int_equal(symlinkat("/etc/../dir-elsewhere", r->fd, "proc"), 0);
    struct kiln_sandbox_stubs s = {0};
    assert_int_equal(kiln_sandbox_mkpath(r->fd, "/etc/hosts", false, 0, 0, &s, NULL), 0);
    assert_int_equal(kiln_sandbox_mkpath(r->fd, "/etc/resolv.conf", false, 0, 0, &s, NULL), 0);
    assert_int_equal(kiln_sandbox_mkpath(r->fd, "/proc", true, 0, 0, &s, NULL), 0);
    _cleanup_free_ char *f = kiln_xasprintf("%s/f", outside);
    _cleanup_free_ char *g = kiln_xasprintf("%s/g", outside);
    assert_int_equal(access(f, F_OK), -1);
    assert_int_equal(access(g, F_OK), -1);
    /* The links resolved inside: <root><outside>/f, <root><outside>/g and <root>/dir-elsewhere. */
    _cleanup_free_ char *inside = kiln_xasprintf("%s/f", outside + 1);
    assert_int_equal(faccessat(r->fd, inside, F_OK, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(faccessat(r->fd, "dir-elsewhere", F_OK, AT_SYMLINK_NOFOLLOW), 0);
    kiln_sandbox_stubs_remove(r->fd, &s);
    assert_int_equal(faccessat(r->fd, inside, F_OK, AT_SYMLINK_NOFOLLOW), -1);
    assert_int_equal(faccessat(r->fd, "dir-elsewhere", F_OK, AT_SYMLINK_NOFOLLOW), -1);
    assert_int_equal(faccessat(r->fd, "etc/hosts", F_OK, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(rmdir(outside), 0);
}

static void test_stubs__link_loop_is_refused(void **state)
{
    struct root *r = *state;
    assert_int_equal(symlinkat("/b", r->fd, "a"), 0);
    assert_int_equal(symlinkat("/a", r->fd, "b"), 0);
    struct kiln_sandbox_stubs s = {0};
    struct kiln_error *e = NULL;
    assert_int_equal(kiln_sandbox_mkpath(r->fd, "/a/x", true, 0, 0, &s, &e), -ELOOP);
    assert_non_null(strstr(e->message, "'/a/x'"));
    kiln_error_free(e);
    kiln_sandbox_stubs_release(&s);
}

static void test_stubs__workdir_owned_by_user(void **state)
{
    struct root *r = *state;
    assert_int_equal(kiln_sandbox_mkpath(r->fd, "/w/x", true, 1000, 1001, NULL, NULL), 0);
    struct stat st;
    assert_int_equal(fstatat(r->fd, "w/x", &st, 0), 0);
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_gid, 1001);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(fstatat(r->fd, "w", &st, 0), 0);
    assert_int_equal(st.st_uid, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_spec__process_as_given),
            cmocka_unit_test(test_spec__fourteen_default_capabilities),
            cmocka_unit_test(test_spec__namespaces_follow_network),
            cmocka_unit_test(test_spec__run_mounts_come_last),
            cmocka_unit_test(test_spec__mounts_and_masks),
            cmocka_unit_test(test_netfiles__hosts),
            cmocka_unit_test(test_netfiles__resolv_drops_loopback_without_host_network),
            cmocka_unit_test(test_netfiles__resolv_falls_back_to_public_servers),
            cmocka_unit_test_setup_teardown(test_stubs__made_and_removed_with_parent_times,
                                            root_setup, root_teardown),
            cmocka_unit_test_setup_teardown(test_stubs__written_stub_is_kept, root_setup,
                                            root_teardown),
            cmocka_unit_test_setup_teardown(test_stubs__symlinks_stay_inside_the_root, root_setup,
                                            root_teardown),
            cmocka_unit_test_setup_teardown(test_stubs__link_loop_is_refused, root_setup,
                                            root_teardown),
            cmocka_unit_test_setup_teardown(test_stubs__workdir_owned_by_user, root_setup,
                                            root_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
