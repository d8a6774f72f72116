/* SPDX-License-Identifier: Apache-2.0 */
#include "layer-test.h"

static void base_tree(const char *dir)
{
    put_dir(dir, "", 0755);
    put_dir(dir, "etc", 0755);
    put_file(dir, "etc/hosts", "127.0.0.1 localhost\n", 0644);
    put_file(dir, "etc/passwd", "root:x:0:0\n", 0644);
    put_dir(dir, "var", 0755);
    put_dir(dir, "var/cache", 0755);
    put_file(dir, "var/cache/a", "a", 0644);
    put_file(dir, "var/cache/b", "b", 0644);
    const char *all[] = {"etc/hosts", "etc/passwd", "var/cache/a", "var/cache/b",
                         "var/cache", "var",        "etc"};
    for (size_t i = 0; i < ELEMENTSOF(all); i++)
        set_mtime(dir, all[i], 1700000000, 0);
}

/* lower, and upper = lower with a change, a delete in an unchanged directory and new links. */
static void two_trees(const char *lower, const char *upper)
{
    base_tree(lower);
    base_tree(upper);
    put_file(upper, "etc/hosts", "10.0.0.1 changed\n", 0644);
    set_mtime(upper, "etc/hosts", 1800000000, 0);
    set_mtime(upper, "etc", 1700000000, 0);
    remove_tree(upper, "var/cache/a");
    set_mtime(upper, "var/cache", 1700000000, 0);
    put_dir(upper, "opt", 0755);
    put_dir(upper, "opt/app", 0700);
    put_file(upper, "opt/app/bin", "binary", 0755);
    char *a = at(upper, "opt/app/bin"), *b = at(upper, "opt/app/bin2");
    assert_int_equal(link(a, b), 0);
    free(a);
    free(b);
    set_mtime(upper, "opt/app/bin", 1750000000, 0);
    set_mtime(upper, "opt/app", 1750000000, 0);
    set_mtime(upper, "opt", 1750000000, 0);
}

static char *tool_output(const char *const *argv, const char *in)
{
    struct kiln_buf out = KILN_BUF_INIT(1 << 24);
    assert_int_equal(run_tool(argv, in, &out), 0);
    return kiln_buf_detach(&out, NULL);
}

/* Collapses each run of spaces into one, in place. */
static void squeeze_spaces(char *s)
{
    char *w = s;
    for (const char *p = s; *p; p++)
        if (*p != ' ' || w == s || w[-1] != ' ')
            *w++ = *p;
    *w = '\0';
}

/* GNU tar lists the layer as BuildKit writes it: parents first, whiteouts, a hard link. */
static void test_layer__gnu_tar_lists_buildkit_order(void **state)
{
    struct fx *f = *state;
    if (!have_tool("tar", "--version")) {
        print_message("tar not installed: skipped\n");
        return;
    }
    char *lower = at(f->root, "lower"), *upper = at(f->root, "upper"), *path = at(f->root, "l.tar");
    two_trees(lower, upper);
    struct kiln_buf blob = KILN_BUF_INIT((size_t)1 << 30);
    struct kiln_oci_layer_opts opts = {.compression = KILN_OCI_COMPRESSION_NONE};
    struct kiln_oci_layer l;
    layer_of_trees(lower, upper, &opts, &blob, &l);
    save(path, blob.buf, blob.len);
    char *names = tool_output((const char *[]){"tar", "-tf", path, NULL}, NULL);
    assert_string_equal(names, "etc/\n"
                               "etc/hosts\n"
                               "opt/\n"
                               "opt/app/\n"
                               "opt/app/bin\n"
                               "opt/app/bin2\n"
                               "var/\n"
                               "var/cache/\n"
                               "var/cache/.wh.a\n");
    char *verbose = tool_output(
            (const char *[]){"tar", "--numeric-owner", "--utc", "-tvf", path, NULL}, NULL);
    /* GNU tar pads its columns to the widest entry: compare with single spaces. */
    squeeze_spaces(verbose);
    static const char want[] =
            "drwxr-xr-x 0/0 0 2023-11-14 22:13 etc/\n"
            "-rw-r--r-- 0/0 17 2027-01-15 08:00 etc/hosts\n"
            "drwxr-xr-x 0/0 0 2025-06-15 15:06 opt/\n"
            "drwx------ 0/0 0 2025-06-15 15:06 opt/app/\n"
            "-rwxr-xr-x 0/0 6 2025-06-15 15:06 opt/app/bin\n"
            "hrwxr-xr-x 0/0 0 2025-06-15 15:06 opt/app/bin2 link to opt/app/bin\n"
            "drwxr-xr-x 0/0 0 2023-11-14 22:13 var/\n"
            "drwxr-xr-x 0/0 0 2023-11-14 22:13 var/cache/\n"
            "---------- 0/0 0 1970-01-01 00:00 var/cache/.wh.a\n";
    if (strcmp(verbose, want) != 0)
        fail_msg("tar -tv listed\n%s--- expected\n%s", verbose, want);
    assert_int_equal(l.tar_size, blob.len);
    assert_string_equal(l.media_type, "application/vnd.oci.image.layer.v1.tar");
    assert_string_equal(l.digest, l.diff_id);
    free(names);
    free(verbose);
    kiln_buf_release(&blob);
    free(lower);
    free(upper);
    free(path);
}

