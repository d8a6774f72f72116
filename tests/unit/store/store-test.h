/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store-test.h - what the store's unit tests share: a temp directory per
 * test, error checks that print the message, child processes (killed at a
 * failpoint or not), and the invariant check run after every crash.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "expect.h"
#include "store/content.h"
#include "store/internal.h"
#include "store/snapshot.h"
#include "store/store.h"

struct fixture {
    char root[64]; /* the temp directory, removed afterwards */
    char dir[96];  /* root/store: the data directory */
    struct kiln_store *s;
};

static inline struct kiln_store *open_store(const char *dir)
{
    struct kiln_error *err = NULL;
    struct kiln_store *s = NULL;
    expect_ok(kiln_store_open(dir, &s, &err), &err);
    return s;
}

static inline int store_setup(void **state)
{
    struct fixture *f = kiln_xcalloc(1, sizeof(*f));
    (void)snprintf(f->root, sizeof(f->root), "/tmp/kiln-store-test-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    (void)snprintf(f->dir, sizeof(f->dir), "%s/store", f->root);
    f->s = open_store(f->dir);
    *state = f;
    return 0;
}

static inline int store_teardown(void **state)
{
    struct fixture *f = *state;
    kiln_store_close(f->s);
    int r = kiln_tree_remove(AT_FDCWD, f->root);
    free(f);
    return r;
}

/* Runs fn(dir) in a child, with KILN_FAILPOINT=failpoint when not NULL; returns its status. */
static inline int run_child(const char *dir, const char *failpoint, int (*fn)(const char *dir))
{
    (void)fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (failpoint)
            (void)setenv("KILN_FAILPOINT", failpoint, 1);
        _exit(fn(dir));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static inline void assert_killed(int status)
{
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("child status %#x, expected killed by SIGKILL", status);
}

static inline void assert_exited(int status, int code)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != code)
        fail_msg("child status %#x, expected exit code %d", status, code);
}

/* In a child: prints the failure and gives the exit code 1. */
static inline int child_check(int r, struct kiln_error *err, const char *what)
{
    if (r < 0)
        (void)fprintf(stderr, "child: %s: %s\n", what, kiln_error_message(err, r));
    kiln_error_free(err);
    return r < 0;
}

/* Entries in directory `path` other than . and .. */
static inline unsigned count_entries(const char *path)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    unsigned n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    (void)closedir(d);
    return n;
}

static inline unsigned count_in(const char *dir, const char *sub)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, sub);
    return count_entries(path);
}

static inline int64_t query_int(struct kiln_store *s, const char *sql)
{
    struct kiln_error *err = NULL;
    int64_t v = -1;
    int r = kiln_db_int(s->db, sql, KILN_DB_NO_ARGS, &v, &err);
    expect_ok(r, &err);
    return v;
}

static inline int check_blob_row(sqlite3_stmt *row, void *userdata)
{
    struct kiln_store *s = userdata;
    const char *digest = (const char *)sqlite3_column_text(row, 0);
    int fd = openat(s->blobs_fd, digest + 7, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail_msg("blob '%s' has a row but no file", digest);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    char *data = kiln_xmalloc((size_t)st.st_size + 1);
    assert_int_equal(read(fd, data, (size_t)st.st_size + 1), st.st_size);
    (void)close(fd);
    char got[KILN_OCI_DIGEST_MAX];
    assert_int_equal(kiln_oci_digest_bytes(KILN_OCI_SHA256, data, (size_t)st.st_size, got, NULL),
                     0);
    free(data);
    if (strcmp(got, digest) != 0)
        fail_msg("blob file '%s' holds %s", digest, got);
    assert_int_equal(st.st_size, sqlite3_column_int64(row, 1));
    return 0;
}

/*
 * Opens `dir` (which repairs it) and checks every invariant of
 * docs/internals/store.md against the disk.
 */
static inline void check_invariants(const char *dir)
{
    struct kiln_store *s = open_store(dir);
    struct kiln_error *err = NULL;
    assert_int_equal(count_in(dir, "content/ingest"), 0);
    assert_int_equal(count_in(dir, "trash"), 0);
    assert_int_equal(count_in(dir, "locks"), 0);
    assert_int_equal(query_int(s, "SELECT count(*) FROM leases"), 0);
    expect_ok(kiln_db_each(s->db, "SELECT digest, size FROM blobs", KILN_DB_NO_ARGS, check_blob_row,
                           s, &err),
              &err);
    assert_int_equal(count_in(dir, "content/blobs/sha256"),
                     query_int(s, "SELECT count(*) FROM blobs"));
    assert_int_equal(query_int(s, "SELECT count(*) FROM snapshots WHERE state = 'active'"), 0);
    assert_int_equal(count_in(dir, "snapshots"), query_int(s, "SELECT count(*) FROM snapshots"));
    assert_int_equal(query_int(s, "SELECT count(*) FROM cache_records r LEFT JOIN snapshots s"
                                  " ON s.id = r.snapshot WHERE r.snapshot IS NOT NULL"
                                  " AND s.state IS NOT 'committed'"),
                     0);
    assert_int_equal(query_int(s, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    kiln_store_close(s);
}
