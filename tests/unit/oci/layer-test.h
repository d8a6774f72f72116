/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layer-test.h - what the layer tests share: a temp directory per test,
 * error checks that print the message, building trees, in-memory streams,
 * running real tools (tar, gzip, zstd, sha256sum, umoci) and a manifest of
 * a tree (every path with its type, mode, owner, size, mtime, link target,
 * xattrs and content digest) to compare trees by.
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
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "base/strv.h"
#include "expect.h"
#include "oci/digest.h"
#include "oci/layer.h"
#include "oci/tar.h"
#include "oci/whiteout.h"

extern char **environ;

static inline int run_tool(const char *const *argv, const char *in_path, struct kiln_buf *out);

struct fx {
    char root[64]; /* the temp directory, removed afterwards */
};

static inline int fx_setup(void **state)
{
    struct fx *f = kiln_xcalloc(1, sizeof(*f));
    (void)snprintf(f->root, sizeof(f->root), "/tmp/kiln-layer-test-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    *state = f;
    return 0;
}

static inline int fx_teardown(void **state)
{
    struct fx *f = *state;
    /* rm, not kiln_oci_remove_at(): some tests build trees deeper than it goes. */
    const char *argv[] = {"rm", "-rf", f->root, NULL};
    int r = run_tool(argv, NULL, NULL);
    free(f);
    return r == 0 ? 0 : -1;
}

/* "<dir>/<rel>", to free. */
static inline char *at(const char *dir, const char *rel)
{
    return kiln_xasprintf("%s/%s", dir, rel);
}

static inline void put_file(const char *dir, const char *rel, const char *content, mode_t mode)
{
    char *p = at(dir, rel);
    (void)unlink(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        fail_msg("create '%s': %s", p, strerror(errno));
    size_t n = strlen(content);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    (void)close(fd);
    free(p);
}

static inline void put_dir(const char *dir, const char *rel, mode_t mode)
{
    char *p = at(dir, rel);
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        fail_msg("mkdir '%s': %s", p, strerror(errno));
    assert_int_equal(chmod(p, mode), 0);
    free(p);
}

static inline void put_symlink(const char *dir, const char *rel, const char *target)
{
    char *p = at(dir, rel);
    (void)unlink(p);
    if (symlink(target, p) < 0)
        fail_msg("symlink '%s': %s", p, strerror(errno));
    free(p);
}

/* Sets the mtime of dir/rel (not following a symlink). */
static inline void set_mtime(const char *dir, const char *rel, time_t sec, long nsec)
{
    char *p = at(dir, rel);
    struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
    free(p);
}

static inline void remove_tree(const char *dir, const char *rel)
{
    char *p = at(dir, rel);
    struct kiln_error *err = NULL;
    expect_ok(kiln_oci_remove_at(AT_FDCWD, p, &err), &err);
    free(p);
}

static inline bool exists(const char *dir, const char *rel)
{
    char *p = at(dir, rel);
    struct stat st;
    bool r = lstat(p, &st) == 0;
    free(p);
    return r;
}

/* A kiln_oci_write_fn appending to the struct kiln_buf userdata. */
static inline int buf_write(void *userdata, const void *data, size_t len, struct kiln_error **err)
{
    return kiln_buf_add(userdata, data, len) < 0
                   ? kiln_error_set(err, KILN_E_LIMIT, "test buffer full")
                   : 0;
}

/* A kiln_oci_read_fn over memory, handing out at most `step` bytes a call. */
struct mem_reader {
    const char *data;
    size_t len, pos, step;
};

static inline ssize_t mem_read(void *userdata, void *buf, size_t len, struct kiln_error **err)
{
    struct mem_reader *m = userdata;
    size_t n = m->len - m->pos;
    if (n > len)
        n = len;
    if (m->step && n > m->step)
        n = m->step;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

static inline void save(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    (void)close(fd);
}

/*
 * Runs argv (found in PATH) with stdin from in_path (NULL: /dev/null),
 * stdout into *out (may be NULL); returns the exit status, 127 when the
 * program is missing.
 */
static inline int run_tool(const char *const *argv, const char *in_path, struct kiln_buf *out)
{
    int pipefd[2];
    assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in_path ? in_path : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    pid_t pid;
    int r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    (void)close(pipefd[1]);
    if (r != 0) {
        (void)close(pipefd[0]);
        return 127;
    }
    char chunk[65536];
    ssize_t n;
    while ((n = read(pipefd[0], chunk, sizeof(chunk))) > 0)
        if (out)
            assert_int_equal(kiln_buf_add(out, chunk, (size_t)n), 0);
    (void)close(pipefd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Whether `prog` is installed: `prog <arg>` (say "--version") runs and succeeds. */
static inline bool have_tool(const char *prog, const char *arg)
{
    const char *argv[] = {prog, arg, NULL};
    return run_tool(argv, NULL, NULL) == 0;
}

static inline int manifest_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline char *manifest_content(int dirfd, const char *name, const struct stat *st)
{
    char dgst[KILN_OCI_DIGEST_MAX] = "-";
    if (S_ISLNK(st->st_mode)) {
        char target[4096] = "";
        ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
        assert_true(n >= 0);
        target[n] = '\0';
        return kiln_xasprintf("->%s", target);
    }
    if (S_ISREG(st->st_mode)) {
        int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        char *data = kiln_xmalloc((size_t)st->st_size + 1);
        assert_int_equal(read(fd, data, (size_t)st->st_size + 1), st->st_size);
        assert_int_equal(
                kiln_oci_digest_bytes(KILN_OCI_SHA256, data, (size_t)st->st_size, dgst, NULL), 0);
        free(data);
        char caps[64] = "";
        ssize_t n = fgetxattr(fd, "security.capability", caps, sizeof(caps));
        (void)close(fd);
        return kiln_xasprintf("%s cap=%zd", dgst + 7, n < 0 ? (ssize_t)0 : n);
    }
    return kiln_xstrdup(dgst);
}

static inline void manifest_walk(int dirfd, const char *prefix, struct kiln_strv *out)
{
    DIR *d = fdopendir(fcntl(dirfd, F_DUPFD_CLOEXEC, 3));
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        assert_int_equal(fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW), 0);
        char *path =
                *prefix ? kiln_xasprintf("%s/%s", prefix, de->d_name) : kiln_xstrdup(de->d_name);
        char *content = manifest_content(dirfd, de->d_name, &st);
        bool dir = S_ISDIR(st.st_mode);
        kiln_strv_take(out, kiln_xasprintf("%s mode=%o uid=%u gid=%u nlink=%u size=%lld "
                                           "mtime=%lld rdev=%u:%u %s",
                                           path, st.st_mode, st.st_uid, st.st_gid,
                                           dir ? 0u : (unsigned)st.st_nlink,
                                           dir ? 0LL : (long long)st.st_size,
                                           (long long)st.st_mtim.tv_sec, major(st.st_rdev),
                                           minor(st.st_rdev), content));
        if (dir) {
            int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            assert_true(sub >= 0);
            manifest_walk(sub, path, out);
            (void)close(sub);
        }
        free(content);
        free(path);
    }
    (void)closedir(d);
}

/* One line per entry below `root`, sorted, joined by newlines; the caller frees it. */
static inline char *manifest(const char *root)
{
    struct kiln_strv lines = KILN_STRV_INIT;
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    manifest_walk(fd, "", &lines);
    (void)close(fd);
    qsort(lines.v, lines.n, sizeof(*lines.v), manifest_cmp);
    struct kiln_buf b = KILN_BUF_INIT((size_t)1 << 30);
    for (size_t i = 0; i < lines.n; i++)
        assert_int_equal(kiln_buf_addf(&b, "%s\n", lines.v[i]), 0);
    kiln_strv_release(&lines);
    return kiln_buf_detach(&b, NULL);
}

/* The kind letter and path of each change: "A etc", "D etc/old", "M x", "U y". */
static inline char *changes_text(const struct kiln_oci_changes *c)
{
    static const char kinds[] = " AMDU";
    struct kiln_buf b = KILN_BUF_INIT((size_t)1 << 30);
    for (size_t i = 0; i < c->n; i++)
        assert_int_equal(kiln_buf_addf(&b, "%c %s\n", kinds[c->v[i].kind], c->v[i].path), 0);
    return kiln_buf_detach(&b, NULL);
}

/* Writes the layer of the changes of `upper` against `lower` (tree diff) into *out. */
static inline void layer_of_trees(const char *lower, const char *upper,
                                  const struct kiln_oci_layer_opts *opts, struct kiln_buf *out,
                                  struct kiln_oci_layer *ret)
{
    struct kiln_error *err = NULL;
    struct kiln_oci_changes c = KILN_OCI_CHANGES_INIT;
    expect_ok(kiln_oci_diff_trees(lower, upper, &c, &err), &err);
    expect_ok(kiln_oci_layer_write(upper, &c, opts, buf_write, out, ret, &err), &err);
    kiln_oci_changes_release(&c);
}

/* Appends an entry (header, content, padding) to a tar being built in memory. */
static inline void tar_add(struct kiln_buf *tar, const struct kiln_oci_tar_header *h,
                           const char *content)
{
    struct kiln_error *err = NULL;
    expect_ok(kiln_oci_tar_header_encode(h, tar, &err), &err);
    if (content) {
        static const char zeros[512];
        assert_int_equal(kiln_buf_add(tar, content, h->size), 0);
        assert_int_equal(kiln_buf_add(tar, zeros, kiln_oci_tar_padding(h->size)), 0);
    }
}

/* A regular file, directory or link entry with default metadata. */
static inline void tar_simple(struct kiln_buf *tar, const char *name, char type,
                              const char *link_or_content)
{
    bool reg = type == '0';
    struct kiln_oci_tar_header h = {
            .name = (char *)name,
            .linkname = (char *)(reg || !link_or_content ? "" : link_or_content),
            .type = type,
            .mode = type == '5' ? 0755 : 0644,
            .size = reg && link_or_content ? strlen(link_or_content) : 0,
            .mtime = 1700000000,
    };
    tar_add(tar, &h, reg ? link_or_content : NULL);
}

static inline void tar_end(struct kiln_buf *tar)
{
    static const char zeros[1024];
    assert_int_equal(kiln_buf_add(tar, zeros, sizeof(zeros)), 0);
}

/* Applies the blob in memory to `root` (saved to a file first: a real fd). */
static inline int apply_blob(const char *scratch, const struct kiln_buf *blob, const char *root,
                             const struct kiln_oci_apply_opts *opts,
                             struct kiln_oci_apply_stats *stats, struct kiln_error **err)
{
    char *path = at(scratch, "blob");
    save(path, blob->buf, blob->len);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    int r = kiln_oci_layer_apply(root, fd, opts, stats, err);
    (void)close(fd);
    free(path);
    return r;
}
