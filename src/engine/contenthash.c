/* SPDX-License-Identifier: Apache-2.0 */
/*
 * contenthash.c - the digest of what a COPY reads: for each selected path
 * and everything below it, in order, the relative path, type, mode, owner,
 * size, link target and the sha256 of the bytes (from the hash cache when
 * the file is unchanged); never mtimes (docs/internals/copy.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fsroot.h"
#include "copy-private.h"

#include "base/banned.h"

#define HASH_DEPTH_MAX 512u

struct hasher {
    const struct kiln_copy_src *src;
    struct kiln_copy_walk walk;
    int root;
    struct kiln_oci_digester d;
};

static int file_digest(struct hasher *h, int fd, const char *rel, const struct stat *st,
                       char out[KILN_OCI_DIGEST_MAX], struct kiln_error **err)
{
    if (kiln_hash_cache_get(h->src->hashes, rel, st, out))
        return 0;
    struct kiln_oci_digester d;
    kiln_oci_digester_init(&d, KILN_OCI_SHA256, NULL);
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int r = -errno;
            kiln_oci_digester_release(&d);
            return kiln_error_set_errno(err, r, "cannot read '/%s'", rel);
        }
        kiln_oci_digester_update(&d, buf, (size_t)n, NULL);
    }
    kiln_oci_digester_final(&d, out, NULL);
    kiln_oci_digester_release(&d);
    kiln_hash_cache_put(h->src->hashes, rel, st, out);
    return 0;
}

static int hash_entry(struct hasher *h, int sdir, const char *sname, bool follow, const char *rel,
                      const char *shown, unsigned depth, struct kiln_error **err);

static int hash_children(struct hasher *h, int fd, const char *rel, const char *shown,
                         unsigned depth, struct kiln_error **err)
{
    if (depth > HASH_DEPTH_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "'/%s' is nested deeper than %u directories", rel,
                              HASH_DEPTH_MAX);
    _cleanup_strv_ struct kiln_strv names = KILN_STRV_INIT;
    int r = kiln_copy_list(fd, &h->walk, rel, &names, err);
    for (size_t i = 0; r >= 0 && i < names.n; i++) {
        _cleanup_free_ char *child = kiln_copy_join(rel, names.v[i]);
        _cleanup_free_ char *cshown = kiln_copy_join(shown, names.v[i]);
        r = hash_entry(h, fd, names.v[i], false, child, cshown, depth + 1, err);
    }
    return r;
}

static int hash_entry(struct hasher *h, int sdir, const char *sname, bool follow, const char *rel,
                      const char *shown, unsigned depth, struct kiln_error **err)
{
    int fd = follow ? kiln_fsroot_open(h->root, rel, O_RDONLY | O_NONBLOCK, 0)
                    : openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd == -ELOOP || (fd < 0 && errno == ELOOP && !follow))
        fd = openat(sdir, sname, O_PATH | O_NOFOLLOW | O_CLOEXEC); /* a symlink */
    if (fd < 0)
        return kiln_error_set_errno(err, follow ? fd : -errno, "cannot open '/%s'", rel);
    struct stat st;
    int r = fstat(fd, &st) < 0 ? kiln_error_set_errno(err, -errno, "cannot stat '/%s'", rel) : 0;
    char content[KILN_OCI_DIGEST_MAX] = "";
    char link[4096] = "";
    if (r >= 0 && S_ISREG(st.st_mode))
        r = file_digest(h, fd, rel, &st, content, err);
    if (r >= 0 && S_ISLNK(st.st_mode)) {
        ssize_t n = readlinkat(sdir, sname, link, sizeof(link) - 1);
        if (n < 0)
            r = kiln_error_set_errno(err, -errno, "cannot read link '/%s'", rel);
        else
            link[n] = '\0';
    }
    if (r >= 0 && h->src->reset_owner && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) &&
        !S_ISLNK(st.st_mode))
        r = kiln_error_set(err, KILN_E_INVALID,
                           "'/%s' in the build context is a device, fifo or socket: exclude "
                           "it in .dockerignore",
                           rel);
    if (r >= 0) {
        uint32_t uid = h->src->reset_owner ? 0 : st.st_uid;
        uint32_t gid = h->src->reset_owner ? 0 : st.st_gid;
        char rec[256];
        int n = snprintf(
                rec, sizeof(rec), "%o %" PRIu32 " %" PRIu32 " %" PRIu64 " %u:%u %s ",
                (unsigned)st.st_mode, uid, gid, S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0,
                S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? major(st.st_rdev) : 0,
                S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? minor(st.st_rdev) : 0, content);
        kiln_oci_digester_update(&h->d, shown, strlen(shown) + 1, NULL);
        kiln_oci_digester_update(&h->d, rec, (size_t)n, NULL);
        kiln_oci_digester_update(&h->d, link, strlen(link) + 1, NULL);
    }
    if (r >= 0 && S_ISDIR(st.st_mode))
        r = hash_children(h, fd, rel, shown, depth, err);
    close(fd);
    return r;
}

int kiln_copy_checksum(const struct kiln_vertex_copy *op, const struct kiln_copy_src *src,
                       const char *tmp_dir, char ret[KILN_OCI_DIGEST_MAX], struct kiln_error **err)
{
    *ret = '\0';
    if (!src)
        return 0; /* heredoc bodies are part of the definition */
    struct hasher h = {.src = src};
    h.root = open(src->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (h.root < 0)
        return kiln_error_set_errno(err, -errno, "cannot open the build context '%s'", src->root);
    _cleanup_strv_ struct kiln_strv matches = KILN_STRV_INIT;
    struct kiln_ignore *exclude = NULL;
    int r = kiln_copy_excludes(op, &exclude, err);
    if (r >= 0)
        r = kiln_copy_select(op, src, h.root, &matches, err);
    if (r >= 0)
        r = kiln_oci_digester_init(&h.d, KILN_OCI_SHA256, err);
    for (size_t i = 0; r >= 0 && i < matches.n; i++) {
        size_t n = strlen(matches.v[i]);
        h.walk = (struct kiln_copy_walk){.src = src, .exclude = exclude, .strip = n ? n + 1 : 0};
        kiln_oci_digester_update(&h.d, "\n", 1, NULL);
        r = hash_entry(&h, h.root, matches.v[i], true, matches.v[i], matches.v[i], 0, err);
    }
    for (size_t i = 0; r >= 0 && i < op->sources.n; i++) {
        if (!op->add || !kiln_copy_is_url(op->sources.v[i]))
            continue;
        _cleanup_free_ char *rel = NULL;
        char digest[KILN_OCI_DIGEST_MAX];
        r = kiln_copy_fetch(op->sources.v[i], tmp_dir, op->checksum, &rel, digest, err);
        if (r >= 0) {
            kiln_oci_digester_update(&h.d, rel, strlen(rel) + 1, NULL);
            kiln_oci_digester_update(&h.d, digest, strlen(digest) + 1, NULL);
        }
    }
    if (r >= 0)
        kiln_oci_digester_final(&h.d, ret, NULL);
    kiln_oci_digester_release(&h.d);
    kiln_ignore_free(exclude);
    close(h.root);
    return r;
}
