/* SPDX-License-Identifier: Apache-2.0 */
#include "layer-test.h"
#include "oci/unpack.h"

#define CAP_V2 "\x01\0\0\x02\0\x20\0\0\0\0\0\0\0\0\0\0\0\0\0\0"

/* A tree with every kind of entry, whole-second mtimes, and (as root) owners and a capability. */
static void rich_tree(const char *dir)
{
    bool root = geteuid() == 0;
    put_dir(dir, "", 0755);
    put_dir(dir, "etc", 0755);
    put_file(dir, "etc/passwd", "root:x:0:0\n", 0644);
    put_file(dir, "etc/shadow", "secret\n", 0600);
    put_dir(dir, "usr", 0755);
    put_dir(dir, "usr/bin", 0711);
    put_file(dir, "usr/bin/ping",
             "\x7f"
             "ELF...",
             04755);
    put_file(dir, "usr/bin/empty", "", 0755);
    put_symlink(dir, "bin", "usr/bin");
    put_symlink(dir, "usr/bin/abs", "/etc/passwd");
    put_symlink(dir, "usr/bin/dangling", "../../nowhere/at/all");
    char *a = at(dir, "etc/passwd"), *b = at(dir, "usr/passwd-link");
    assert_int_equal(link(a, b), 0);
    char *fifo = at(dir, "usr/fifo");
    assert_int_equal(mkfifo(fifo, 0640), 0);
    put_dir(dir, "var", 01777);
    put_dir(dir, "var/empty", 0700);
    char *big = kiln_xmalloc(300001);
    for (int i = 0; i < 300000; i++)
        big[i] = (char)('a' + i % 26);
    big[300000] = '\0';
    put_file(dir, "var/big", big, 0644);
    free(big);
    if (root) {
        char *ping = at(dir, "usr/bin/ping"), *shadow = at(dir, "etc/shadow");
        char *dev = at(dir, "usr/null");
        assert_int_equal(setxattr(ping, "security.capability", CAP_V2, 20, 0), 0);
        assert_int_equal(lchown(shadow, 0, 42), 0);
        assert_int_equal(lchown(a, 1234, 5678), 0);
        assert_int_equal(mknod(dev, S_IFCHR | 0666, makedev(1, 3)), 0);
        char *abs = at(dir, "usr/bin/abs");
        assert_int_equal(lchown(abs, 7, 8), 0);
        free(abs);
        free(ping);
        free(shadow);
        free(dev);
    }
    const char *all[] = {"etc/passwd",
                         "etc/shadow",
                         "usr/bin/ping",
                         "usr/bin/empty",
                         "bin",
                         "usr/bin/abs",
                         "usr/bin/dangling",
                         "usr/fifo",
                         "var/big",
                         "var/empty",
                         "var",
                         "usr/bin",
                         "usr",
                         "etc"};
    for (size_t i = 0; i < ELEMENTSOF(all); i++)
        set_mtime(dir, all[i], 1600000000 + (time_t)i, 0);
    if (root)
        set_mtime(dir, "usr/null", 1600000000, 0);
    set_mtime(dir, "usr", 1600000099, 0);
    free(a);
    free(b);
    free(fifo);
}

/* Fails naming the first line where the manifests of the two trees differ. */
static void expect_same_tree(const char *want_root, const char *got_root)
{
    char *want = manifest(want_root), *got = manifest(got_root);
    size_t i = 0, line = 0;
    while (want[i] && want[i] == got[i])
        i++;
    while (line < i && want[i - line - 1] != '\n')
        line++;
    if (want[i] || got[i])
        fail_msg("trees differ: %s has\n%.300s\n--- %s has\n%.300s", want_root, want + i - line,
                 got_root, got + i - line);
    free(want);
    free(got);
}

static const struct kiln_oci_apply_opts devices_ok = {.allow_devices = true};