static void write_layer(const char *lower, const char *upper, enum kiln_oci_compression c,
                        bool has_epoch, int64_t epoch, struct kiln_buf *out,
                        struct kiln_oci_layer *ret)
{
    struct kiln_oci_layer_opts opts = {.compression = c,
                                       .level = KILN_OCI_LEVEL_DEFAULT,
                                       .has_epoch = has_epoch,
                                       .epoch = epoch};
    layer_of_trees(lower, upper, &opts, out, ret);
}

/* Same input, same bytes; SOURCE_DATE_EPOCH clamps later mtimes, whiteouts stay at 0. */
static void test_layer__deterministic_and_epoch(void **state)
{
    struct fx *f = *state;
    struct kiln_error *err = NULL;
    char *lower = at(f->root, "lower"), *upper = at(f->root, "upper");
    two_trees(lower, upper);
    for (int c = KILN_OCI_COMPRESSION_NONE; c <= KILN_OCI_COMPRESSION_ZSTD; c++) {
        struct kiln_buf one = KILN_BUF_INIT((size_t)1 << 30), two = KILN_BUF_INIT((size_t)1 << 30);
        struct kiln_oci_layer l1, l2;
        write_layer(lower, upper, c, false, 0, &one, &l1);
        write_layer(lower, upper, c, false, 0, &two, &l2);
        if (one.len != two.len || memcmp(one.buf, two.buf, one.len) != 0)
            fail_msg("%s: two writes of the same layer differ", kiln_oci_compression_name(c));
        assert_string_equal(l1.digest, l2.digest);
        assert_string_equal(l1.diff_id, l2.diff_id);
        kiln_buf_release(&one);
        kiln_buf_release(&two);
    }
    struct kiln_buf tar = KILN_BUF_INIT((size_t)1 << 30);
    struct kiln_oci_layer l;
    write_layer(lower, upper, KILN_OCI_COMPRESSION_NONE, true, 1760000000, &tar, &l);
    struct mem_reader m = {tar.buf, tar.len, 0, 0};
    struct kiln_oci_tar_reader *r = NULL;
    kiln_oci_tar_reader_new(mem_read, &m, NULL, &r);
    const struct kiln_oci_tar_header *h;
    int k;
    while ((k = kiln_oci_tar_reader_next(r, &h, &err)) > 0) {
        int64_t want = strstr(h->name, ".wh.")             ? 0
                       : strcmp(h->name, "etc/hosts") == 0 ? 1760000000
                       : strncmp(h->name, "opt", 3) == 0   ? 1750000000
                                                           : 1700000000;
        if (h->mtime != want)
            fail_msg("'%s': mtime %lld, expected %lld", h->name, (long long)h->mtime,
                     (long long)want);
    }
    expect_ok(k, &err);
    kiln_oci_tar_reader_free(r);
    kiln_buf_release(&tar);
    free(lower);
    free(upper);
}

static char *sha256_of(const char *const *argv_decompress, const char *blob, const char *scratch)
{
    const char *in = blob;
    char *plain = NULL;
    if (argv_decompress) {
        struct kiln_buf out = KILN_BUF_INIT((size_t)1 << 30);
        assert_int_equal(run_tool(argv_decompress, blob, &out), 0);
        plain = at(scratch, "plain");
        save(plain, out.buf, out.len);
        kiln_buf_release(&out);
        in = plain;
    }
    char *sum = tool_output((const char *[]){"sha256sum", NULL}, in);
    sum[64] = '\0';
    char *digest = kiln_xasprintf("sha256:%s", sum);
    free(sum);
    free(plain);
    return digest;
}

