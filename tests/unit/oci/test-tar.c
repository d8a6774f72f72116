/* SPDX-License-Identifier: Apache-2.0 */
#include "layer-test.h"

#include "oci/tar.h"

/*
 * A Go program that re-writes a layer tar the way containerd's ChangeWriter
 * writes each entry (Format PAX, uid/gid only, mtime only, capability only;
 * whiteouts with an unspecified format and times at Unix 0). When our bytes
 * come back unchanged, our headers are Go's.
 */
static const char go_retar[] =
        "package main\n"
        "import (\"archive/tar\"; \"io\"; \"os\"; \"path\"; \"strings\"; \"time\")\n"
        "func main() {\n"
        "  r := tar.NewReader(os.Stdin)\n"
        "  w := tar.NewWriter(os.Stdout)\n"
        "  for {\n"
        "    h, err := r.Next()\n"
        "    if err == io.EOF { break }\n"
        "    if err != nil { panic(err) }\n"
        "    var o *tar.Header\n"
        "    if strings.HasPrefix(path.Base(h.Name), \".wh.\") {\n"
        "      t := time.Unix(0, 0).UTC()\n"
        "      o = &tar.Header{Typeflag: tar.TypeReg, Name: h.Name, ModTime: t, AccessTime: t,"
        " ChangeTime: t}\n"
        "    } else {\n"
        "      o = &tar.Header{Typeflag: h.Typeflag, Name: h.Name, Linkname: h.Linkname,"
        " Mode: h.Mode, Uid: h.Uid, Gid: h.Gid, Size: h.Size, ModTime: h.ModTime,"
        " Devmajor: h.Devmajor, Devminor: h.Devminor, Format: tar.FormatPAX}\n"
        "      if c, ok := h.PAXRecords[\"SCHILY.xattr.security.capability\"]; ok {\n"
        "        o.PAXRecords = map[string]string{\"SCHILY.xattr.security.capability\": c}\n"
        "      }\n"
        "    }\n"
        "    if err := w.WriteHeader(o); err != nil { panic(err) }\n"
        "    if _, err := io.Copy(w, r); err != nil { panic(err) }\n"
        "  }\n"
        "  if err := w.Close(); err != nil { panic(err) }\n"
        "}\n";

static void encode(const struct kiln_oci_tar_header *h, struct kiln_buf *out)
{
    struct kiln_error *err = NULL;
    expect_ok(kiln_oci_tar_header_encode(h, out, &err), &err);
}

static void test_tar__encode_ustar_fields(void **state)
{
    struct kiln_oci_tar_header h = {.name = "etc/passwd",
                                    .linkname = "",
                                    .type = '0',
                                    .mode = 04755,
                                    .uid = 1000,
                                    .gid = 50,
                                    .size = 12345,
                                    .mtime = 1700000000};
    struct kiln_buf b = KILN_BUF_INIT(1 << 20);
    encode(&h, &b);
    assert_int_equal(b.len, 512);
    const char *blk = b.buf;
    assert_string_equal(blk, "etc/passwd");
    assert_memory_equal(blk + 100,
                        "0004755\0"
                        "0001750\0"
                        "0000062\0",
                        24);
    assert_memory_equal(blk + 124,
                        "00000030071\0"
                        "14524770400\0",
                        24);
    assert_int_equal(blk[156], '0');
    assert_memory_equal(blk + 257,
                        "ustar\0"
                        "00",
                        8);
    assert_int_equal(blk[265], '\0'); /* uname and gname empty */
    assert_int_equal(blk[297], '\0');
    assert_memory_equal(blk + 329,
                        "0000000\0"
                        "0000000\0",
                        16);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (i >= 148 && i < 156) ? ' ' : (unsigned char)blk[i];
    char want[8];
    (void)snprintf(want, sizeof(want), "%06o", sum);
    assert_memory_equal(blk + 148, want, 7);
    assert_int_equal(blk[155], ' ');
    kiln_buf_release(&b);
}