/* diff -> layer -> apply gives the same tree, for each compression. */
static void test_unpack__round_trip(void **state)
{
    struct fx *f = *state;
    struct kiln_error *err = NULL;
    char *src = at(f->root, "src");
    rich_tree(src);
    for (int c = KILN_OCI_COMPRESSION_NONE; c <= KILN_OCI_COMPRESSION_ZSTD; c++) {
        struct kiln_buf blob = KILN_BUF_INIT((size_t)1 << 30);
        struct kiln_oci_layer_opts opts = {.compression = c, .level = KILN_OCI_LEVEL_DEFAULT};
        struct kiln_oci_layer l;
        layer_of_trees(NULL, src, &opts, &blob, &l);
        char *dst = kiln_xasprintf("%s/dst%d", f->root, c);
        put_dir(dst, "", 0755);
        struct kiln_oci_apply_stats s;
        expect_ok(apply_blob(f->root, &blob, dst, &devices_ok, &s, &err), &err);
        set_mtime(dst, "", 0, 0);
        expect_same_tree(src, dst);
        assert_string_equal(s.diff_id, l.diff_id);
        assert_string_equal(s.digest, l.digest);
        assert_int_equal(s.size, l.size);
        assert_int_equal(s.tar_size, l.tar_size);
        assert_int_equal((int)s.compression, c);
        free(dst);
        kiln_buf_release(&blob);
    }
    free(src);
}

/* A second layer made by a tree diff, applied on top of the first, gives the second tree. */
static void test_unpack__whiteouts_remove(void **state)
{
    struct fx *f = *state;
    struct kiln_error *err = NULL;
    char *lower = at(f->root, "lower"), *upper = at(f->root, "upper"), *dst = at(f->root, "dst");
    rich_tree(lower);
    rich_tree(upper);
    put_dir(dst, "", 0755);
    remove_tree(upper, "var"); /* a directory with content */
    remove_tree(upper, "etc/shadow");
    put_file(upper, "etc/passwd", "changed\n", 0644); /* breaks the hard link too */
    set_mtime(upper, "etc/passwd", 1650000000, 0);
    put_dir(upper, "usr/bin/ping", 0755); /* a file becomes a directory */
    set_mtime(upper, "usr/bin/ping", 1650000000, 0);
    set_mtime(upper, "usr/bin", 1650000000, 0);
    set_mtime(upper, "etc", 1650000000, 0);
    set_mtime(upper, "", 1650000000, 0);
    struct kiln_oci_layer_opts opts = {.compression = KILN_OCI_COMPRESSION_GZIP};
    struct kiln_buf l1 = KILN_BUF_INIT((size_t)1 << 30), l2 = KILN_BUF_INIT((size_t)1 << 30);
    struct kiln_oci_layer info;
    layer_of_trees(NULL, lower, &opts, &l1, &info);
    layer_of_trees(lower, upper, &opts, &l2, &info);
    expect_ok(apply_blob(f->root, &l1, dst, &devices_ok, NULL, &err), &err);
    expect_ok(apply_blob(f->root, &l2, dst, &devices_ok, NULL, &err), &err);
    set_mtime(dst, "", 1650000000, 0);
    expect_same_tree(upper, dst);
    kiln_buf_release(&l1);
    kiln_buf_release(&l2);
    free(lower);
    free(upper);
    free(dst);
}

/* ".wh..wh..opq" hides what lower layers put in the directory, not what this layer brings. */
static void test_unpack__opaque_marker(void **state)
{
    struct fx *f = *state;
    struct kiln_error *err = NULL;
    char *dst = at(f->root, "dst");
    rich_tree(dst);
    struct kiln_buf tar = KILN_BUF_INIT(1 << 20);
    tar_simple(&tar, "usr/", '5', NULL);
    tar_simple(&tar, "usr/new", '0', "new");
    tar_simple(&tar, "usr/bin/", '5', NULL);
    tar_simple(&tar, "usr/.wh..wh..opq", '0', "");
    tar_simple(&tar, "etc/.wh.shadow", '0', "");
    tar_simple(&tar, "etc/.wh.never-there", '0', "");
    tar_simple(&tar, "gone/.wh.x", '0', "");
    tar_end(&tar);
    expect_ok(apply_blob(f->root, &tar, dst, NULL, NULL, &err), &err);
    assert_true(exists(dst, "usr/new"));
    assert_true(exists(dst, "usr/bin"));
    assert_false(exists(dst, "usr/bin/ping"));
    assert_false(exists(dst, "usr/fifo"));
    assert_false(exists(dst, "usr/passwd-link"));
    assert_false(exists(dst, "etc/shadow"));
    assert_true(exists(dst, "etc/passwd"));
    /* containerd makes the parents of every entry, whiteouts included. */
    assert_true(exists(dst, "gone"));
    kiln_buf_release(&tar);
    free(dst);
}

