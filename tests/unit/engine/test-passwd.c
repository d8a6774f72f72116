/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-passwd.c - "user[:group]" looked up in a root's /etc/passwd and
 * /etc/group (never the host's), and WORKDIR's mkdir -p with its owner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "engine/mkdir.h"
#include "engine/passwd.h"

#include "base/banned.h"

struct fx {
    char root[64];
    struct kiln_error *err;
};

static int fx_setup(void **state)
{
    struct fx *f = kiln_xcalloc(1, sizeof(*f));
    (void)snprintf(f->root, sizeof(f->root), "/var/tmp/kiln-passwd-test-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", f->root, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
    kiln_error_free(f->err);
    free(f);
    return 0;
}

static void put(const char *root, const char *rel, const char *data)
{
    char *dir = kiln_xasprintf("%s/etc", root);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", dir, strerror(errno));
    char *p = kiln_xasprintf("%s/%s", root, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
    free(p);
    free(dir);
}

static void image(const char *root)
{
    put(root, "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\n"
        "# a comment line\n"
        "daemon:x:1:1::/:/bin/false\n"
        "app:x:1000:1001:App:/home/app:/bin/sh\n"
        "broken-line\n");
    put(root, "etc/group",
        "root:x:0:\n"
        "staff:x:50:app,daemon\n"
        "app:x:1001:\n"
        "docker:x:999:app\n");
}

struct ids {
    uint32_t uid, gid;
    uint32_t *groups;
    size_t n;
};

static int resolve(struct fx *f, const char *spec, bool copy, struct ids *ids)
{
    kiln_error_free(f->err);
    f->err = NULL;
    free(ids->groups);
    *ids = (struct ids){.uid = 77777, .gid = 77777};
    return kiln_passwd_resolve(f->root, spec, copy, &ids->uid, &ids->gid, &ids->groups, &ids->n,
                               &f->err);
}

static void expect_ids(struct fx *f, const char *spec, bool copy, uint32_t uid, uint32_t gid)
{
    struct ids ids = {0};
    int r = resolve(f, spec, copy, &ids);
    if (r < 0)
        fail_msg("'%s': %s", spec, kiln_error_message(f->err, r));
    if (ids.uid != uid || ids.gid != gid)
        fail_msg("'%s' (%s): want %u:%u, got %u:%u", spec, copy ? "COPY" : "USER", uid, gid,
                 ids.uid, ids.gid);
    free(ids.groups);
}

static void test_passwd__names_and_numbers(void **state)
{
    struct fx *f = *state;
    image(f->root);
    expect_ids(f, "app", false, 1000, 1001); /* a name: its primary group */
    expect_ids(f, "app", true, 1000, 1001);  /* BuildKit's readUser: the same */
    expect_ids(f, "app:staff", true, 1000, 50);
    expect_ids(f, "app:50", false, 1000, 50);
    expect_ids(f, "1000", false, 1000, 1001); /* USER: a number's passwd entry */
    expect_ids(f, "1000", true, 1000, 1000);  /* COPY --chown: a number alone is uid:uid */
    expect_ids(f, "4242", false, 4242, 0);    /* USER: a number not in passwd: group 0 */
    expect_ids(f, "4242", true, 4242, 4242);
    expect_ids(f, "4242:7", true, 4242, 7);
    expect_ids(f, "root", false, 0, 0);
    expect_ids(f, ":staff", true, 0, 50);
    struct ids ids = {0};
    assert_int_equal(resolve(f, "app", false, &ids), 0);
    assert_int_equal(ids.n, 2); /* staff and docker */
    assert_int_equal(ids.groups[0], 50);
    assert_int_equal(ids.groups[1], 999);
    free(ids.groups);
}

static void test_passwd__missing(void **state)
{
    struct fx *f = *state;
    struct ids ids = {0};
    /* no /etc/passwd at all: numbers still work, names do not */
    expect_ids(f, "12:34", true, 12, 34);
    int r = resolve(f, "app", true, &ids);
    assert_int_equal(r, KILN_E_NOTFOUND);
    assert_non_null(strstr(f->err->message, "unable to find user app"));
    image(f->root);
    r = resolve(f, "nobody", true, &ids);
    assert_int_equal(r, KILN_E_NOTFOUND);
    assert_non_null(strstr(f->err->message, "nobody"));
    r = resolve(f, "app:wheel", true, &ids);
    assert_int_equal(r, KILN_E_NOTFOUND);
    assert_non_null(strstr(f->err->message, "unable to find group wheel"));
    free(ids.groups);
}

static void test_passwd__confined(void **state)
{
    struct fx *f = *state;
    /* /etc/passwd as an absolute link to the host's file reads the root's own target */
    char *etc = kiln_xasprintf("%s/etc", f->root);
    char *real = kiln_xasprintf("%s/real-passwd", f->root);
    char *link = kiln_xasprintf("%s/etc/passwd", f->root);
    assert_int_equal(mkdir(etc, 0755), 0);
    int fd = open(real, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "root:x:4:4::/:/bin/sh\n", 22), 22);
    close(fd);
    assert_int_equal(symlink("/real-passwd", link), 0);
    expect_ids(f, "root", false, 4, 4); /* the host's root is 0:0 */
    free(etc);
    free(real);
    free(link);
}

static struct stat stat_of(const char *root, const char *rel)
{
    char *p = kiln_xasprintf("%s/%s", root, rel);
    struct stat st;
    if (lstat(p, &st) < 0)
        fail_msg("'%s': %s", p, strerror(errno));
    free(p);
    return st;
}

static void test_passwd__workdir(void **state)
{
    struct fx *f = *state;
    image(f->root);
    int r = kiln_mkdir_apply(f->root, "/srv/app/data", "app", &f->err);
    if (r < 0)
        fail_msg("%s", kiln_error_message(f->err, r));
    struct stat st = stat_of(f->root, "srv/app/data");
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_gid, 1001); /* a name: the user's primary group */
    assert_int_equal(kiln_mkdir_apply(f->root, "/num", "1000", &f->err), 0);
    assert_int_equal(stat_of(f->root, "num").st_gid, 1000); /* a number alone: uid:uid */
    /* an existing directory is left as it is */
    char *srv = kiln_xasprintf("%s/srv", f->root);
    assert_int_equal(chmod(srv, 0700), 0);
    assert_int_equal(kiln_mkdir_apply(f->root, "/srv/other", "", &f->err), 0);
    assert_int_equal(stat_of(f->root, "srv").st_mode & 07777, 0700);
    assert_int_equal(stat_of(f->root, "srv/other").st_uid, 0);
    /* through a link to / it stays inside the root */
    char *link = kiln_xasprintf("%s/up", f->root);
    assert_int_equal(symlink("/../../..", link), 0);
    char *host = kiln_xasprintf("/kiln-workdir-escape-%d", (int)getpid());
    char *path = kiln_xasprintf("/up%s", host);
    assert_int_equal(kiln_mkdir_apply(f->root, path, "", &f->err), 0);
    struct stat hst;
    assert_int_equal(lstat(host, &hst), -1);
    assert_true(S_ISDIR(stat_of(f->root, host + 1).st_mode));
    /* a file in the way */
    put(f->root, "etc/file", "x");
    r = kiln_mkdir_apply(f->root, "/etc/file/sub", "", &f->err);
    assert_true(r < 0);
    assert_non_null(strstr(f->err->message, "/etc/file"));
    /* a dangling link to a host path: the host file is never touched */
    char *canary = kiln_xasprintf("/tmp/kiln-workdir-canary-%d", (int)getpid());
    int fd = open(canary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    char *hl = kiln_xasprintf("%s/hostlink", f->root);
    assert_int_equal(symlink(canary, hl), 0);
    r = kiln_mkdir_apply(f->root, "/hostlink/sub", "app", &f->err);
    assert_int_equal(r, KILN_E_INVALID);
    assert_non_null(strstr(f->err->message, "symbolic link to a missing directory"));
    assert_int_equal(lstat(canary, &hst), 0);
    assert_int_equal(hst.st_mode & 07777, 0600);
    assert_int_equal(hst.st_uid, 0);
    assert_int_equal(unlink(canary), 0);
    free(canary);
    free(hl);
    r = kiln_mkdir_apply(f->root, "/x", "ghost", &f->err);
    assert_int_equal(r, KILN_E_NOTFOUND);
    free(srv);
    free(link);
    free(host);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_passwd__names_and_numbers, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_passwd__missing, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_passwd__confined, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_passwd__workdir, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
