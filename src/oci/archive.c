/* SPDX-License-Identifier: Apache-2.0 */
/*
 * archive.c - ADD's local archives (unpack.h): the stream is told by its
 * magic bytes as go-archive's DecompressStream tells it; gzip, zstd and
 * plain tar go through our decompressor (compress.h), bzip2 and xz through
 * libarchive's decompression filters with its "raw" format (the libraries,
 * never external programs). The tar inside is read by our bounded reader
 * and extracted by kiln_oci_unpack() with the archive rules.
 */
#include "unpack.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "compress.h"
#include "layer-private.h"
#include "layer.h"
#include "tar.h"

#include "base/banned.h"

#define IO_CHUNK (64u * 1024)

/* The decompressed stream of an archive file. */
struct stream {
    int fd;
    struct kiln_oci_decompressor *dec; /* gzip, zstd, none */
    struct archive *la;                /* bzip2, xz */
};

static ssize_t stream_read(void *userdata, void *buf, size_t len, struct kiln_error **err)
{
    struct stream *s = userdata;
    if (s->dec)
        return kiln_oci_decompressor_read(s->dec, buf, len, err);
    la_ssize_t n = archive_read_data(s->la, buf, len);
    if (n < 0)
        return kiln_error_set(err, KILN_E_INVALID, "corrupt archive: %s",
                              archive_error_string(s->la) ? archive_error_string(s->la)
                                                          : "decompression failed");
    return n;
}

static void stream_release(struct stream *s)
{
    kiln_oci_decompressor_free(s->dec);
    if (s->la)
        archive_read_free(s->la);
}

/* bzip2 and xz through libarchive: a filter that must be the library's (ARCHIVE_OK), raw format. */
static int open_libarchive(struct stream *s, bool bzip2, struct kiln_error **err)
{
    s->la = archive_read_new();
    if (!s->la)
        return kiln_error_set(err, -ENOMEM, "libarchive: cannot start reading");
    int k = bzip2 ? archive_read_support_filter_bzip2(s->la)
                  : archive_read_support_filter_xz(s->la);
    if (k != ARCHIVE_OK)
        return kiln_error_set(err, -ENOTSUP, "%s archives are not supported by this libarchive",
                              bzip2 ? "bzip2" : "xz");
    struct archive_entry *entry;
    if (archive_read_support_format_raw(s->la) != ARCHIVE_OK ||
        archive_read_open_fd(s->la, s->fd, IO_CHUNK) != ARCHIVE_OK ||
        archive_read_next_header(s->la, &entry) != ARCHIVE_OK)
        return kiln_error_set(err, KILN_E_INVALID, "corrupt %s archive: %s", bzip2 ? "bzip2" : "xz",
                              archive_error_string(s->la) ? archive_error_string(s->la) : "");
    return 0;
}

/* Opens the decompressed stream of fd from offset 0, told by the magic bytes. */
static int stream_open(struct stream *s, int fd, struct kiln_error **err)
{
    static const unsigned char bzip2[] = {'B', 'Z', 'h'};
    static const unsigned char xz[] = {0xfd, '7', 'z', 'X', 'Z', 0x00};
    unsigned char magic[6] = {0};
    *s = (struct stream){.fd = fd};
    ssize_t n = pread(fd, magic, sizeof(magic), 0);
    if (n < 0 || lseek(fd, 0, SEEK_SET) < 0)
        return kiln_error_set_errno(err, -errno, "read archive");
    if (n >= (ssize_t)sizeof(bzip2) && memcmp(magic, bzip2, sizeof(bzip2)) == 0)
        return open_libarchive(s, true, err);
    if (n >= (ssize_t)sizeof(xz) && memcmp(magic, xz, sizeof(xz)) == 0)
        return open_libarchive(s, false, err);
    return kiln_oci_decompressor_new(kiln_oci_fd_read, &s->fd, &s->dec, err);
}

int kiln_oci_archive_detect(int fd, bool *ret_is_archive, struct kiln_error **err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kiln_error_set_errno(err, -errno, "stat archive");
    if (!S_ISREG(st.st_mode)) {
        *ret_is_archive = false;
        return 0;
    }
    struct stream s;
    struct kiln_error *why = NULL;
    int r = stream_open(&s, fd, &why);
    if (r >= 0) {
        struct kiln_oci_tar_limits limits = {.max_entries = 1, .what = "archive"};
        _cleanup_(kiln_oci_tar_reader_freep) struct kiln_oci_tar_reader *tr = NULL;
        kiln_oci_tar_reader_new(stream_read, &s, &limits, &tr);
        const struct kiln_oci_tar_header *h;
        r = kiln_oci_tar_reader_next(tr, &h, &why);
    }
    stream_release(&s);
    if (r < 0 && r > -4096) { /* reading failed: not a verdict on the content */
        kiln_error_free(why);
        return kiln_error_set_errno(err, r, "read archive");
    }
    kiln_error_free(why);
    *ret_is_archive = r > 0;
    return 0;
}

static int extract(int fd, int destfd, const struct kiln_oci_archive_opts *opts,
                   struct kiln_error **err)
{
    struct kiln_oci_tar_limits limits = {
            .max_bytes = opts->max_bytes, .max_entries = opts->max_entries, .what = "archive"};
    struct kiln_oci_unpack_opts uo = {.archive = true,
                                      .allow_devices = opts->allow_devices,
                                      .chown = opts->chown,
                                      .uid = opts->uid,
                                      .gid = opts->gid};
    struct stream s;
    int r = stream_open(&s, fd, err);
    if (r >= 0) {
        _cleanup_(kiln_oci_tar_reader_freep) struct kiln_oci_tar_reader *tr = NULL;
        kiln_oci_tar_reader_new(stream_read, &s, &limits, &tr);
        uint64_t entries = 0;
        r = kiln_oci_unpack(destfd, tr, &uo, &entries, err);
    }
    stream_release(&s);
    return r;
}

int kiln_oci_archive_extract(int fd, const char *root, const char *dest_in_root,
                             const struct kiln_oci_archive_opts *opts, struct kiln_error **err)
{
    static const struct kiln_oci_archive_opts defaults = {0};
    opts = opts ? opts : &defaults;
    _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return kiln_error_set_errno(err, -errno, "open '%s'", root);
    _cleanup_close_ int destfd =
            kiln_oci_mkdir_in_root(rootfd, dest_in_root, 0755, opts->chown, opts->uid, opts->gid);
    if (destfd < 0)
        return kiln_error_set_errno(err, destfd, "create destination '%s'", dest_in_root);
    int r = extract(fd, destfd, opts, err);
    return r < 0 ? kiln_error_wrap(err, r, "extract archive into '%s'", dest_in_root) : 0;
}