/* In overlay mode whiteouts become overlay whiteouts, which the overlay diff reads back. */
static void test_unpack__overlay_whiteouts(void **state)
{
    struct fx *f = *state;
    if (geteuid() != 0) {
        print_message("not root: skipped\n");
        return;
    }
    struct kiln_error *err = NULL;
    char *lower = at(f->root, "lower"), *upper = at(f->root, "upper"), *ovl = at(f->root, "ovl");
    rich_tree(lower);
    rich_tree(upper);
    put_dir(ovl, "", 0755);
    remove_tree(upper, "var/big");
    remove_tree(upper, "usr/bin");
    put_file(upper, "etc/passwd", "changed\n", 0644);
    struct kiln_oci_changes want = KILN_OCI_CHANGES_INIT, got = KILN_OCI_CHANGES_INIT;
    expect_ok(kiln_oci_diff_trees(lower, upper, &want, &err), &err);
    struct kiln_buf blob = KILN_BUF_INIT((size_t)1 << 30);
    struct kiln_oci_layer_opts opts = {.compression = KILN_OCI_COMPRESSION_ZSTD};
    struct kiln_oci_layer l;
    expect_ok(kiln_oci_layer_write(upper, &want, &opts, buf_write, &blob, &l, &err), &err);
    /* And an opaque marker for var/. */
    struct kiln_buf tar = KILN_BUF_INIT(1 << 20);
    tar_simple(&tar, "var/.wh..wh..opq", '0', "");
    tar_end(&tar);
    struct kiln_oci_apply_opts o = {.whiteouts = KILN_OCI_WHITEOUT_OVERLAY};
    expect_ok(apply_blob(f->root, &blob, ovl, &o, NULL, &err), &err);
    struct stat st;
    char *wh = at(ovl, "usr/bin");
    assert_int_equal(lstat(wh, &st), 0);
    assert_true(kiln_oci_whiteout_is_overlay(&st));
    expect_ok(kiln_oci_diff_overlay(lower, ovl, &got, &err), &err);
    char *want_text = changes_text(&want), *got_text = changes_text(&got);
    assert_string_equal(got_text, want_text);
    expect_ok(apply_blob(f->root, &tar, ovl, &o, NULL, &err), &err);
    char *var = at(ovl, "var"), v[2] = "";
    assert_int_equal(getxattr(var, "trusted.overlay.opaque", v, 1), 1);
    assert_int_equal(v[0], 'y');
    free(var);
    free(wh);
    free(want_text);
    free(got_text);
    kiln_oci_changes_release(&want);
    kiln_oci_changes_release(&got);
    kiln_buf_release(&blob);
    kiln_buf_release(&tar);
    free(lower);
    free(upper);
    free(ovl);
}

/* Hostile archives: a root r/ and a sibling outside/ that must not change. */
struct hostile {
    char *root, *outside, *before;
};

static void hostile_begin(struct fx *f, struct hostile *h)
{
    h->root = at(f->root, "r");
    h->outside = at(f->root, "outside");
    put_dir(h->root, "", 0755);
    put_dir(h->root, "etc", 0755);
    put_dir(h->outside, "", 0755);
    put_file(h->outside, "secret", "do not touch", 0600);
    h->before = manifest(h->outside);
}

static void hostile_end(struct hostile *h)
{
    char *after = manifest(h->outside);
    if (strcmp(after, h->before) != 0)
        fail_msg("outside the root changed:\n%s--- was\n%s", after, h->before);
    free(after);
    free(h->before);
    free(h->root);
    free(h->outside);
}

