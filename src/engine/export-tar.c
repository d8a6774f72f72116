/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export-tar.c - type=tar: a root filesystem as one tar stream, entry for
 * entry as fsutil's WriteTar (what BuildKit's tar exporter sends) writes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/limits.h"
#include "export.h"
#include "oci/tar.h"

#include "base/banned.h"

/* Bytes of a file read at a time. */
#define TAR_CHUNK (128u * 1024)

struct tar_out {
    kiln_oci_write_fn out;
    void *ud;
    const struct kiln_export_fs_opts *o;
    char *chunk;
};

/*
 * Go's tar.Writer, given a header of no set format, rounds the mtime to the
 * second; the epoch, when set, replaces every mtime (fsutil's FilterOpt.Map).
 */
static int64_t mtime_of(const struct tar_out *t, const struct stat *st)
{
    if (t->o && t->o->has_epoch)
        return t->o->epoch;
    return (int64_t)st->st_mtim.tv_sec + (st->st_mtim.tv_nsec >= 500000000 ? 1 : 0);
}

/* Type, size and link name as WriteTar derives them from the stat. */
static int fill_type(const struct kiln_export_entry *e, struct kiln_oci_tar_header *h,
                     char link[PATH_MAX + 1], struct kiln_error **err)
{
    mode_t m = e->st->st_mode;
    if (S_ISDIR(m)) {
        h->type = KILN_OCI_TAR_DIR;
    } else if (S_ISLNK(m)) {
        ssize_t n = readlinkat(e->dirfd, e->name, link, PATH_MAX);
        if (n < 0)
            return kiln_error_set_errno(err, -errno, "cannot read symlink '%s'", e->path);
        link[n] = '\0';
        h->type = KILN_OCI_TAR_SYMLINK;
        h->linkname = link;
    } else if (e->link_to) {
        h->type = KILN_OCI_TAR_LINK;
        h->linkname = (char *)e->link_to;
    } else if (S_ISCHR(m) || S_ISBLK(m)) {
        h->type = S_ISCHR(m) ? KILN_OCI_TAR_CHAR : KILN_OCI_TAR_BLOCKDEV;
        h->devmajor = major(e->st->st_rdev);
        h->devminor = minor(e->st->st_rdev);
    } else if (S_ISFIFO(m)) {
        h->type = KILN_OCI_TAR_FIFO;
    } else {
        /* A regular file, or a socket, whose type bit fsutil clears: an empty file. */
        h->type = KILN_OCI_TAR_REG;
        h->size = S_ISREG(m) ? (uint64_t)e->st->st_size : 0;
    }
    return 0;
}

static int put_content(struct tar_out *t, const struct kiln_export_entry *e, uint64_t size,
                       struct kiln_error **err)
{
    _cleanup_close_ int fd =
            openat(e->dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return kiln_error_set_errno(err, -errno, "cannot open '%s'", e->path);
    int r = 0;
    for (uint64_t left = size; r >= 0 && left;) {
        ssize_t n = S_ISREG(st.st_mode)
                            ? read(fd, t->chunk, left < TAR_CHUNK ? (size_t)left : TAR_CHUNK)
                            : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_error_set_errno(err, -errno, "cannot read '%s'", e->path);
        if (n == 0)
            return kiln_error_set(err, -EIO, "'%s' changed while exported; export again", e->path);
        r = t->out(t->ud, t->chunk, (size_t)n, err);
        left -= (uint64_t)n;
    }
    static const char zero[KILN_OCI_TAR_BLOCK];
    size_t pad = kiln_oci_tar_padding(size);
    return r < 0 || !pad ? r : t->out(t->ud, zero, pad, err);
}

static int tar_enter(void *userdata, const struct kiln_export_entry *e, struct kiln_error **err)
{
    struct tar_out *t = userdata;
    char link[PATH_MAX + 1];
    _cleanup_free_ char *name = kiln_xasprintf("%s%s", e->path, S_ISDIR(e->st->st_mode) ? "/" : "");
    struct kiln_oci_tar_header h = {.name = name,
                                    .linkname = (char *)"",
                                    .mode = e->st->st_mode & 07777,
                                    .uid = e->st->st_uid,
                                    .gid = e->st->st_gid,
                                    .mtime = mtime_of(t, e->st)};
    int r = fill_type(e, &h, link, err);
    if (r >= 0)
        r = kiln_export_xattrs(e, &h.xattrs, &h.n_xattrs, err);
    _cleanup_buf_ struct kiln_buf b = KILN_BUF_INIT(KILN_LAYER_PAX_MAX + 64 * 1024);
    if (r >= 0)
        r = kiln_oci_tar_header_encode(&h, &b, err);
    kiln_export_xattrs_free(h.xattrs, h.n_xattrs);
    if (r >= 0)
        r = t->out(t->ud, b.buf, b.len, err);
    if (r >= 0 && h.type == KILN_OCI_TAR_REG && h.size)
        r = put_content(t, e, h.size, err);
    return r;
}

int kiln_export_tar(const char *root, const struct kiln_export_fs_opts *o, kiln_oci_write_fn out,
                    void *userdata, struct kiln_error **err)
{
    struct tar_out t = {out, userdata, o, kiln_xmalloc(TAR_CHUNK)};
    const struct kiln_export_walker w = {tar_enter, NULL, &t};
    int r = kiln_export_walk(root, &w, err);
    free(t.chunk);
    static const char end[2 * KILN_OCI_TAR_BLOCK];
    if (r >= 0)
        r = out(userdata, end, sizeof(end), err);
    return r < 0 ? kiln_error_wrap(err, r, "type=tar") : 0;
}
