/* SPDX-License-Identifier: Apache-2.0 */
#include "layer-test.h"

#include "oci/compress.h"

/* Input that compresses somewhat: text-like, with some noise. */
static char *sample(size_t len)
{
    char *p = kiln_xmalloc(len + 1);
    uint32_t x = 12345;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (x >> 16) % 7 == 0 ? (char)(x >> 8) : "layer of kiln "[i % 14];
    }
    return p;
}

static void compress(enum kiln_oci_compression c, int level, const char *in, size_t len,
                     struct kiln_buf *out)
{
    struct kiln_error *err = NULL;
    struct kiln_oci_compressor *z = NULL;
    expect_ok(kiln_oci_compressor_new(c, level, buf_write, out, &z, &err), &err);
    /* Odd write sizes, so blocks are cut inside writes. */
    for (size_t off = 0, step = 1; off < len; off += step, step = step * 3 + 7) {
        size_t n = off + step > len ? len - off : step;
        expect_ok(kiln_oci_compressor_write(z, in + off, n, &err), &err);
    }
    expect_ok(kiln_oci_compressor_finish(z, &err), &err);
    kiln_oci_compressor_free(z);
}

/* Decompresses with our reader; returns the code and fills out. */
static int decompress(const char *in, size_t len, size_t step, struct kiln_buf *out,
                      enum kiln_oci_compression *kind, struct kiln_error **err)
{
    struct mem_reader m = {in, len, 0, step};
    struct kiln_oci_decompressor *d = NULL;
    int r = kiln_oci_decompressor_new(mem_read, &m, &d, err);
    if (r < 0)
        return r;
    char buf[7000];
    ssize_t n;
    while ((n = kiln_oci_decompressor_read(d, buf, sizeof(buf), err)) > 0)
        assert_int_equal(kiln_buf_add(out, buf, (size_t)n), 0);
    if (kind)
        *kind = kiln_oci_decompressor_kind(d);
    kiln_oci_decompressor_free(d);
    return (int)n;
}

static void round_trip(enum kiln_oci_compression c, size_t len)
{
    struct kiln_error *err = NULL;
    char *in = sample(len);
    struct kiln_buf z = KILN_BUF_INIT((size_t)1 << 30), again = KILN_BUF_INIT((size_t)1 << 30);
    struct kiln_buf out = KILN_BUF_INIT((size_t)1 << 30);
    compress(c, KILN_OCI_LEVEL_DEFAULT, in, len, &z);
    compress(c, KILN_OCI_LEVEL_DEFAULT, in, len, &again);
    if (z.len != again.len || memcmp(z.buf, again.buf, z.len) != 0)
        fail_msg("%s of %zu bytes: two runs differ", kiln_oci_compression_name(c), len);
    enum kiln_oci_compression kind;
    expect_ok(decompress(z.buf, z.len, 1000, &out, &kind, &err), &err);
    assert_int_equal(kind, len || c != KILN_OCI_COMPRESSION_NONE ? c : KILN_OCI_COMPRESSION_NONE);
    if (out.len != len || memcmp(out.buf, in, len) != 0)
        fail_msg("%s of %zu bytes: got %zu bytes back", kiln_oci_compression_name(c), len, out.len);
    free(in);
    kiln_buf_release(&z);
    kiln_buf_release(&again);
    kiln_buf_release(&out);
}

static void test_compress__round_trips(void **state)
{
    static const size_t sizes[] = {
            0, 1, 1000, 32768, 128 * 1024 - 1, 128 * 1024, 128 * 1024 + 1, 3 * 1024 * 1024 + 17};
    for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
        round_trip(KILN_OCI_COMPRESSION_GZIP, sizes[i]);
        round_trip(KILN_OCI_COMPRESSION_ZSTD, sizes[i]);
        round_trip(KILN_OCI_COMPRESSION_NONE, sizes[i]);
    }
}

/* Go's gzip header: no name, mtime 0, OS 255; XFL 2 for level 9, 4 for level 1. */
static void test_compress__gzip_header_as_go(void **state)
{
    static const int levels[] = {KILN_OCI_LEVEL_DEFAULT, 1, 9, 0};
    static const unsigned char xfl[] = {0, 4, 2, 0};
    for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
        struct kiln_buf z = KILN_BUF_INIT(1 << 20);
        compress(KILN_OCI_COMPRESSION_GZIP, levels[i], "abc", 3, &z);
        const unsigned char want[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl[i], 255};
        assert_memory_equal(z.buf, want, sizeof(want));
        kiln_buf_release(&z);
    }
}

/* The real tools read what we write, and we read what they write. */
static void check_tool(enum kiln_oci_compression c, const char *tool, const char *const *unpack,
                       const char *const *pack, const char *dir)
{
    if (!have_tool(tool, "--version")) {
        print_message("%s not installed: skipped\n", tool);
        return;
    }
    struct kiln_error *err = NULL;
    size_t len = 2 * 1024 * 1024 + 5;
    char *in = sample(len);
    struct kiln_buf z = KILN_BUF_INIT((size_t)1 << 30), out = KILN_BUF_INIT((size_t)1 << 30);
    compress(c, KILN_OCI_LEVEL_DEFAULT, in, len, &z);
    char *zpath = at(dir, "blob"), *plain = at(dir, "plain");
    save(zpath, z.buf, z.len);
    assert_int_equal(run_tool(unpack, zpath, &out), 0);
    if (out.len != len || memcmp(out.buf, in, len) != 0)
        fail_msg("%s -d gave %zu bytes, expected %zu", tool, out.len, len);
    save(plain, in, len);
    kiln_buf_reset(&z);
    assert_int_equal(run_tool(pack, plain, &z), 0);
    kiln_buf_reset(&out);
    expect_ok(decompress(z.buf, z.len, 4096, &out, NULL, &err), &err);
    if (out.len != len || memcmp(out.buf, in, len) != 0)
        fail_msg("our %s reader gave %zu bytes of %s's output, expected %zu",
                 kiln_oci_compression_name(c), out.len, tool, len);
    free(zpath);
    free(plain);
    free(in);
    kiln_buf_release(&z);
    kiln_buf_release(&out);
}