static void expect_rejected(struct fx *f, struct hostile *h, struct kiln_buf *tar,
                            const struct kiln_oci_apply_opts *opts, int code, const char *part)
{
    struct kiln_error *err = NULL;
    expect_fail(apply_blob(f->root, tar, h->root, opts, NULL, &err), &err, code, part);
    kiln_buf_reset(tar);
}

static void test_unpack__hostile_names(void **state)
{
    struct fx *f = *state;
    struct hostile h;
    hostile_begin(f, &h);
    struct kiln_buf tar = KILN_BUF_INIT(1 << 22);
    tar_simple(&tar, "../outside/evil", '0', "x");
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, KILN_E_INVALID,
                    "layer entry '../outside/evil': path escapes the root");
    tar_simple(&tar, "etc/../../outside/secret", '0', "x");
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, KILN_E_INVALID, "path escapes the root");
    char *abs = at(h.outside, "evil");
    tar_simple(&tar, abs, '0', "x");
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, KILN_E_INVALID, "path is absolute");
    free(abs);
    tar_simple(&tar, "etc/../.wh.x/../../outside", '0', "");
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, KILN_E_INVALID, "escapes the root");
    tar_simple(&tar, "etc/.wh..", '0', "");
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, KILN_E_INVALID, "invalid whiteout");
    /* The root itself as a symlink (CVE-2021-29136), or as a file. */
    tar_simple(&tar, ".", '2', h.outside);
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, KILN_E_INVALID, "would replace the root");
    tar_simple(&tar, "./", '5', NULL);
    tar_end(&tar);
    struct kiln_error *err = NULL;
    expect_ok(apply_blob(f->root, &tar, h.root, NULL, NULL, &err), &err);
    kiln_buf_reset(&tar);
    /* A 10 KB name; a name component over 255 bytes; nesting past the limit. */
    char *name = kiln_xmalloc(10241);
    memset(name, 'n', 10240);
    name[10240] = '\0';
    tar_simple(&tar, name, '0', "x");
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, KILN_E_LIMIT, "name longer than 4096 bytes");
    name[300] = '\0';
    tar_simple(&tar, name, '0', "x");
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, KILN_E_LIMIT, "longer than 255 bytes");
    struct kiln_buf deep = KILN_BUF_INIT(1 << 20);
    for (unsigned i = 0; i <= KILN_LAYER_DEPTH_MAX; i++)
        assert_int_equal(kiln_buf_adds(&deep, "d/"), 0);
    tar_simple(&tar, deep.buf, '5', NULL);
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, KILN_E_LIMIT, "deeper than 512 levels");
    kiln_buf_release(&deep);
    free(name);
    kiln_buf_release(&tar);
    hostile_end(&h);
}