/* Blob digest and diff id agree with sha256sum, gzip -d and zstd -d run as real tools. */
static void test_layer__digests_match_real_tools(void **state)
{
    struct fx *f = *state;
    if (!have_tool("sha256sum", "--version")) {
        print_message("sha256sum not installed: skipped\n");
        return;
    }
    char *lower = at(f->root, "lower"), *upper = at(f->root, "upper"), *path = at(f->root, "b");
    two_trees(lower, upper);
    char *big = kiln_xmalloc(1000001);
    for (int i = 0; i < 1000000; i++)
        big[i] = (char)(i * 7 % 251);
    big[1000000] = '\0';
    put_file(upper, "opt/big", big, 0644);
    free(big);
    static const struct {
        enum kiln_oci_compression c;
        const char *tool;
        const char *const argv[3];
    } cases[] = {
            {KILN_OCI_COMPRESSION_GZIP, "gzip", {"gzip", "-dc", NULL}},
            {KILN_OCI_COMPRESSION_ZSTD, "zstd", {"zstd", "-dc", NULL}},
            {KILN_OCI_COMPRESSION_NONE, "sha256sum", {NULL}},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        if (!have_tool(cases[i].tool, "--version"))
            continue;
        struct kiln_buf blob = KILN_BUF_INIT((size_t)1 << 30);
        struct kiln_oci_layer l;
        write_layer(lower, upper, cases[i].c, false, 0, &blob, &l);
        save(path, blob.buf, blob.len);
        char *digest = sha256_of(NULL, path, f->root);
        char *diff_id = sha256_of(cases[i].argv[0] ? cases[i].argv : NULL, path, f->root);
        assert_string_equal(l.digest, digest);
        assert_string_equal(l.diff_id, diff_id);
        assert_int_equal(l.size, blob.len);
        free(digest);
        free(diff_id);
        kiln_buf_release(&blob);
    }
    free(lower);
    free(upper);
    free(path);
}

/* The empty layer: 1024 zero bytes, the diff id every BuildKit empty layer has. */
static void test_layer__empty(void **state)
{
    struct fx *f = *state;
    struct kiln_error *err = NULL;
    struct kiln_oci_changes c = KILN_OCI_CHANGES_INIT;
    struct kiln_buf blob = KILN_BUF_INIT(1 << 20);
    struct kiln_oci_layer_opts opts = {.compression = KILN_OCI_COMPRESSION_GZIP,
                                       .level = KILN_OCI_LEVEL_DEFAULT,
                                       .docker_media_type = true};
    struct kiln_oci_layer l;
    expect_ok(kiln_oci_layer_write(f->root, &c, &opts, buf_write, &blob, &l, &err), &err);
    assert_string_equal(l.diff_id,
                        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
    assert_int_equal(l.tar_size, 1024);
    assert_string_equal(l.media_type, "application/vnd.docker.image.rootfs.diff.tar.gzip");
    kiln_buf_release(&blob);
}

/* An unmodified file whose inode gains a link is written as a link to the new path. */
static void test_layer__links_to_unmodified_files(void **state)
{
    struct fx *f = *state;
    char *lower = at(f->root, "lower"), *upper = at(f->root, "upper"), *path = at(f->root, "l");
    base_tree(lower);
    put_dir(upper, "", 0755);
    /* Both trees share the inodes (same file system), as a copy-up would not. */
    const char *dirs[] = {"etc", "var", "var/cache"};
    for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
        put_dir(upper, dirs[i], 0755);
        set_mtime(upper, dirs[i], 1700000000, 0);
    }
    const char *files[] = {"etc/hosts", "etc/passwd", "var/cache/a", "var/cache/b"};
    for (size_t i = 0; i < ELEMENTSOF(files); i++) {
        char *a = at(lower, files[i]), *b = at(upper, files[i]);
        assert_int_equal(link(a, b), 0);
        free(a);
        free(b);
    }
    char *a = at(upper, "var/cache/a"), *z = at(upper, "z");
    assert_int_equal(link(a, z), 0);
    struct kiln_buf blob = KILN_BUF_INIT(1 << 20);
    struct kiln_oci_layer_opts opts = {.compression = KILN_OCI_COMPRESSION_NONE};
    struct kiln_oci_layer l;
    layer_of_trees(lower, upper, &opts, &blob, &l);
    struct kiln_error *err = NULL;
    struct mem_reader m = {blob.buf, blob.len, 0, 0};
    struct kiln_oci_tar_reader *r = NULL;
    kiln_oci_tar_reader_new(mem_read, &m, NULL, &r);
    struct kiln_buf got = KILN_BUF_INIT(1 << 20);
    const struct kiln_oci_tar_header *h;
    int k;
    while ((k = kiln_oci_tar_reader_next(r, &h, &err)) > 0)
        assert_int_equal(kiln_buf_addf(&got, "%c %s %s\n", h->type, h->name, h->linkname), 0);
    expect_ok(k, &err);
    /* Every file is unmodified with several links: only z and what waited for it. */
    assert_string_equal(got.buf, "0 z \n5 var/ \n5 var/cache/ \n1 var/cache/a z\n");
    kiln_oci_tar_reader_free(r);
    kiln_buf_release(&got);
    kiln_buf_release(&blob);
    free(a);
    free(z);
    free(lower);
    free(upper);
    free(path);
}