static void test_compress__real_tools(void **state)
{
    struct fx *f = *state;
    check_tool(KILN_OCI_COMPRESSION_GZIP, "gzip", (const char *[]){"gzip", "-dc", NULL},
               (const char *[]){"gzip", "-c", NULL}, f->root);
    check_tool(KILN_OCI_COMPRESSION_GZIP, "pigz", (const char *[]){"pigz", "-dc", NULL},
               (const char *[]){"pigz", "-c", NULL}, f->root);
    check_tool(KILN_OCI_COMPRESSION_ZSTD, "zstd", (const char *[]){"zstd", "-dc", NULL},
               (const char *[]){"zstd", "-c", NULL}, f->root);
}

static void test_compress__concatenated_gzip_members(void **state)
{
    struct kiln_error *err = NULL;
    struct kiln_buf z = KILN_BUF_INIT(1 << 20), out = KILN_BUF_INIT(1 << 20);
    compress(KILN_OCI_COMPRESSION_GZIP, 6, "hello ", 6, &z);
    compress(KILN_OCI_COMPRESSION_GZIP, 1, "world", 5, &z);
    expect_ok(decompress(z.buf, z.len, 3, &out, NULL, &err), &err);
    assert_string_equal(out.buf, "hello world");
    kiln_buf_release(&z);
    kiln_buf_release(&out);
}

static void test_compress__truncated_and_corrupt(void **state)
{
    struct kiln_error *err = NULL;
    char *in = sample(300000);
    struct kiln_buf gz = KILN_BUF_INIT(1 << 22), zs = KILN_BUF_INIT(1 << 22);
    struct kiln_buf out = KILN_BUF_INIT(1 << 22);
    compress(KILN_OCI_COMPRESSION_GZIP, 6, in, 300000, &gz);
    compress(KILN_OCI_COMPRESSION_ZSTD, 3, in, 300000, &zs);
    expect_fail(decompress(gz.buf, gz.len - 4, 0, &out, NULL, &err), &err, KILN_E_INVALID,
                "truncated gzip stream");
    kiln_buf_reset(&out);
    expect_fail(decompress(gz.buf, gz.len / 2, 0, &out, NULL, &err), &err, KILN_E_INVALID,
                "truncated gzip stream");
    kiln_buf_reset(&out);
    expect_fail(decompress(zs.buf, zs.len - 9, 0, &out, NULL, &err), &err, KILN_E_INVALID,
                "zstd stream");
    gz.buf[gz.len - 6] ^= 0x55; /* the CRC */
    kiln_buf_reset(&out);
    expect_fail(decompress(gz.buf, gz.len, 0, &out, NULL, &err), &err, KILN_E_INVALID,
                "corrupt gzip stream");
    free(in);
    kiln_buf_release(&gz);
    kiln_buf_release(&zs);
    kiln_buf_release(&out);
}

static void test_compress__levels_and_names(void **state)
{
    struct kiln_error *err = NULL;
    struct kiln_oci_compressor *z = NULL;
    struct kiln_buf out = KILN_BUF_INIT(1 << 20);
    expect_fail(kiln_oci_compressor_new(KILN_OCI_COMPRESSION_GZIP, 10, buf_write, &out, &z, &err),
                &err, KILN_E_INVALID, "out of range 0-9");
    expect_fail(kiln_oci_compressor_new(KILN_OCI_COMPRESSION_ZSTD, 23, buf_write, &out, &z, &err),
                &err, KILN_E_INVALID, "out of range 0-22");
    assert_null(z);
    enum kiln_oci_compression c;
    expect_ok(kiln_oci_compression_parse("zstd", &c, &err), &err);
    assert_int_equal(c, KILN_OCI_COMPRESSION_ZSTD);
    expect_fail(kiln_oci_compression_parse("lz4", &c, &err), &err, KILN_E_INVALID, "'lz4'");
    assert_string_equal(kiln_oci_compression_media_type(KILN_OCI_COMPRESSION_GZIP, true),
                        "application/vnd.docker.image.rootfs.diff.tar.gzip");
    assert_string_equal(kiln_oci_compression_media_type(KILN_OCI_COMPRESSION_ZSTD, false),
                        "application/vnd.oci.image.layer.v1.tar+zstd");
    kiln_buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_compress__round_trips),
            cmocka_unit_test(test_compress__gzip_header_as_go),
            cmocka_unit_test_setup_teardown(test_compress__real_tools, fx_setup, fx_teardown),
            cmocka_unit_test(test_compress__concatenated_gzip_members),
            cmocka_unit_test(test_compress__truncated_and_corrupt),
            cmocka_unit_test(test_compress__levels_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