/* Symlinks planted by the layer are followed inside the root only. */
static void test_unpack__hostile_symlinks(void **state)
{
    struct fx *f = *state;
    struct kiln_error *err = NULL;
    struct hostile h;
    hostile_begin(f, &h);
    struct kiln_buf tar = KILN_BUF_INIT(1 << 22);
    tar_simple(&tar, "escape", '2', h.outside);
    tar_simple(&tar, "escape/secret", '0', "overwritten");
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, -ENOENT, "layer entry 'escape/secret'");
    tar_simple(&tar, "up", '2', "../../../../../../../..");
    tar_simple(&tar, "up/etc/evil", '0', "lands inside");
    tar_simple(&tar, "self", '2', ".");
    tar_simple(&tar, "self/x", '0', "inside");
    /* An existing symlink replaced by a file: the file, not the target, is written. */
    tar_simple(&tar, "etc/passwd", '2', "/../outside/secret");
    tar_simple(&tar, "etc/passwd", '0', "mine");
    tar_end(&tar);
    expect_ok(apply_blob(f->root, &tar, h.root, NULL, NULL, &err), &err);
    kiln_buf_reset(&tar);
    assert_true(exists(h.root, "etc/evil"));
    assert_true(exists(h.root, "x"));
    struct stat st;
    char *passwd = at(h.root, "etc/passwd");
    assert_int_equal(lstat(passwd, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    free(passwd);
    /* Duplicate names and type flips: the last entry wins, inside the root. */
    tar_simple(&tar, "flip", '0', "file");
    tar_simple(&tar, "flip/", '5', NULL);
    tar_simple(&tar, "flip/inner", '0', "inner");
    tar_simple(&tar, "flip", '2', "etc");
    tar_simple(&tar, "flip/through", '0', "lands in etc");
    tar_simple(&tar, "flop/", '5', NULL);
    tar_simple(&tar, "flop", '0', "file again");
    tar_end(&tar);
    expect_ok(apply_blob(f->root, &tar, h.root, NULL, NULL, &err), &err);
    kiln_buf_reset(&tar);
    assert_true(exists(h.root, "etc/through"));
    char *flop = at(h.root, "flop");
    assert_int_equal(lstat(flop, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    free(flop);
    /* Hard links: never to outside, even through a planted symlink. */
    tar_simple(&tar, "l", '1', "../outside/secret");
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, KILN_E_INVALID,
                    "layer entry 'l': hard link target '../outside/secret' escapes the root");
    char *abs = at(h.outside, "secret");
    tar_simple(&tar, "l2", '1', abs);
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, -ENOENT, "layer entry 'l2': hard link to");
    tar_simple(&tar, "out", '2', h.outside);
    tar_simple(&tar, "l3", '1', "out/secret");
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, -ENOENT, "layer entry 'l3'");
    free(abs);
    kiln_buf_release(&tar);
    hostile_end(&h);
}

static void test_unpack__hostile_limits(void **state)
{
    struct fx *f = *state;
    struct kiln_error *err = NULL;
    struct hostile h;
    hostile_begin(f, &h);
    /* A gzip bomb: 64 MiB of zeros in well under 1 MiB, against a 4 MiB cap. */
    struct kiln_buf tar = KILN_BUF_INIT((size_t)1 << 30), gz = KILN_BUF_INIT((size_t)1 << 30);
    size_t big = 64u << 20;
    char *zeros = kiln_xcalloc(1, big + 1);
    tar_simple(&tar, "bomb", '0', "");
    struct kiln_oci_tar_header hb = {.name = "bomb2", .linkname = "", .type = '0', .size = big};
    tar_add(&tar, &hb, zeros);
    tar_end(&tar);
    free(zeros);
    struct kiln_oci_compressor *z = NULL;
    expect_ok(kiln_oci_compressor_new(KILN_OCI_COMPRESSION_GZIP, 9, buf_write, &gz, &z, &err),
              &err);
    expect_ok(kiln_oci_compressor_write(z, tar.buf, tar.len, &err), &err);
    expect_ok(kiln_oci_compressor_finish(z, &err), &err);
    kiln_oci_compressor_free(z);
    assert_true(gz.len < (1u << 20));
    struct kiln_oci_apply_opts capped = {.max_bytes = 4u << 20};
    expect_rejected(f, &h, &gz, &capped, KILN_E_LIMIT, "larger than the limit of 4194304 bytes");
    /* A truncated gzip stream. */
    kiln_buf_reset(&tar);
    tar_simple(&tar, "etc/file", '0', "content");
    tar_end(&tar);
    expect_ok(kiln_oci_compressor_new(KILN_OCI_COMPRESSION_GZIP, 6, buf_write, &gz, &z, &err),
              &err);
    expect_ok(kiln_oci_compressor_write(z, tar.buf, tar.len, &err), &err);
    expect_ok(kiln_oci_compressor_finish(z, &err), &err);
    kiln_oci_compressor_free(z);
    gz.len -= 5;
    expect_rejected(f, &h, &gz, NULL, KILN_E_INVALID, "truncated gzip stream");
    /* Too many entries. */
    kiln_buf_reset(&tar);
    for (int i = 0; i < 11; i++)
        tar_simple(&tar, "etc/x", '0', "x");
    tar_end(&tar);
    struct kiln_oci_apply_opts few = {.max_entries = 10};
    expect_rejected(f, &h, &tar, &few, KILN_E_LIMIT, "more than 10 entries");
    /* Device nodes, unless allowed (and root). */
    struct kiln_oci_tar_header dev = {
            .name = "dev/sda", .linkname = "", .type = '4', .mode = 0600, .devmajor = 8};
    tar_add(&tar, &dev, NULL);
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, KILN_E_DENIED,
                    "layer entry 'dev/sda': device nodes are not allowed");
    /* Layers cannot forge overlayfs metadata. */
    struct kiln_oci_xattr x = {.name = "trusted.overlay.opaque", .value = "y", .len = 1};
    struct kiln_oci_tar_header d = {
            .name = "etc/", .linkname = "", .type = '5', .mode = 0755, .xattrs = &x, .n_xattrs = 1};
    tar_add(&tar, &d, NULL);
    tar_end(&tar);
    expect_rejected(f, &h, &tar, NULL, KILN_E_INVALID, "is overlayfs metadata");
    kiln_buf_release(&tar);
    kiln_buf_release(&gz);
    hostile_end(&h);
}