static void test_tar__encode_long_names_and_records(void **state)
{
    char name150[151], name300[301];
    memset(name150, 'a', 150);
    memcpy(name150 + 60, "/", 1);
    name150[150] = '\0';
    memset(name300, 'b', 300);
    name300[100] = '/';
    name300[300] = '\0';
    struct kiln_buf b = KILN_BUF_INIT(1 << 20);
    /* Fits a USTAR prefix split: one block, no PAX header. */
    struct kiln_oci_tar_header h = {.name = name150, .linkname = "", .type = '0'};
    encode(&h, &b);
    assert_int_equal(b.len, 512);
    assert_memory_equal(b.buf + 345, name150, 60);
    assert_memory_equal(b.buf, name150 + 61, 89);
    /* Too long: a PAX header "<dir>/PaxHeaders.0/<base>", records sorted, then the header. */
    kiln_buf_reset(&b);
    struct kiln_oci_xattr cap = {.name = "security.capability", .value = "\x01\0\0\x02", .len = 4};
    h = (struct kiln_oci_tar_header){.name = name300,
                                     .linkname = "",
                                     .type = '0',
                                     .uid = 3000000,
                                     .xattrs = &cap,
                                     .n_xattrs = 1};
    encode(&h, &b);
    assert_int_equal(b.len, 3 * 512);
    assert_int_equal(b.buf[156], 'x');
    char *ext = kiln_xasprintf("%.100s/PaxHeaders.0/%s", name300, name300 + 101);
    assert_memory_equal(b.buf, ext, 100);
    free(ext);
    const char *data = b.buf + 512;
    assert_memory_equal(data, "41 SCHILY.xattr.security.capability=\x01\0\0\x02\n", 41);
    char *path = kiln_xasprintf("310 path=%s\n15 uid=3000000\n", name300);
    assert_memory_equal(data + 41, path, strlen(path));
    free(path);
    assert_memory_equal(b.buf + 1024, name300, 100);         /* name cut to the field */
    assert_memory_equal(b.buf + 1024 + 108, "0000000\0", 8); /* uid that does not fit: 0 */
    kiln_buf_release(&b);
}

/* Headers we encode come back from our reader as they were. */
static void test_tar__reader_round_trip(void **state)
{
    struct kiln_error *err = NULL;
    char longname[400];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    struct kiln_oci_xattr cap = {
            .name = "security.capability", .value = "\x01\x02\0\x03", .len = 4};
    const struct kiln_oci_tar_header in[] = {
            {.name = "dir/", .linkname = "", .type = '5', .mode = 0755, .mtime = 1},
            {.name = "dir/file",
             .linkname = "",
             .type = '0',
             .mode = 0644,
             .uid = 5,
             .gid = 6,
             .size = 5,
             .mtime = 1700000000,
             .xattrs = &cap,
             .n_xattrs = 1},
            {.name = longname, .linkname = "dir/file", .type = '1', .mode = 0644},
            {.name = "dir/link", .linkname = longname, .type = '2', .mode = 0777},
            {.name = "dev/null",
             .linkname = "",
             .type = '3',
             .mode = 0666,
             .devmajor = 1,
             .devminor = 3,
             .uid = 4000000000u,
             .mtime = -5},
            {.name = "caf\xc3\xa9", .linkname = "", .type = '6', .mode = 0600},
    };
    struct kiln_buf b = KILN_BUF_INIT(1 << 20);
    for (size_t i = 0; i < ELEMENTSOF(in); i++) {
        encode(&in[i], &b);
        if (in[i].size) {
            assert_int_equal(kiln_buf_add(&b, "hello", 5), 0);
            assert_int_equal(kiln_buf_add(&b, (char[512]){0}, kiln_oci_tar_padding(5)), 0);
        }
    }
    assert_int_equal(kiln_buf_add(&b, (char[1024]){0}, 1024), 0);
    struct mem_reader m = {b.buf, b.len, 0, 77};
    struct kiln_oci_tar_reader *r = NULL;
    kiln_oci_tar_reader_new(mem_read, &m, NULL, &r);
    const struct kiln_oci_tar_header *h;
    for (size_t i = 0; i < ELEMENTSOF(in); i++) {
        expect_ok(kiln_oci_tar_reader_next(r, &h, &err), &err);
        assert_string_equal(h->name, in[i].name);
        assert_string_equal(h->linkname, in[i].linkname);
        assert_int_equal(h->type, in[i].type);
        assert_int_equal(h->mode, in[i].mode);
        assert_int_equal(h->uid, in[i].uid);
        assert_int_equal(h->gid, in[i].gid);
        assert_int_equal(h->size, in[i].size);
        assert_int_equal(h->mtime, in[i].mtime);
        assert_int_equal(h->devmajor, in[i].devmajor);
        assert_int_equal(h->devminor, in[i].devminor);
        assert_int_equal(h->n_xattrs, in[i].n_xattrs);
        if (h->n_xattrs) {
            assert_string_equal(h->xattrs[0].name, cap.name);
            assert_memory_equal(h->xattrs[0].value, cap.value, cap.len);
        }
        if (h->size) {
            char data[8];
            assert_int_equal(kiln_oci_tar_reader_read(r, data, sizeof(data), &err), 5);
            assert_memory_equal(data, "hello", 5);
        }
    }
    assert_int_equal(kiln_oci_tar_reader_next(r, &h, &err), 0);
    assert_int_equal(kiln_oci_tar_reader_offset(r), b.len);
    kiln_oci_tar_reader_free(r);
    kiln_buf_release(&b);
}