/* umoci (the OCI reference unpacker) unpacks an image made of our layer into the same tree. */
static void test_layer__umoci_unpacks_it(void **state)
{
    struct fx *f = *state;
    if (geteuid() != 0 || !have_tool("umoci", "--version")) {
        print_message("umoci or root missing: skipped\n");
        return;
    }
    char *lower = at(f->root, "lower"), *upper = at(f->root, "upper");
    two_trees(lower, upper);
    struct kiln_buf blob = KILN_BUF_INIT((size_t)1 << 30);
    struct kiln_oci_layer l;
    write_layer(NULL, upper, KILN_OCI_COMPRESSION_GZIP, false, 0, &blob, &l);
    char *layout = at(f->root, "image");
    put_dir(layout, "", 0755);
    put_dir(layout, "blobs", 0755);
    put_dir(layout, "blobs/sha256", 0755);
    put_file(layout, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 0644);
    char *p = kiln_xasprintf("%s/blobs/sha256/%s", layout, l.digest + 7);
    save(p, blob.buf, blob.len);
    free(p);
    char *config = kiln_xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
                                  "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                                  l.diff_id);
    char cdgst[KILN_OCI_DIGEST_MAX], mdgst[KILN_OCI_DIGEST_MAX];
    assert_int_equal(kiln_oci_digest_bytes(KILN_OCI_SHA256, config, strlen(config), cdgst, NULL),
                     0);
    p = kiln_xasprintf("%s/blobs/sha256/%s", layout, cdgst + 7);
    save(p, config, strlen(config));
    free(p);
    char *manifest_json = kiln_xasprintf(
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
            "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
            "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
            "\"size\":%llu}]}",
            cdgst, strlen(config), l.media_type, l.digest, (unsigned long long)l.size);
    assert_int_equal(kiln_oci_digest_bytes(KILN_OCI_SHA256, manifest_json, strlen(manifest_json),
                                           mdgst, NULL),
                     0);
    p = kiln_xasprintf("%s/blobs/sha256/%s", layout, mdgst + 7);
    save(p, manifest_json, strlen(manifest_json));
    free(p);
    char *index = kiln_xasprintf(
            "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
            "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
            "\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}}]}",
            mdgst, strlen(manifest_json));
    put_file(layout, "index.json", index, 0644);
    char *image = kiln_xasprintf("%s:latest", layout), *bundle = at(f->root, "bundle");
    const char *argv[] = {"umoci", "unpack", "--image", image, bundle, NULL};
    assert_int_equal(run_tool(argv, NULL, NULL), 0);
    char *rootfs = at(bundle, "rootfs");
    set_mtime(rootfs, "", 0, 0);
    set_mtime(upper, "", 0, 0);
    char *want = manifest(upper), *got = manifest(rootfs);
    if (strcmp(want, got) != 0)
        fail_msg("umoci unpacked\n%s--- expected\n%s", got, want);
    free(want);
    free(got);
    free(rootfs);
    free(image);
    free(bundle);
    free(index);
    free(manifest_json);
    free(config);
    free(layout);
    kiln_buf_release(&blob);
    free(lower);
    free(upper);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_layer__gnu_tar_lists_buildkit_order, fx_setup,
                                            fx_teardown),
            cmocka_unit_test_setup_teardown(test_layer__deterministic_and_epoch, fx_setup,
                                            fx_teardown),
            cmocka_unit_test_setup_teardown(test_layer__digests_match_real_tools, fx_setup,
                                            fx_teardown),
            cmocka_unit_test_setup_teardown(test_layer__empty, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_layer__links_to_unmodified_files, fx_setup,
                                            fx_teardown),
            cmocka_unit_test_setup_teardown(test_layer__umoci_unpacks_it, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