/* The file at dir/rel piped through argv (a compressor) into dir/out. */
static void pipe_tool(const char *dir, const char *rel, const char *const *argv, const char *out)
{
    char *in = at(dir, rel), *dst = at(dir, out);
    struct kiln_buf b = KILN_BUF_INIT((size_t)1 << 30);
    assert_int_equal(run_tool(argv, in, &b), 0);
    save(dst, b.buf, b.len);
    kiln_buf_release(&b);
    free(in);
    free(dst);
}

static bool detect(const char *dir, const char *rel)
{
    char *p = at(dir, rel);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, 3, SEEK_SET), 3); /* detection reads from offset 0 anyway */
    struct kiln_error *err = NULL;
    bool is = false;
    expect_ok(kiln_oci_archive_detect(fd, &is, &err), &err);
    (void)close(fd);
    free(p);
    return is;
}

static const char *const compressors[][3] = {
        {"gzip", "-c", NULL}, {"bzip2", "-c", NULL}, {"xz", "-c", NULL}, {"zstd", "-c", NULL}};

/* ADD's detection: by content (a valid first tar header once decompressed), never by name. */
static void test_unpack__archive_detect(void **state)
{
    struct fx *f = *state;
    char *src = at(f->root, "src");
    put_dir(src, "", 0755);
    put_file(src, "file", "content\n", 0644);
    const char *create[] = {"tar", "-C", src, "-cf", NULL, ".", NULL};
    char *tarfile = at(f->root, "a.tar");
    create[4] = tarfile;
    assert_int_equal(run_tool(create, NULL, NULL), 0);
    put_file(f->root, "text", "just some text, not a tar\n", 0644);
    put_file(f->root, "empty", "", 0644);
    assert_true(detect(f->root, "a.tar"));
    assert_false(detect(f->root, "text"));
    assert_false(detect(f->root, "empty"));
    for (size_t i = 0; i < ELEMENTSOF(compressors); i++) {
        pipe_tool(f->root, "a.tar", compressors[i], "a.tar.x");
        pipe_tool(f->root, "text", compressors[i], "text.x");
        if (!detect(f->root, "a.tar.x"))
            fail_msg("%s: a compressed tar is not detected", compressors[i][0]);
        if (detect(f->root, "text.x"))
            fail_msg("%s: compressed text is taken for an archive", compressors[i][0]);
    }
    /* Only the first header counts, as Go's tar.Reader.Next() once. */
    char *p = at(f->root, "a.tar");
    assert_int_equal(truncate(p, 512), 0);
    assert_true(detect(f->root, "a.tar"));
    /* A directory is not an archive. */
    int dfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct kiln_error *err = NULL;
    bool is = true;
    expect_ok(kiln_oci_archive_detect(dfd, &is, &err), &err);
    assert_false(is);
    (void)close(dfd);
    free(p);
    free(tarfile);
    free(src);
}