/* What GNU tar writes (gnu and pax formats, long names) reads back as `tar -t` lists it. */
static void test_tar__reads_gnu_tar(void **state)
{
    struct fx *f = *state;
    struct kiln_error *err = NULL;
    char *src = at(f->root, "src");
    put_dir(src, "", 0755);
    char deep[300] = "";
    for (int i = 0; i < 6; i++) {
        size_t n = strlen(deep);
        (void)snprintf(deep + n, sizeof(deep) - n, "%sdirectory-with-a-long-name-%d", n ? "/" : "",
                       i);
        put_dir(src, deep, 0755);
    }
    char *file = kiln_xasprintf("%s/%0200d", deep, 7);
    put_file(src, file, "content", 0644);
    put_symlink(src, "link", file);
    static const char *const formats[] = {"--format=gnu", "--format=pax", "--format=ustar"};
    for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
        char *tarfile = at(f->root, "a.tar");
        const char *create[] = {"tar", "-C", src, formats[i], "-cf", tarfile, ".", NULL};
        const char *list[] = {"tar", "-tf", tarfile, NULL};
        int status = run_tool(create, NULL, NULL);
        if (status == 127) {
            print_message("tar not installed: skipped\n");
            free(tarfile);
            break;
        }
        struct kiln_buf want = KILN_BUF_INIT(1 << 20), got = KILN_BUF_INIT(1 << 20);
        if (status != 0) { /* ustar cannot hold the names: nothing to compare */
            free(tarfile);
            continue;
        }
        assert_int_equal(run_tool(list, NULL, &want), 0);
        int fd = open(tarfile, O_RDONLY | O_CLOEXEC);
        struct kiln_oci_tar_reader *r = NULL;
        kiln_oci_tar_reader_new(kiln_oci_fd_read, &fd, NULL, &r);
        const struct kiln_oci_tar_header *h;
        int k;
        while ((k = kiln_oci_tar_reader_next(r, &h, &err)) > 0)
            assert_int_equal(kiln_buf_addf(&got, "%s\n", h->name), 0);
        expect_ok(k, &err);
        if (strcmp(got.buf, want.buf) != 0)
            fail_msg("%s: we read\n%s\ntar -t lists\n%s", formats[i], got.buf, want.buf);
        kiln_oci_tar_reader_free(r);
        (void)close(fd);
        kiln_buf_release(&want);
        kiln_buf_release(&got);
        free(tarfile);
    }
    free(file);
    free(src);
}

/* A valid header block for `name`, with its checksum, patched by the caller. */
static void raw_header(char blk[512], const char *name, char type, uint64_t size)
{
    struct kiln_oci_tar_header h = {
            .name = (char *)name, .linkname = "", .type = type, .size = size};
    struct kiln_buf b = KILN_BUF_INIT(1 << 20);
    encode(&h, &b);
    memcpy(blk, b.buf + b.len - 512, 512);
    kiln_buf_release(&b);
}

