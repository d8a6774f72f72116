/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-userns.c - KILN_RUN_USERNS read and refused as it should be; (root)
 * a directory mounted idmapped shows its ids shifted, a file made in it by
 * the mapped root lands as root's on disk while kiln's own root is refused
 * there (EOVERFLOW), and the mount points' directory is root:HOSTID 0710.
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "sandbox-test.h"
#include "sandbox/userns.h"

#include "base/banned.h"

#define HOST_ID 400000u

static void test_userns__environment(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        int r;
        uint32_t host, size;
    } cases[] = {
            {NULL, 0, 0, 0},
            {"", 0, 0, 0},
            {"off", 0, 0, 0},
            {"100000", 1, 100000, KILN_SANDBOX_USERNS_SIZE},
            {"100000:1000", 1, 100000, 1000},
            {"0", KILN_E_INVALID, 0, 0},
            {"0:65536", KILN_E_INVALID, 0, 0},
            {"100000:0", KILN_E_INVALID, 0, 0},
            {"4294967000:65536", KILN_E_INVALID, 0, 0},
            {"-5", KILN_E_INVALID, 0, 0},
            {"100000:-1", KILN_E_INVALID, 0, 0},
            {"abc", KILN_E_INVALID, 0, 0},
            {"100000:", KILN_E_INVALID, 0, 0},
            {"100000:65536:1", KILN_E_INVALID, 0, 0},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        if (cases[i].v)
            setenv(KILN_SANDBOX_USERNS_ENV, cases[i].v, 1);
        else
            unsetenv(KILN_SANDBOX_USERNS_ENV);
        struct kiln_sandbox_userns u = {0};
        struct kiln_error *e = NULL;
        int r = kiln_sandbox_userns_get(&u, &e);
        if (r != cases[i].r)
            fail_msg("'%s': %d, expected %d", cases[i].v ? cases[i].v : "(unset)", r, cases[i].r);
        if (r == 1 && (u.host_id != cases[i].host || u.size != cases[i].size))
            fail_msg("'%s': %u:%u", cases[i].v, u.host_id, u.size);
        if (r < 0 &&
            (!strstr(e->message, KILN_SANDBOX_USERNS_ENV) || !strstr(e->message, "HOSTID")))
            fail_msg("'%s': the error does not say what to give: %s", cases[i].v, e->message);
        kiln_error_free(e);
    }
    unsetenv(KILN_SANDBOX_USERNS_ENV);
}

struct make_file {
    const char *path;
};

static int make_file(void *arg)
{
    struct make_file *m = arg;
    int fd = open(m->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}

static void test_userns__idmapped_mount_and_mapped_root(void **state)
{
    (void)state;
    if (geteuid() != 0)
        LEAVE_OUT("idmapped mounts need root");
    const struct kiln_sandbox_userns u = {.host_id = HOST_ID, .size = 65536};
    char dir[] = "/tmp/kiln-userns-XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *src = kiln_xasprintf("%s/src", dir);
    _cleanup_free_ char *at = kiln_xasprintf("%s/at", dir);
    assert_int_equal(mkdir(src, 0755), 0);
    assert_int_equal(mkdir(at, 0755), 0);
    _cleanup_free_ char *owned = kiln_xasprintf("%s/owned", src);
    assert_int_equal(mkdir(owned, 0755), 0);
    assert_int_equal(chown(owned, 1000, 1000), 0);
    struct kiln_error *e = NULL;
    int r = kiln_sandbox_idmap_mount(&u, src, at, &e);
    if (r < 0) {
        rmdir(owned);
        rmdir(src);
        rmdir(at);
        rmdir(dir);
        LEAVE_OUT("this kernel or filesystem cannot idmap: %s", kiln_error_message(e, r));
    }
    struct stat st;
    _cleanup_free_ char *seen = kiln_xasprintf("%s/owned", at);
    assert_int_equal(stat(seen, &st), 0);
    assert_int_equal(st.st_uid, HOST_ID + 1000);
    assert_int_equal(st.st_gid, HOST_ID + 1000);
    /* kiln's own root is outside the mapping there; the mapped root writes as root on disk */
    _cleanup_free_ char *by_root = kiln_xasprintf("%s/by-root", at);
    int fd = open(by_root, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd < 0);
    assert_int_equal(errno, EOVERFLOW);
    _cleanup_free_ char *mapped = kiln_xasprintf("%s/by-mapped-root", at);
    struct make_file m = {mapped};
    assert_int_equal(kiln_sandbox_as_mapped_root(&u, make_file, &m), 0);
    _cleanup_free_ char *on_disk = kiln_xasprintf("%s/by-mapped-root", src);
    assert_int_equal(stat(on_disk, &st), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(st.st_gid, 0);
    assert_int_equal(stat(mapped, &st), 0);
    assert_int_equal(st.st_uid, HOST_ID);
    assert_int_equal(umount2(at, MNT_DETACH), 0);
    unlink(on_disk);
    rmdir(owned);
    rmdir(src);
    rmdir(at);
    rmdir(dir);
}

static void test_userns__mount_points_for_the_mapped_root_only(void **state)
{
    (void)state;
    if (geteuid() != 0)
        LEAVE_OUT("the mount points' directory is root's");
    const struct kiln_sandbox_userns u = {.host_id = HOST_ID, .size = 65536};
    _cleanup_free_ char *point = NULL;
    struct kiln_error *e = NULL;
    assert_int_equal(kiln_sandbox_userns_mount_point(&u, &point, &e), 0);
    char base[64];
    snprintf(base, sizeof(base), KILN_SANDBOX_USERNS_MNT_FMT, HOST_ID);
    assert_int_equal(strncmp(point, base, strlen(base)), 0);
    struct stat st;
    assert_int_equal(lstat(base, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0710);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(st.st_gid, HOST_ID);
    assert_int_equal(rmdir(point), 0);
    /* a base that is not root's directory is refused */
    assert_int_equal(rmdir(base), 0);
    assert_int_equal(symlink("/tmp", base), 0);
    _cleanup_free_ char *other = NULL;
    assert_int_equal(kiln_sandbox_userns_mount_point(&u, &other, &e), KILN_E_INVALID);
    assert_non_null(strstr(e->message, "not a directory of root's"));
    kiln_error_free(e);
    unlink(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_userns__environment),
            cmocka_unit_test(test_userns__idmapped_mount_and_mapped_root),
            cmocka_unit_test(test_userns__mount_points_for_the_mapped_root_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