static int extract_file(const char *dir, const char *rel, const char *root, const char *dest,
                        const struct kiln_oci_archive_opts *opts, struct kiln_error **err)
{
    char *p = at(dir, rel);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    int r = kiln_oci_archive_extract(fd, root, dest, opts, err);
    (void)close(fd);
    free(p);
    return r;
}

static void expect_owner(const char *dir, const char *rel, uid_t uid, gid_t gid, mode_t mode)
{
    char *p = at(dir, rel);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    if (st.st_uid != uid || st.st_gid != gid || (mode && (st.st_mode & 07777) != mode))
        fail_msg("'%s': %u:%u %o, expected %u:%u %o", p, st.st_uid, st.st_gid, st.st_mode & 07777,
                 uid, gid, mode);
    free(p);
}

/* Each compression extracts what GNU tar extracts; ".wh." names stay files; --chown applies. */
static void test_unpack__archive_extract(void **state)
{
    struct fx *f = *state;
    struct kiln_error *err = NULL;
    char *src = at(f->root, "src"), *ref = at(f->root, "ref"), *dst = at(f->root, "dst");
    rich_tree(src);
    char *p = at(src, "usr/null");
    (void)unlink(p); /* devices are refused unless allowed: not in this archive */
    free(p);
    put_file(src, ".wh.etc", "a file, not a whiteout\n", 0644);
    put_file(src, "usr/.wh..wh..opq", "", 0644);
    set_mtime(src, "usr", 1600000099, 0);
    char *tarfile = at(f->root, "a.tar");
    const char *create[] = {"tar",   "-C", src, "--numeric-owner", "--xattrs", "-cf",
                            tarfile, ".",  NULL};
    assert_int_equal(run_tool(create, NULL, NULL), 0);
    put_dir(ref, "", 0755);
    const char *x[] = {"tar",  "-C",    ref, "--numeric-owner", "--xattrs", "--xattrs-include=*",
                       "-xpf", tarfile, NULL};
    assert_int_equal(run_tool(x, NULL, NULL), 0);
    put_dir(dst, "", 0755);
    const char *files[] = {"a.tar", "a.tar.0", "a.tar.1", "a.tar.2", "a.tar.3"};
    for (size_t i = 0; i < ELEMENTSOF(files); i++) {
        if (i > 0)
            pipe_tool(f->root, "a.tar", compressors[i - 1], files[i]);
        char *dest = kiln_xasprintf("/app/%zu", i);
        expect_ok(extract_file(f->root, files[i], dst, dest, NULL, &err), &err);
        char *got = at(dst, dest + 1);
        expect_same_tree(ref, got);
        free(got);
        free(dest);
    }
    expect_owner(dst, "app", 0, 0, 0755);
    /* --chown: every entry, and the directories of dest made for it (not the ones there). */
    if (geteuid() == 0) {
        struct kiln_oci_archive_opts own = {.chown = true, .uid = 7, .gid = 8};
        expect_ok(extract_file(f->root, "a.tar", dst, "app/own/er", &own, &err), &err);
        expect_owner(dst, "app", 0, 0, 0755);
        expect_owner(dst, "app/own", 7, 8, 0755);
        expect_owner(dst, "app/own/er", 7, 8, 0755);
        expect_owner(dst, "app/own/er/etc/shadow", 7, 8, 0600);
        expect_owner(dst, "app/own/er/usr/bin/abs", 7, 8, 0);
    }
    free(tarfile);
    free(src);
    free(ref);
    free(dst);
}

