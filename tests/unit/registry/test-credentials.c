/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-credentials.c - kiln's credentials file: where it is, what a store
 * writes (0600, atomically, other entries kept), registry name folding,
 * and messages that never show a secret.
 */

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "registry/credentials.h"

static char *make_tmpdir(void)
{
    char *dir = kiln_xstrdup("/tmp/kiln-cred-test-XXXXXX");
    if (!mkdtemp(dir))
        fail_msg("mkdtemp");
    return dir;
}

static void remove_tree(const char *dir)
{
    char *cmd[] = {"rm", "-rf", (char *)dir, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        execvp(cmd[0], cmd);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static unsigned count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    unsigned n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void test_credentials__key_folds_names(void **state)
{
    static const char *const cases[][2] = {
            {"docker.io", "docker.io"},
            {"index.docker.io", "docker.io"},
            {"registry-1.docker.io", "docker.io"},
            {"https://index.docker.io/v1/", "docker.io"},
            {"https://GHCR.io/v2/", "ghcr.io"},
            {"http://127.0.0.1:5000", "127.0.0.1:5000"},
            {"reg.lan:5000/x", "reg.lan:5000"},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        char *k = kiln_registry_cred_key(cases[i][0]);
        if (strcmp(k, cases[i][1]) != 0)
            fail_msg("key of '%s' is '%s', expected '%s'", cases[i][0], k, cases[i][1]);
        free(k);
    }
}

static void test_credentials__default_path(void **state)
{
    char *path = NULL;
    struct kiln_error *err = NULL;
    setenv("XDG_CONFIG_HOME", "/x/conf", 1);
    assert_int_equal(kiln_registry_credentials_path(&path, NULL), 0);
    assert_string_equal(path, "/x/conf/kiln/credentials.json");
    free(path);
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/home/u", 1);
    assert_int_equal(kiln_registry_credentials_path(&path, NULL), 0);
    assert_string_equal(path, "/home/u/.config/kiln/credentials.json");
    free(path);
    unsetenv("HOME");
    path = NULL;
    assert_int_equal(kiln_registry_credentials_path(&path, &err), KILN_E_NOTFOUND);
    assert_null(path);
    kiln_error_free(err);
}

static void test_credentials__store_and_read_back(void **state)
{
    char *dir = make_tmpdir();
    char *file = kiln_xasprintf("%s/conf/kiln/credentials.json", dir);
    char *kdir = kiln_xasprintf("%s/conf/kiln", dir);
    struct kiln_registry_cred a = {.username = "alice", .secret = "s3cret-a"};
    struct kiln_registry_cred b = {.identity_token = "refresh-b"};
    struct kiln_registry_cred *got = NULL;
    struct stat st;

    assert_int_equal(kiln_registry_credentials_get(file, "ghcr.io", &got, NULL), 0);
    assert_int_equal(kiln_registry_credentials_set(file, "ghcr.io", &a, NULL), 0);
    assert_int_equal(kiln_registry_credentials_set(file, "https://index.docker.io/v1/", &b, NULL),
                     0);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(kdir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(count_entries(kdir), 1); /* no temporary file left */

    assert_int_equal(kiln_registry_credentials_get(file, "GHCR.io", &got, NULL), 1);
    assert_string_equal(got->username, "alice");
    assert_string_equal(got->secret, "s3cret-a");
    assert_null(got->identity_token);
    kiln_registry_cred_free(got);
    assert_int_equal(kiln_registry_credentials_get(file, "docker.io", &got, NULL), 1);
    assert_string_equal(got->identity_token, "refresh-b");
    kiln_registry_cred_free(got);

    /* A new login replaces; a logout removes one entry and keeps the other. */
    a.secret = "s3cret-new";
    assert_int_equal(kiln_registry_credentials_set(file, "ghcr.io", &a, NULL), 0);
    assert_int_equal(kiln_registry_credentials_get(file, "ghcr.io", &got, NULL), 1);
    assert_string_equal(got->secret, "s3cret-new");
    kiln_registry_cred_free(got);
    assert_int_equal(kiln_registry_credentials_set(file, "docker.io", NULL, NULL), 0);
    got = NULL;
    assert_int_equal(kiln_registry_credentials_get(file, "docker.io", &got, NULL), 0);
    assert_null(got);
    assert_int_equal(kiln_registry_credentials_get(file, "ghcr.io", &got, NULL), 1);
    kiln_registry_cred_free(got);
    remove_tree(dir);
    free(kdir);
    free(file);
    free(dir);
}

static void test_credentials__malformed_file_hides_secrets(void **state)
{
    char *dir = make_tmpdir();
    char *file = kiln_xasprintf("%s/credentials.json", dir);
    struct kiln_registry_cred *got = NULL;
    struct kiln_error *err = NULL;
    write_file(file, "{\"auths\": {\"ghcr.io\": {\"password\": \"hunter2-secret\" oops}}}");
    assert_int_equal(kiln_registry_credentials_get(file, "ghcr.io", &got, &err), KILN_E_INVALID);
    assert_non_null(strstr(err->message, "is not valid JSON (line 1"));
    assert_null(strstr(err->message, "hunter2"));
    assert_null(strstr(err->message, "oops"));
    write_file(file, "{\"auths\": {\"ghcr.io\": {\"password\": 7}}}");
    assert_int_equal(kiln_registry_credentials_get(file, "ghcr.io", &got, &err), KILN_E_INVALID);
    assert_non_null(strstr(err->message, "'password' is not a string"));
    write_file(file, "{\"auths\": []}");
    assert_int_equal(kiln_registry_credentials_get(file, "ghcr.io", &got, &err), KILN_E_INVALID);
    /* A store refuses to overwrite what it cannot read. */
    assert_int_equal(kiln_registry_credentials_set(file, "x.io", NULL, &err), KILN_E_INVALID);
    assert_null(got);
    kiln_error_free(err);
    remove_tree(dir);
    free(file);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_credentials__key_folds_names),
            cmocka_unit_test(test_credentials__default_path),
            cmocka_unit_test(test_credentials__store_and_read_back),
            cmocka_unit_test(test_credentials__malformed_file_hides_secrets),
    };
    return cmocka_run_group_tests_name("registry/credentials", tests, NULL, NULL);
}