static void fix_checksum(char blk[512])
{
    memset(blk + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)blk[i];
    (void)snprintf(blk + 148, 8, "%06o", sum);
    blk[155] = ' ';
}

static int read_all(const char *data, size_t len, const struct kiln_oci_tar_limits *limits,
                    struct kiln_error **err)
{
    struct mem_reader m = {data, len, 0, 0};
    struct kiln_oci_tar_reader *r = NULL;
    kiln_oci_tar_reader_new(mem_read, &m, limits, &r);
    const struct kiln_oci_tar_header *h;
    int k;
    while ((k = kiln_oci_tar_reader_next(r, &h, err)) > 0)
        ;
    kiln_oci_tar_reader_free(r);
    return k;
}

static void test_tar__reader_rejects(void **state)
{
    struct kiln_error *err = NULL;
    char a[4096] = {0};
    raw_header(a, "file", '0', 0);
    expect_ok(read_all(a, 512 + 1024, NULL, &err), &err);
    expect_fail(read_all(a, 512, NULL, &err), &err, KILN_E_INVALID, "no end-of-archive marker");
    expect_fail(read_all(a, 300, NULL, &err), &err, KILN_E_INVALID, "truncated tar stream");
    a[0] = 'F';
    expect_fail(read_all(a, 512 + 1024, NULL, &err), &err, KILN_E_INVALID, "checksum mismatch");
    /* A PAX header claiming 2 GiB, a GNU long name claiming 100 MB: refused before reading. */
    raw_header(a, "PaxHeaders.0/x", 'x', 2ull << 30);
    expect_fail(read_all(a, 4096, NULL, &err), &err, KILN_E_LIMIT, "over the limit");
    raw_header(a, "././@LongLink", 'L', 100000000);
    expect_fail(read_all(a, 4096, NULL, &err), &err, KILN_E_LIMIT, "over the limit");
    /* Sparse files, volume headers, a malformed record. */
    memset(a, 0, sizeof(a));
    raw_header(a, "PaxHeaders.0/x", 'x', 21);
    memcpy(a + 512, "21 GNU.sparse.size=9\n", 21);
    raw_header(a + 1024, "x", '0', 0);
    expect_fail(read_all(a, 4096, NULL, &err), &err, KILN_E_INVALID, "sparse files");
    memcpy(a + 512, "99 path=x\n", 11);
    expect_fail(read_all(a, 4096, NULL, &err), &err, KILN_E_INVALID, "malformed PAX record");
    memset(a, 0, sizeof(a));
    raw_header(a, "vol", 'V', 0);
    expect_fail(read_all(a, 4096, NULL, &err), &err, KILN_E_INVALID, "unsupported type 'V'");
    /* A negative size in base-256. */
    raw_header(a, "neg", '0', 0);
    memset(a + 124, 0xff, 12);
    fix_checksum(a);
    expect_fail(read_all(a, 4096, NULL, &err), &err, KILN_E_INVALID, "malformed tar header");
    /* A header after one zero block. */
    memset(a, 0, sizeof(a));
    raw_header(a + 512, "late", '0', 0);
    expect_fail(read_all(a, 4096, NULL, &err), &err, KILN_E_INVALID, "after a zero block");
}

static void test_tar__reader_limits(void **state)
{
    struct kiln_error *err = NULL;
    char a[512 * 8] = {0};
    for (int i = 0; i < 4; i++)
        raw_header(a + 512 * i, "f", '0', 0);
    struct kiln_oci_tar_limits entries = {.max_entries = 3}, bytes = {.max_bytes = 1500};
    expect_fail(read_all(a, sizeof(a), &entries, &err), &err, KILN_E_LIMIT, "more than 3 entries");
    expect_fail(read_all(a, sizeof(a), &bytes, &err), &err, KILN_E_LIMIT,
                "larger than the limit of 1500 bytes");
    /* A name over KILN_LAYER_NAME_MAX given by a PAX record. */
    size_t n = KILN_LAYER_NAME_MAX + 10;
    char *big = kiln_xcalloc(1, 4 * n);
    char *rec = kiln_xasprintf("%zu path=%0*d\n", n + 11, (int)n, 0);
    raw_header(big, "PaxHeaders.0/x", 'x', strlen(rec));
    memcpy(big + 512, rec, strlen(rec));
    raw_header(big + 512 + ((strlen(rec) + 511) / 512) * 512, "x", '0', 0);
    expect_fail(read_all(big, 4 * n, NULL, &err), &err, KILN_E_LIMIT, "name longer than 4096");
    free(rec);
    free(big);
}