/* Archive names are cleaned as go-archive does and confined to dest, as in its chroot. */
static void test_unpack__archive_hostile(void **state)
{
    struct fx *f = *state;
    struct kiln_error *err = NULL;
    struct hostile h;
    hostile_begin(f, &h);
    struct kiln_buf tar = KILN_BUF_INIT(1 << 22);
    char *path = at(f->root, "a.tar");
    static const struct {
        const char *name;
        char type;
        const char *link_or_content;
        int code;
        const char *part;
    } bad[] = {
            {"../x", '0', "x", KILN_E_INVALID, "archive entry '../x': path escapes the root"},
            {"a/../../x", '0', "x", KILN_E_INVALID, "path escapes the root"},
            {"top/../../../t", '0', "t", KILN_E_INVALID, "path escapes the root"},
            {"up", '2', "../../..", KILN_E_INVALID, "symlink target '../../..' escapes the root"},
            {"a/b", '2', "../../x", KILN_E_INVALID, "escapes the root"},
            {"l", '1', "../outside/secret", KILN_E_INVALID, "hard link target"},
    };
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        kiln_buf_reset(&tar);
        tar_simple(&tar, bad[i].name, bad[i].type, bad[i].link_or_content);
        tar_end(&tar);
        save(path, tar.buf, tar.len);
        expect_fail(extract_file(f->root, "a.tar", h.root, "/d", NULL, &err), &err, bad[i].code,
                    bad[i].part);
    }
    /* What stays inside is taken: "/abs", "a/../b", a symlink to "/" that means dest. */
    kiln_buf_reset(&tar);
    tar_simple(&tar, "/abs/file", '0', "abs");
    tar_simple(&tar, "a/../b", '0', "b");
    tar_simple(&tar, "x/y/z", '2', "../../b");
    tar_simple(&tar, "etc/", '5', NULL);
    tar_simple(&tar, "etcl", '2', "/etc");
    tar_simple(&tar, "etcl/passwd", '0', "lands in dest/etc");
    tar_simple(&tar, "top", '2', "/");
    tar_simple(&tar, "top/t", '0', "t");
    tar_end(&tar);
    save(path, tar.buf, tar.len);
    expect_ok(extract_file(f->root, "a.tar", h.root, "/d", NULL, &err), &err);
    assert_true(exists(h.root, "d/abs/file"));
    assert_true(exists(h.root, "d/b"));
    assert_true(exists(h.root, "d/etc/passwd"));
    assert_false(exists(h.root, "etc/passwd"));
    assert_true(exists(h.root, "d/t"));
    /* dest itself is resolved inside root: a symlink there cannot lead out. */
    put_symlink(h.root, "out", "/etc/../../..");
    expect_ok(extract_file(f->root, "a.tar", h.root, "out/sub", NULL, &err), &err);
    assert_true(exists(h.root, "sub/abs/file"));
    /* Devices, and a bomb against the byte cap. */
    kiln_buf_reset(&tar);
    struct kiln_oci_tar_header dev = {.name = "null",
                                      .linkname = "",
                                      .type = '3',
                                      .mode = 0666,
                                      .devmajor = 1,
                                      .devminor = 3};
    tar_add(&tar, &dev, NULL);
    tar_end(&tar);
    save(path, tar.buf, tar.len);
    expect_fail(extract_file(f->root, "a.tar", h.root, "/d", NULL, &err), &err, KILN_E_DENIED,
                "archive entry 'null': device nodes are not allowed");
    kiln_buf_reset(&tar);
    char *zeros = kiln_xcalloc(1, 3u << 20);
    struct kiln_oci_tar_header hb = {.name = "bomb", .linkname = "", .type = '0', .size = 3u << 20};
    tar_add(&tar, &hb, zeros);
    tar_end(&tar);
    free(zeros);
    save(path, tar.buf, tar.len);
    const char *xz[] = {"xz", "-c", NULL};
    pipe_tool(f->root, "a.tar", xz, "a.tar.xz");
    struct kiln_oci_archive_opts capped = {.max_bytes = 1u << 20};
    expect_fail(extract_file(f->root, "a.tar.xz", h.root, "/d", &capped, &err), &err, KILN_E_LIMIT,
                "archive is larger than the limit of 1048576 bytes");
    free(path);
    kiln_buf_release(&tar);
    hostile_end(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_unpack__round_trip, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_unpack__whiteouts_remove, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_unpack__opaque_marker, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_unpack__overlay_whiteouts, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_unpack__hostile_names, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_unpack__hostile_symlinks, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_unpack__hostile_limits, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_unpack__archive_detect, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_unpack__archive_extract, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_unpack__archive_hostile, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
