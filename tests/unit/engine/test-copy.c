/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-copy.c - COPY/ADD on real directories: every rule of BuildKit's
 * COPY (docs/internals/copy.md), ADD's archives and URLs (a real HTTP
 * server on loopback), and paths that try to leave their root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "copy-test.h"

#include "base/banned.h"

/* dir/rel, freed when the test ends. */
static const char *tat(const char *dir, const char *rel)
{
    char *p = at(dir, rel);
    kiln_strv_take(&garbage, p);
    return p;
}

static void put_link(const char *dir, const char *rel, const char *target)
{
    char *p = at(dir, rel);
    assert_int_equal(symlink(target, p), 0);
    free(p);
}

/* The content of dir/rel, or NULL when it cannot be read. Caller frees. */
static char *get(const char *dir, const char *rel)
{
    char *p = at(dir, rel);
    FILE *fp = fopen(p, "re");
    free(p);
    if (!fp)
        return NULL;
    char *buf = kiln_xcalloc(1, 65536);
    size_t n = fread(buf, 1, 65535, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void expect_content(const char *dir, const char *rel, const char *want)
{
    char *got = get(dir, rel);
    if (!got)
        fail_msg("'%s' is missing in %s", rel, dir);
    if (strcmp(got, want) != 0)
        fail_msg("'%s': want '%s', got '%s'", rel, want, got);
    free(got);
}

static void expect_missing(const char *dir, const char *rel)
{
    char *p = at(dir, rel);
    struct stat st;
    if (lstat(p, &st) == 0)
        fail_msg("'%s' should not exist", p);
    free(p);
}

static struct stat lstat_of(const char *dir, const char *rel)
{
    char *p = at(dir, rel);
    struct stat st;
    if (lstat(p, &st) < 0)
        fail_msg("cannot stat '%s': %s", p, strerror(errno));
    free(p);
    return st;
}

static void expect_owner_mode(const char *dir, const char *rel, uid_t uid, gid_t gid, mode_t mode)
{
    struct stat st = lstat_of(dir, rel);
    if (st.st_uid != uid || st.st_gid != gid || (st.st_mode & 07777) != mode)
        fail_msg("'%s': want %u:%u %04o, got %u:%u %04o", rel, uid, gid, mode, st.st_uid, st.st_gid,
                 st.st_mode & 07777);
}

static void set_op(struct fx *f, const char *dest, const char *const *sources)
{
    kiln_strv_release(&f->op.sources);
    for (size_t i = 0; sources[i]; i++)
        kiln_strv_push(&f->op.sources, sources[i]);
    free(f->op.dest);
    f->op.dest = kiln_xstrdup(dest);
}

static int run_from(struct fx *f, const char *root, bool reset_owner)
{
    kiln_error_free(f->err);
    f->err = NULL;
    struct kiln_copy_src src = {.root = root, .reset_owner = reset_owner};
    return kiln_copy_apply(&f->op, &src, f->dest, f->tmp, &f->err);
}

static int run(struct fx *f)
{
    return run_from(f, f->ctx, true);
}

static void expect_ok(struct fx *f, int r)
{
    if (r < 0)
        fail_msg("copy failed (%d): %s", r, kiln_error_message(f->err, r));
}

static void expect_fail(struct fx *f, int r, int code, const char *needle)
{
    if (r >= 0)
        fail_msg("copy succeeded, want an error containing '%s'", needle);
    const char *msg = kiln_error_message(f->err, r);
    if (r != code || !strstr(msg, needle))
        fail_msg("want error %d containing '%s', got %d: %s", code, needle, r, msg);
}

static void test_copy__dir_source_copies_contents(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "dir/a", "A", 0644);
    put(f->ctx, "dir/sub/b", "B", 0644);
    set_op(f, "/app/", (const char *[]){"dir", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "app/a", "A");
    expect_content(f->dest, "app/sub/b", "B");
    expect_missing(f->dest, "app/dir");
    /* a trailing "/." or "/" on the source makes no difference; ".." is cleaned into the root */
    set_op(f, "/two", (const char *[]){"../../dir/.", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "two/sub/b", "B");
    /* a directory matched by a wildcard also copies its contents */
    set_op(f, "/w/", (const char *[]){"d*", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "w/a", "A");
    expect_missing(f->dest, "w/dir");
}

static void test_copy__wildcards(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "a.txt", "a", 0644);
    put(f->ctx, "b.txt", "b", 0644);
    put(f->ctx, ".h.txt", "h", 0644);
    put(f->ctx, "c.md", "c", 0644);
    set_op(f, "/d/", (const char *[]){"*.txt", "nomatch*", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "d/a.txt", "a");
    expect_content(f->dest, "d/b.txt", "b");
    expect_content(f->dest, "d/.h.txt", "h"); /* Go's filepath.Match: '*' matches a dot */
    expect_missing(f->dest, "d/c.md");
    set_op(f, "/d/", (const char *[]){"?.md", "[ab].txt", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "d/c.md", "c");
    set_op(f, "/d/", (const char *[]){"a.txt", "missing/file", NULL});
    expect_fail(f, run(f), KILN_E_NOTFOUND, "\"/missing/file\": not found");
}

static void test_copy__destination_rules(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "f", "F", 0644);
    assert_int_equal(mkdir(tat(f->dest, "existing"), 0755), 0);
    set_op(f, "/renamed", (const char *[]){"f", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "renamed", "F");
    set_op(f, "/newdir/", (const char *[]){"f", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "newdir/f", "F");
    set_op(f, "/existing", (const char *[]){"f", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "existing/f", "F");
    /* missing parents are created 0755 and owned by root */
    set_op(f, "/a/b/c/g", (const char *[]){"f", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "a/b/c/g", "F");
    expect_owner_mode(f->dest, "a/b", 0, 0, 0755);
    /* an existing directory keeps its mode when a directory is copied into it */
    assert_int_equal(chmod(tat(f->dest, "existing"), 0711), 0);
    put(f->ctx, "d/x", "X", 0644);
    set_op(f, "/existing", (const char *[]){"d", NULL});
    expect_ok(f, run(f));
    expect_owner_mode(f->dest, "existing", 0, 0, 0711);
    expect_content(f->dest, "existing/x", "X");
    /* a new directory takes the source directory's mode */
    assert_int_equal(chmod(tat(f->ctx, "d"), 0750), 0);
    set_op(f, "/fresh", (const char *[]){"d", NULL});
    expect_ok(f, run(f));
    expect_owner_mode(f->dest, "fresh", 0, 0, 0750);
    /* under a setgid directory, new entries still get the copy's owner */
    assert_int_equal(mkdir(tat(f->dest, "sg"), 0755), 0);
    assert_int_equal(chown(tat(f->dest, "sg"), 0, 50), 0);
    assert_int_equal(chmod(tat(f->dest, "sg"), 02775), 0);
    put(f->ctx, "d/sub/y", "Y", 0644);
    set_op(f, "/sg/", (const char *[]){"d", NULL});
    expect_ok(f, run(f));
    expect_owner_mode(f->dest, "sg/sub/y", 0, 0, 0644);
    expect_owner_mode(f->dest, "sg/x", 0, 0, 0644);
    /* a file replaces a file */
    put(f->ctx, "f", "F2", 0644);
    set_op(f, "/renamed", (const char *[]){"f", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "renamed", "F2");
}

static void write_passwd(const char *root)
{
    put(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
        0644);
    put(root, "etc/group", "root:x:0:\nstaff:x:50:app\napp:x:1001:\n", 0644);
}

static void test_copy__chown(void **state)
{
    struct fx *f = *state;
    write_passwd(f->dest);
    put(f->ctx, "d/f", "F", 0644);
    f->op.chown = "app";
    set_op(f, "/o/", (const char *[]){"d", NULL});
    expect_ok(f, run(f));
    expect_owner_mode(f->dest, "o/f", 1000, 1001, 0644); /* a name: its primary group */
    expect_owner_mode(f->dest, "o", 1000, 1001, 0755);   /* created parents too */
    f->op.chown = "app:staff";
    set_op(f, "/o2/f", (const char *[]){"d/f", NULL});
    expect_ok(f, run(f));
    expect_owner_mode(f->dest, "o2/f", 1000, 50, 0644);
    f->op.chown = "4321:99";
    expect_ok(f, run(f));
    expect_owner_mode(f->dest, "o2/f", 4321, 99, 0644);
    f->op.chown = "1000";
    expect_ok(f, run(f));
    expect_owner_mode(f->dest, "o2/f", 1000, 1000, 0644); /* a number alone: gid = uid */
    f->op.chown = "nobody";
    expect_fail(f, run(f), KILN_E_NOTFOUND, "unable to find user nobody");
    f->op.chown = "app:nogroup";
    expect_fail(f, run(f), KILN_E_NOTFOUND, "unable to find group nogroup");
    f->op.chown = NULL;
}

static void test_copy__chmod(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "d/x", "#!", 0700);
    put(f->ctx, "d/r", "r", 0600);
    f->op.chmod = "640";
    set_op(f, "/o/", (const char *[]){"d/r", NULL});
    expect_ok(f, run(f));
    expect_owner_mode(f->dest, "o/r", 0, 0, 0640);
    f->op.chmod = "u=rwX,go=rX";
    set_op(f, "/s/", (const char *[]){"d", NULL});
    expect_ok(f, run(f));
    expect_owner_mode(f->dest, "s/x", 0, 0, 0755);
    expect_owner_mode(f->dest, "s/r", 0, 0, 0644);
    f->op.chmod = "go+w,o-r";
    set_op(f, "/t/", (const char *[]){"d/r", NULL});
    expect_ok(f, run(f));
    expect_owner_mode(f->dest, "t/r", 0, 0, 0622);
    expect_owner_mode(f->dest, "t", 0, 0, 0755); /* symbolic modes leave parents 0755 */
    f->op.chmod = "0750";
    set_op(f, "/u/v/", (const char *[]){"d/r", NULL});
    expect_ok(f, run(f));
    expect_owner_mode(f->dest, "u", 0, 0, 0750); /* an octal mode applies to the parents */
    f->op.chmod = "u+q";
    expect_fail(f, run(f), KILN_E_INVALID, "invalid --chmod 'u+q'");
    f->op.chmod = "17777";
    expect_fail(f, run(f), KILN_E_INVALID, "up to 7777");
    f->op.chmod = NULL;
}

static void test_copy__ownership_and_times(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "d/f", "F", 0640);
    assert_int_equal(lchown(tat(f->ctx, "d/f"), 123, 456), 0);
    assert_int_equal(lchown(tat(f->ctx, "d"), 7, 8), 0);
    struct timespec ts[2] = {{.tv_sec = 1500000000, .tv_nsec = 123456789},
                             {.tv_sec = 1500000000, .tv_nsec = 123456789}};
    assert_int_equal(utimensat(AT_FDCWD, tat(f->ctx, "d/f"), ts, 0), 0);
    ts[1].tv_sec = 1400000000;
    assert_int_equal(utimensat(AT_FDCWD, tat(f->ctx, "d"), ts, 0), 0);
    /* extended attributes come along; a capability survives the chown */
    static const char cap[20] = {1, 0, 0, 2, 0, 0x20};
    assert_int_equal(setxattr(tat(f->ctx, "d/f"), "user.kiln", "v1", 2, 0), 0);
    assert_int_equal(setxattr(tat(f->ctx, "d/f"), "security.capability", cap, sizeof(cap), 0), 0);
    /* COPY --from keeps ownership */
    set_op(f, "/from", (const char *[]){"d", NULL});
    expect_ok(f, run_from(f, f->ctx, false));
    expect_owner_mode(f->dest, "from/f", 123, 456, 0640);
    char val[32];
    assert_int_equal(setxattr(tat(f->ctx, "d"), "user.dir", "d", 1, 0), 0);
    set_op(f, "/from2", (const char *[]){"d", NULL});
    expect_ok(f, run_from(f, f->ctx, false));
    assert_int_equal(getxattr(tat(f->dest, "from2"), "user.dir", val, sizeof(val)), 1);
    assert_int_equal(getxattr(tat(f->dest, "from/f"), "user.kiln", val, sizeof(val)), 2);
    assert_memory_equal(val, "v1", 2);
    assert_int_equal(getxattr(tat(f->dest, "from/f"), "security.capability", val, sizeof(val)),
                     sizeof(cap));
    expect_owner_mode(f->dest, "from", 7, 8, 0755);
    /* the context is 0:0 */
    set_op(f, "/ctx", (const char *[]){"d", NULL});
    expect_ok(f, run(f));
    expect_owner_mode(f->dest, "ctx/f", 0, 0, 0640);
    expect_owner_mode(f->dest, "ctx", 0, 0, 0755);
    /* mtimes come from the source, nanoseconds included, directories too */
    struct stat st = lstat_of(f->dest, "ctx/f");
    assert_int_equal(st.st_mtim.tv_sec, 1500000000);
    assert_int_equal(st.st_mtim.tv_nsec, 123456789);
    st = lstat_of(f->dest, "ctx");
    assert_int_equal(st.st_mtim.tv_sec, 1400000000);
}

static void test_copy__links(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "d/real", "R", 0644);
    put_link(f->ctx, "d/rel", "real");
    put_link(f->ctx, "d/abs", "/etc/passwd");
    put_link(f->ctx, "d/dangling", "../nowhere");
    assert_int_equal(link(tat(f->ctx, "d/real"), tat(f->ctx, "d/hard")), 0);
    put_link(f->ctx, "top", "d/real");
    put_link(f->ctx, "topdir", "d");
    set_op(f, "/o/", (const char *[]){"d", NULL});
    expect_ok(f, run(f));
    char buf[64];
    ssize_t n = readlink(tat(f->dest, "o/abs"), buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "/etc/passwd"); /* copied as a link, never followed */
    assert_true(S_ISLNK(lstat_of(f->dest, "o/dangling").st_mode));
    struct stat a = lstat_of(f->dest, "o/real"), b = lstat_of(f->dest, "o/hard");
    assert_int_equal(a.st_ino, b.st_ino); /* hard links stay linked */
    assert_int_equal(a.st_nlink, 2);
    /* the source path itself is followed */
    set_op(f, "/t/", (const char *[]){"top", "topdir", NULL});
    expect_ok(f, run(f));
    assert_true(S_ISREG(lstat_of(f->dest, "t/top").st_mode));
    expect_content(f->dest, "t/top", "R");
    expect_content(f->dest, "t/real", "R");
}

static void test_copy__exclude(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "src/a.c", "a", 0644);
    put(f->ctx, "src/a.o", "o", 0644);
    put(f->ctx, "src/sub/b.o", "o", 0644);
    put(f->ctx, "src/sub/keep.o", "k", 0644);
    put(f->ctx, "src/tmp/x", "x", 0644);
    kiln_strv_push(&f->op.excludes, "*.o");
    kiln_strv_push(&f->op.excludes, "**/b.o");
    kiln_strv_push(&f->op.excludes, "tmp");
    set_op(f, "/o/", (const char *[]){"src", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "o/a.c", "a");
    expect_missing(f->dest, "o/a.o");
    expect_missing(f->dest, "o/sub/b.o");
    expect_content(f->dest, "o/sub/keep.o", "k"); /* "*.o" is anchored at the source */
    expect_missing(f->dest, "o/tmp");
    kiln_strv_push(&f->op.excludes, "[");
    expect_fail(f, run(f), KILN_E_INVALID, "--exclude");
}

static void test_copy__dockerignore(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "docs/README.md", "r", 0644);
    put(f->ctx, "docs/other.md", "o", 0644);
    put(f->ctx, "a.log", "l", 0644);
    put(f->ctx, "main.c", "m", 0644);
    char *patterns[] = {"docs", "!docs/README.md", "*.log"};
    struct kiln_ignore *m = NULL;
    assert_int_equal(kiln_ignore_new(patterns, 3, &m, &f->err), 0);
    struct kiln_walk_filter filter = {.exclude = m};
    struct kiln_copy_src src = {.root = f->ctx, .filter = &filter, .reset_owner = true};
    set_op(f, "/all/", (const char *[]){".", NULL});
    expect_ok(f, kiln_copy_apply(&f->op, &src, f->dest, f->tmp, &f->err));
    expect_content(f->dest, "all/main.c", "m");
    expect_content(f->dest, "all/docs/README.md", "r"); /* re-included inside an excluded dir */
    expect_missing(f->dest, "all/docs/other.md");
    expect_missing(f->dest, "all/a.log");
    set_op(f, "/x/", (const char *[]){"*.log", NULL});
    expect_ok(f, kiln_copy_apply(&f->op, &src, f->dest, f->tmp, &f->err));
    expect_missing(f->dest, "x/a.log");
    set_op(f, "/x/", (const char *[]){"docs/other.md", NULL});
    expect_fail(f, kiln_copy_apply(&f->op, &src, f->dest, f->tmp, &f->err), KILN_E_NOTFOUND,
                "\"/docs/other.md\": not found");
    kiln_ignore_free(m);
}

static void test_copy__parents(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "x/y/a.go", "a", 0644);
    put(f->ctx, "x/y/z/b.go", "b", 0644);
    put(f->ctx, "x/y/z/c.txt", "c", 0644);
    put(f->ctx, "x/w/d.go", "d", 0644);
    assert_int_equal(chmod(tat(f->ctx, "x/y"), 0750), 0);
    f->op.parents = true;
    set_op(f, "/out/", (const char *[]){"x/y/a.go", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "out/x/y/a.go", "a");
    expect_owner_mode(f->dest, "out/x/y", 0, 0, 0750); /* kept parents: the source's metadata */
    expect_owner_mode(f->dest, "out", 0, 0, 0755);     /* the destination: a made parent */
    set_op(f, "/piv/", (const char *[]){"x/./y/z", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "piv/y/z/b.go", "b");
    set_op(f, "/all/", (const char *[]){"x/**/*.go", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "all/x/y/a.go", "a");
    expect_content(f->dest, "all/x/y/z/b.go", "b");
    expect_content(f->dest, "all/x/w/d.go", "d");
    expect_missing(f->dest, "all/x/y/z/c.txt");
    set_op(f, "/p2/", (const char *[]){"./x/*/a.go", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "p2/x/y/a.go", "a");
    f->op.parents = false;
}

static void test_copy__inline(void **state)
{
    struct fx *f = *state;
    struct kiln_inline_file files[] = {{.name = "hello.sh", .data = "echo hi\n"}};
    f->op.inline_files = files;
    f->op.n_inline_files = 1;
    set_op(f, "/bin/", (const char *[]){NULL});
    expect_ok(f, kiln_copy_apply(&f->op, NULL, f->dest, f->tmp, &f->err));
    expect_content(f->dest, "bin/hello.sh", "echo hi\n");
    expect_owner_mode(f->dest, "bin/hello.sh", 0, 0, 0644);
    f->op.chmod = "755";
    set_op(f, "/run.sh", (const char *[]){NULL});
    expect_ok(f, kiln_copy_apply(&f->op, NULL, f->dest, f->tmp, &f->err));
    expect_owner_mode(f->dest, "run.sh", 0, 0, 0755);
    f->op.chmod = NULL;
    f->op.inline_files = NULL;
    f->op.n_inline_files = 0;
}

/* tar -C dir/t [-z] -cf out pkg */
static void make_tar(const char *root, const char *out, bool gzip)
{
    char *t = at(root, "t");
    run_tool((const char *[]){"tar", "-C", t, gzip ? "-czf" : "-cf", out, "pkg", NULL});
    free(t);
}

static void test_copy__add_archive(void **state)
{
    struct fx *f = *state;
    put(f->root, "t/pkg/bin/tool", "tool", 0755);
    char *tgz = at(f->ctx, "pkg.tar.gz"), *plain = at(f->ctx, "plain.data");
    make_tar(f->root, tgz, true);
    make_tar(f->root, plain, false); /* detected by content, not by name */
    free(tgz);
    free(plain);
    put(f->ctx, "notar.gz", "just text", 0644);
    f->op.add = true;
    set_op(f, "/opt", (const char *[]){"pkg.tar.gz", "plain.data", "notar.gz", NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "opt/pkg/bin/tool", "tool");
    expect_content(f->dest, "opt/notar.gz", "just text");
    expect_missing(f->dest, "opt/pkg.tar.gz");
    f->op.unpack = KILN_DF_FALSE;
    set_op(f, "/kept/", (const char *[]){"pkg.tar.gz", NULL});
    expect_ok(f, run(f));
    assert_true(S_ISREG(lstat_of(f->dest, "kept/pkg.tar.gz").st_mode));
    f->op.unpack = KILN_DF_UNSET;
    /* ADD --chown applies to what is extracted */
    write_passwd(f->dest);
    f->op.chown = "app";
    set_op(f, "/owned", (const char *[]){"pkg.tar.gz", NULL});
    expect_ok(f, run(f));
    expect_owner_mode(f->dest, "owned/pkg/bin/tool", 1000, 1001, 0755);
    f->op.chown = NULL;
    /* COPY never extracts */
    f->op.add = false;
    set_op(f, "/c/", (const char *[]){"pkg.tar.gz", NULL});
    expect_ok(f, run(f));
    assert_true(S_ISREG(lstat_of(f->dest, "c/pkg.tar.gz").st_mode));
}

/* A python3 http.server serving dir on loopback; returns its pid and port. */
static pid_t serve(const char *dir, int *ret_port)
{
    char *portfile = at(dir, ".port");
    pid_t pid = fork();
    if (pid == 0) {
        char *script = kiln_xasprintf(
                "import http.server,socketserver,os,sys\n"
                "os.chdir(%s)\n"
                "s=socketserver.TCPServer(('127.0.0.1',0),http.server.SimpleHTTPRequestHandler)\n"
                "open('.port.tmp','w').write(str(s.server_address[1]))\n"
                "os.rename('.port.tmp','.port')\n"
                "s.serve_forever()\n",
                "sys.argv[1]");
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        dup2(null, 2);
        execlp("python3", "python3", "-c", script, dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        char *p = get(dir, ".port");
        if (p) {
            *ret_port = (int)strtol(p, NULL, 10);
            free(p);
            free(portfile);
            return pid;
        }
        usleep(20000);
    }
    fail_msg("the test HTTP server did not start");
    return -1;
}

static void test_copy__add_url(void **state)
{
    struct fx *f = *state;
    char *www = at(f->root, "www");
    assert_int_equal(mkdir(www, 0755), 0);
    put(www, "dl/file.txt", "downloaded\n", 0644);
    put(f->root, "t/pkg/x", "x", 0644);
    char *out = at(www, "dl/a.tar.gz"), *file = at(www, "dl/file.txt");
    make_tar(f->root, out, true);
    struct timespec ts[2] = {{.tv_sec = 1600000000}, {.tv_sec = 1600000000}};
    assert_int_equal(utimensat(AT_FDCWD, file, ts, 0), 0);
    free(out);
    free(file);
    int port;
    pid_t pid = serve(www, &port);
    char *url = kiln_xasprintf("http://127.0.0.1:%d/dl/file.txt", port);
    char *tgz = kiln_xasprintf("http://127.0.0.1:%d/dl/a.tar.gz", port);
    char *dir = kiln_xasprintf("http://127.0.0.1:%d/dl/", port);
    char *missing = kiln_xasprintf("http://127.0.0.1:%d/dl/none", port);
    f->op.add = true;
    set_op(f, "/in/", (const char *[]){url, tgz, NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "in/file.txt", "downloaded\n");
    expect_owner_mode(f->dest, "in/file.txt", 0, 0, 0600);
    assert_int_equal(lstat_of(f->dest, "in/file.txt").st_mtim.tv_sec, 1600000000);
    assert_true(S_ISREG(lstat_of(f->dest, "in/a.tar.gz").st_mode)); /* URLs are not extracted */
    f->op.unpack = KILN_DF_TRUE;
    set_op(f, "/un/", (const char *[]){tgz, NULL});
    expect_ok(f, run(f));
    expect_content(f->dest, "un/pkg/x", "x");
    f->op.unpack = KILN_DF_UNSET;
    f->op.chmod = "644";
    set_op(f, "/named", (const char *[]){dir, NULL});
    expect_ok(f, run(f));
    expect_owner_mode(f->dest, "named", 0, 0, 0644); /* a directory listing, as a file */
    set_op(f, "/d/", (const char *[]){dir, NULL});
    expect_ok(f, run(f));
    assert_true(S_ISREG(lstat_of(f->dest, "d/dl").st_mode)); /* named after the path */
    f->op.chmod = NULL;
    /* --checksum: the right one passes, a wrong one names both digests */
    const char *good = "sha256:30031a9831674dd684c3817399acebc88a116ce5a7a3fbc0cf34d92521a534e6";
    const char *bad = "sha256:b0d27ab6e1b87e0fa8c5f4c5a1b6e1e9ef0d1e6d8b8a42c2c8cf1ee5b7d3f2a1";
    char *dl = at(f->tmp, "");
    run_tool((const char *[]){"rm", "-rf", dl, NULL}); /* forget the download */
    assert_int_equal(mkdir(dl, 0700), 0);
    free(dl);
    f->op.checksum = (char *)bad;
    set_op(f, "/c/", (const char *[]){url, NULL});
    expect_fail(f, run(f), KILN_E_INVALID, "digest mismatch");
    assert_non_null(strstr(f->err->message, bad));
    assert_non_null(strstr(f->err->message, good));
    f->op.checksum = (char *)good;
    expect_ok(f, run(f));
    expect_content(f->dest, "c/file.txt", "downloaded\n");
    f->op.checksum = NULL;
    set_op(f, "/m/", (const char *[]){missing, NULL});
    expect_fail(f, run(f), KILN_E_UPSTREAM, "404");
    /* the checksum downloads; the copy of the same build reuses the file */
    char *once = kiln_xasprintf("%s?once=1", url);
    set_op(f, "/once/", (const char *[]){once, NULL});
    struct kiln_copy_src src = {.root = f->ctx, .reset_owner = true};
    char sum[KILN_OCI_DIGEST_MAX];
    assert_int_equal(kiln_copy_checksum(&f->op, &src, f->tmp, sum, &f->err), 0);
    assert_int_equal(strncmp(sum, "sha256:", 7), 0);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    expect_ok(f, run(f));
    expect_content(f->dest, "once/file.txt", "downloaded\n");
    free(once);
    free(url);
    free(tgz);
    free(dir);
    free(missing);
    free(www);
}

static void test_copy__confined(void **state)
{
    struct fx *f = *state;
    /* a COPY --from stage whose link points at /etc/shadow reads the stage's file */
    char *stage = at(f->root, "stage");
    put(stage, "etc/shadow", "stage shadow", 0600);
    put_link(stage, "secret", "/etc/shadow");
    put_link(stage, "up", "../../../../../../etc/shadow");
    set_op(f, "/got/", (const char *[]){"secret", "up", NULL});
    expect_ok(f, run_from(f, stage, false));
    expect_content(f->dest, "got/secret", "stage shadow");
    expect_content(f->dest, "got/up", "stage shadow");
    /* a destination through a link to / stays inside the destination root */
    put(f->ctx, "f", "F", 0644);
    put_link(f->dest, "escape", "/");
    put_link(f->dest, "dots", "../../../../..");
    char *outside = kiln_xasprintf("/kiln-copy-escape-%d", (int)getpid());
    set_op(f, outside, (const char *[]){"f", NULL});
    free(f->op.dest);
    f->op.dest = kiln_xasprintf("/escape%s", outside);
    expect_ok(f, run(f));
    expect_content(f->dest, outside + 1, "F");
    struct stat st;
    assert_int_equal(lstat(outside, &st), -1);
    free(f->op.dest);
    f->op.dest = kiln_xasprintf("/dots%s-2/", outside);
    expect_ok(f, run(f));
    char *inside = kiln_xasprintf("%s-2/f", outside + 1);
    expect_content(f->dest, inside, "F");
    free(inside);
    char *out2 = kiln_xasprintf("%s-2", outside);
    assert_int_equal(lstat(out2, &st), -1);
    free(out2);
    /* a dangling link in the image to a host path: the host file is never touched */
    char *canary = kiln_xasprintf("/tmp/kiln-copy-canary-%d", (int)getpid());
    int fd = open(canary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    put_link(f->dest, "hostlink", canary);
    set_op(f, "/hostlink/sub/", (const char *[]){"f", NULL});
    expect_fail(f, run(f), KILN_E_INVALID, "symbolic link to a missing directory");
    assert_int_equal(lstat(canary, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(unlink(canary), 0);
    free(canary);
    free(outside);
    free(stage);
}

static void test_copy__devices_refused(void **state)
{
    struct fx *f = *state;
    char *dev = at(f->ctx, "d/null");
    put(f->ctx, "d/f", "F", 0644);
    assert_int_equal(mknod(dev, S_IFCHR | 0666, makedev(1, 3)), 0);
    set_op(f, "/o/", (const char *[]){"d", NULL});
    expect_fail(f, run(f), KILN_E_INVALID, "'/d/null' in the build context is a device");
    set_op(f, "/o/", (const char *[]){"d/null", NULL});
    expect_fail(f, run(f), KILN_E_INVALID, "device");
    char *fifo = at(f->ctx, "p");
    assert_int_equal(mkfifo(fifo, 0644), 0);
    set_op(f, "/o/", (const char *[]){"p", NULL});
    expect_fail(f, run(f), KILN_E_INVALID, "fifo");
    /* a COPY --from stage may hold device nodes: they are recreated */
    set_op(f, "/s/", (const char *[]){"d", NULL});
    expect_ok(f, run_from(f, f->ctx, false));
    assert_true(S_ISCHR(lstat_of(f->dest, "s/null").st_mode));
    free(dev);
    free(fifo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_copy__dir_source_copies_contents, fx_setup,
                                            fx_teardown),
            cmocka_unit_test_setup_teardown(test_copy__wildcards, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_copy__destination_rules, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_copy__chown, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_copy__chmod, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_copy__ownership_and_times, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_copy__links, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_copy__exclude, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_copy__dockerignore, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_copy__parents, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_copy__inline, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_copy__add_archive, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_copy__add_url, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_copy__confined, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_copy__devices_refused, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