/* Our layer bytes are what Go's archive/tar writes for the same headers. */
static void test_tar__layer_matches_go_archive_tar(void **state)
{
    struct fx *f = *state;
    if (!have_tool("go", "version")) {
        print_message("go not installed: skipped\n");
        return;
    }
    char *tree = at(f->root, "tree");
    put_dir(tree, "", 0755);
    put_dir(tree, "d", 0750);
    put_file(tree, "d/file", "content\n", 04755);
    char name[300];
    memset(name, 'x', 250);
    name[250] = '\0';
    put_file(tree, name, "long", 0644);
    put_file(tree, "d/caf\xc3\xa9", "utf-8", 0600);
    put_symlink(tree, "d/link", name);
    char *p = at(tree, "d/file"), *q = at(tree, "d/hard");
    assert_int_equal(link(p, q), 0);
    assert_int_equal(setxattr(p, "security.capability",
                              "\x01\0\0\x02\0\x20\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20, 0),
                     geteuid() == 0 ? 0 : -1);
    if (geteuid() == 0)
        assert_int_equal(chown(q, 3000000, 7), 0);
    char *fifo = at(tree, "fifo");
    assert_int_equal(mkfifo(fifo, 0644), 0);
    struct kiln_buf layer = KILN_BUF_INIT((size_t)1 << 30), got = KILN_BUF_INIT((size_t)1 << 30);
    struct kiln_oci_layer_opts opts = {.compression = KILN_OCI_COMPRESSION_NONE};
    struct kiln_oci_layer l;
    layer_of_trees(NULL, tree, &opts, &layer, &l);
    /* And a delete: a whiteout. */
    struct kiln_error *err = NULL;
    struct kiln_oci_changes c = KILN_OCI_CHANGES_INIT;
    expect_ok(kiln_oci_diff_trees(tree, f->root, &c, &err), &err);
    struct kiln_buf wh = KILN_BUF_INIT((size_t)1 << 30);
    expect_ok(kiln_oci_layer_write(f->root, &c, &opts, buf_write, &wh, &l, &err), &err);
    kiln_oci_changes_release(&c);
    char *prog = at(f->root, "retar.go"), *in = at(f->root, "layer.tar");
    save(prog, go_retar, strlen(go_retar));
    const struct kiln_buf *layers[] = {&layer, &wh};
    for (size_t i = 0; i < ELEMENTSOF(layers); i++) {
        save(in, layers[i]->buf, layers[i]->len);
        kiln_buf_reset(&got);
        const char *argv[] = {"go", "run", prog, NULL};
        assert_int_equal(run_tool(argv, in, &got), 0);
        if (got.len != layers[i]->len || memcmp(got.buf, layers[i]->buf, got.len) != 0)
            fail_msg("layer %zu: Go writes %zu bytes, we wrote %zu (or they differ)", i, got.len,
                     layers[i]->len);
    }
    free(prog);
    free(in);
    free(p);
    free(q);
    free(fifo);
    free(tree);
    kiln_buf_release(&layer);
    kiln_buf_release(&wh);
    kiln_buf_release(&got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_tar__encode_ustar_fields),
            cmocka_unit_test(test_tar__encode_long_names_and_records),
            cmocka_unit_test(test_tar__reader_round_trip),
            cmocka_unit_test_setup_teardown(test_tar__reads_gnu_tar, fx_setup, fx_teardown),
            cmocka_unit_test(test_tar__reader_rejects),
            cmocka_unit_test(test_tar__reader_limits),
            cmocka_unit_test_setup_teardown(test_tar__layer_matches_go_archive_tar, fx_setup,
                                            fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
