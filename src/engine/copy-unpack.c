/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy-unpack.c - ADD's auto-extraction of local archives, detected by
 * content (BuildKit's file/unpack.go), done by src/oci's confined extractor
 * (docs/internals/copy.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy-private.h"
#include "oci/unpack.h"

#include "base/banned.h"

int kiln_copy_unpack(int src_root, const char *rel, const char *dest_root, const char *dest,
                     const uint32_t *chown, bool *ret_done, struct kiln_error **err)
{
    *ret_done = false;
    /* the source path is followed inside its root; only a regular file can be an archive */
    int fd = kiln_copy_open_in_root(src_root, rel, O_PATH);
    if (fd < 0)
        return kiln_error_set_errno(err, fd, "cannot open '/%s'", rel);
    struct stat st;
    int r = fstat(fd, &st) < 0 ? kiln_error_set_errno(err, -errno, "cannot stat '/%s'", rel) : 0;
    close(fd);
    if (r < 0 || !S_ISREG(st.st_mode))
        return r;
    fd = kiln_copy_open_in_root(src_root, rel, O_RDONLY | O_NONBLOCK);
    struct stat again;
    if (fd >= 0 && (fstat(fd, &again) < 0 || again.st_ino != st.st_ino)) {
        close(fd);
        fd = -EAGAIN; /* replaced while we looked */
    }
    if (fd < 0)
        return kiln_error_set_errno(err, fd, "cannot open '/%s'", rel);
    bool archive = false;
    r = kiln_oci_archive_detect(fd, &archive, err);
    if (r >= 0 && archive) {
        struct kiln_oci_archive_opts opts = {0};
        if (chown)
            opts = (struct kiln_oci_archive_opts){.chown = true, .uid = chown[0], .gid = chown[1]};
        r = kiln_oci_archive_extract(fd, dest_root, dest, &opts, err);
        if (r < 0)
            r = kiln_error_wrap(err, r, "ADD '/%s'", rel);
        *ret_done = r >= 0;
    }
    close(fd);
    return r;
}
