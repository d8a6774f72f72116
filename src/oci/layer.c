/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layer.c - a snapshot's changes as a layer blob, the way containerd's
 * archive.ChangeWriter (as vendored by BuildKit) writes them: one pass over
 * the changes in walk order; each entry's header, its content, the missing
 * parent directories before it; hard links to the first path written of an
 * inode (the ones seen earlier while unmodified follow it). The tar bytes go
 * through a digester (the diff id) into the compressor, whose bytes go
 * through a second digester to the caller.
 */
#include "layer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/cleanup.h"
#include "base/limits.h"
#include "base/strv.h"
#include "layer-private.h"
#include "tar.h"

#include "base/banned.h"

#define IO_CHUNK (64u * 1024)
#define CAP_KEY  "security.capability"
#define CAP_MAX  1024

/* ---- shared helpers (layer-private.h) ---- */

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static size_t pathset_find(const struct kiln_oci_pathset *s, const char *str)
{
    size_t i = hash_str(str) & (s->alloc - 1);
    while (s->slots[i] && strcmp(s->slots[i], str) != 0)
        i = (i + 1) & (s->alloc - 1);
    return i;
}

bool kiln_oci_pathset_contains(const struct kiln_oci_pathset *s, const char *str)
{
    return s->alloc && s->slots[pathset_find(s, str)];
}

bool kiln_oci_pathset_add(struct kiln_oci_pathset *s, const char *str)
{
    if (kiln_oci_pathset_contains(s, str))
        return false;
    if ((s->n + 1) * 2 > s->alloc) {
        struct kiln_oci_pathset bigger = {
                .slots = kiln_xcalloc(s->alloc ? s->alloc * 2 : 64, sizeof(char *)),
                .alloc = s->alloc ? s->alloc * 2 : 64,
        };
        for (size_t i = 0; i < s->alloc; i++)
            if (s->slots[i])
                bigger.slots[pathset_find(&bigger, s->slots[i])] = s->slots[i];
        bigger.n = s->n;
        free(s->slots);
        *s = bigger;
    }
    s->slots[pathset_find(s, str)] = kiln_xstrdup(str);
    s->n++;
    return true;
}

void kiln_oci_pathset_release(struct kiln_oci_pathset *s)
{
    for (size_t i = 0; i < s->alloc; i++)
        free(s->slots[i]);
    free(s->slots);
    *s = (struct kiln_oci_pathset)KILN_OCI_PATHSET_INIT;
}

int kiln_oci_open_in_root(int rootfd, const char *path, int flags, unsigned long long extra_resolve)
{
    struct open_how how = {
            .flags = (unsigned long long)(flags | O_CLOEXEC),
            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra_resolve,
    };
    for (int tries = 0;; tries++) {
        long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != EAGAIN || tries == 16)
            return -errno;
    }
}

int kiln_oci_fd_write(void *userdata, const void *data, size_t len, struct kiln_error **err)
{
    int fd = *(int *)userdata;
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_error_set_errno(err, -errno, "write layer");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t kiln_oci_fd_read(void *userdata, void *buf, size_t len, struct kiln_error **err)
{
    for (;;) {
        ssize_t n = read(*(int *)userdata, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return kiln_error_set_errno(err, -errno, "read layer");
    }
}

/* ---- hard links: inode -> first path written, and the unmodified paths waiting for it ---- */

struct link {
    uint64_t ino;
    char *src;
    struct kiln_strv refs;
    bool used;
};

struct link_map {
    struct link *slots;
    size_t n, alloc;
};

static struct link *link_get(struct link_map *m, uint64_t ino)
{
    if ((m->n + 1) * 2 > m->alloc) {
        struct link_map bigger = {.alloc = m->alloc ? m->alloc * 2 : 16};
        bigger.slots = kiln_xcalloc(bigger.alloc, sizeof(*bigger.slots));
        for (size_t i = 0; i < m->alloc; i++)
            if (m->slots[i].used)
                *link_get(&bigger, m->slots[i].ino) = m->slots[i];
        free(m->slots);
        *m = bigger;
    }
    size_t i = (size_t)(ino * 11400714819323198485ull) & (m->alloc - 1);
    while (m->slots[i].used && m->slots[i].ino != ino)
        i = (i + 1) & (m->alloc - 1);
    if (!m->slots[i].used) {
        m->slots[i] = (struct link){.ino = ino, .refs = KILN_STRV_INIT, .used = true};
        m->n++;
    }
    return &m->slots[i];
}

static void link_map_release(struct link_map *m)
{
    for (size_t i = 0; i < m->alloc; i++) {
        free(m->slots[i].src);
        kiln_strv_release(&m->slots[i].refs);
    }
    free(m->slots);
}

/* ---- the change writer ---- */

struct lw {
    int rootfd;
    const struct kiln_oci_layer_opts *opts;
    struct kiln_oci_digester tar_dg, blob_dg;
    struct kiln_oci_compressor *comp;
    kiln_oci_write_fn out;
    void *userdata;
    uint64_t tar_size, blob_size;
    struct kiln_buf hdr;
    char *io;
    struct kiln_oci_pathset added_dirs;
    struct link_map links;
    struct kiln_error **err;
};

static int blob_out(void *userdata, const void *data, size_t len, struct kiln_error **err)
{
    struct lw *w = userdata;
    w->blob_size += len;
    if (w->opts->compression != KILN_OCI_COMPRESSION_NONE) {
        int r = kiln_oci_digester_update(&w->blob_dg, data, len, err);
        if (r < 0)
            return r;
    }
    return w->out(w->userdata, data, len, err);
}

static int emit(struct lw *w, const void *data, size_t len)
{
    int r = kiln_oci_digester_update(&w->tar_dg, data, len, w->err);
    w->tar_size += len;
    return r < 0 ? r : kiln_oci_compressor_write(w->comp, data, len, w->err);
}

static int emit_header(struct lw *w, const struct kiln_oci_tar_header *h)
{
    kiln_buf_reset(&w->hdr);
    int r = kiln_oci_tar_header_encode(h, &w->hdr, w->err);
    return r < 0 ? r : emit(w, w->hdr.buf, w->hdr.len);
}

static char tar_type(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return KILN_OCI_TAR_REG;
    case S_IFDIR: return KILN_OCI_TAR_DIR;
    case S_IFLNK: return KILN_OCI_TAR_SYMLINK;
    case S_IFCHR: return KILN_OCI_TAR_CHAR;
    case S_IFBLK: return KILN_OCI_TAR_BLOCKDEV;
    case S_IFIFO: return KILN_OCI_TAR_FIFO;
    default: return 0;
    }
}

static int handle_change(struct lw *w, enum kiln_oci_change_kind kind, const char *path,
                         const struct kiln_oci_change *c);

/* ChangeWriter.includeParents: the parent directory first unless it was written already. */
static int include_parents(struct lw *w, const char *name, bool is_dir)
{
    _cleanup_free_ char *trimmed = kiln_xstrdup(name);
    size_t n = strlen(trimmed);
    while (n > 0 && trimmed[n - 1] == '/')
        trimmed[--n] = '\0';
    char *slash = strrchr(trimmed, '/');
    if (slash) {
        _cleanup_free_ char *parent = kiln_xstrndup(trimmed, (size_t)(slash - trimmed));
        if (kiln_oci_pathset_add(&w->added_dirs, parent)) {
            struct stat st;
            _cleanup_close_ int fd = kiln_oci_open_in_root(w->rootfd, parent, O_PATH, 0);
            if (fd < 0 || fstat(fd, &st) < 0)
                return kiln_error_set_errno(w->err, fd < 0 ? fd : -errno, "layer entry '%s'",
                                            parent);
            struct kiln_oci_change c = {
                    .mode = st.st_mode,
                    .uid = st.st_uid,
                    .gid = st.st_gid,
                    .nlink = (uint32_t)st.st_nlink,
                    .ino = st.st_ino,
                    .rdev = st.st_rdev,
                    .size = (uint64_t)st.st_size,
                    .mtime_sec = st.st_mtim.tv_sec,
                    .mtime_nsec = (uint32_t)st.st_mtim.tv_nsec,
            };
            int r = handle_change(w, KILN_OCI_CHANGE_MODIFY, parent, &c);
            if (r < 0)
                return r;
        }
    }
    if (is_dir)
        (void)kiln_oci_pathset_add(&w->added_dirs, trimmed);
    return 0;
}

static int write_whiteout(struct lw *w, const char *path)
{
    const char *slash = strrchr(path, '/');
    _cleanup_free_ char *name = slash ? kiln_xasprintf("%.*s/" KILN_OCI_WHITEOUT_PREFIX "%s",
                                                       (int)(slash - path), path, slash + 1)
                                      : kiln_xasprintf(KILN_OCI_WHITEOUT_PREFIX "%s", path);
    struct kiln_oci_tar_header h = {.name = name, .linkname = "", .type = KILN_OCI_TAR_REG};
    int r = include_parents(w, name, false);
    return r < 0 ? r : emit_header(w, &h);
}

/* Copies exactly `size` bytes of fd, then the padding. */
static int copy_content(struct lw *w, int fd, const char *name, uint64_t size)
{
    uint64_t left = size;
    for (;;) {
        size_t want = left > IO_CHUNK ? IO_CHUNK : (left ? (size_t)left : 1);
        ssize_t n = read(fd, w->io, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_error_set_errno(w->err, -errno, "layer entry '%s': read", name);
        if ((left == 0 && n > 0) || (left > 0 && n == 0))
            return kiln_error_set(w->err, -EIO,
                                  "layer entry '%s': the file changed size while "
                                  "the layer was written",
                                  name);
        if (left == 0)
            break;
        int r = emit(w, w->io, (size_t)n);
        if (r < 0)
            return r;
        left -= (uint64_t)n;
    }
    static const char zeros[KILN_OCI_TAR_BLOCK];
    return emit(w, zeros, kiln_oci_tar_padding(size));
}

/* Opens what the header needs: a regular file (content, capability) or a symlink (target). */
static int open_source(struct lw *w, const char *path, char type, int *ret_fd, char **ret_target,
                       char cap[CAP_MAX], size_t *ret_cap_len)
{
    *ret_cap_len = 0;
    if (type != KILN_OCI_TAR_REG && type != KILN_OCI_TAR_SYMLINK)
        return 0;
    int flags = type == KILN_OCI_TAR_REG ? O_RDONLY | O_NOFOLLOW | O_NONBLOCK : O_PATH | O_NOFOLLOW;
    int fd = kiln_oci_open_in_root(w->rootfd, path, flags, 0);
    if (fd < 0)
        return kiln_error_set_errno(w->err, fd, "layer entry '%s': open", path);
    *ret_fd = fd;
    if (type == KILN_OCI_TAR_SYMLINK) {
        char target[PATH_MAX + 1];
        ssize_t n = readlinkat(fd, "", target, PATH_MAX);
        if (n < 0)
            return kiln_error_set_errno(w->err, -errno, "layer entry '%s': readlink", path);
        *ret_target = kiln_xstrndup(target, (size_t)n);
        return 0;
    }
    ssize_t n = fgetxattr(fd, CAP_KEY, cap, CAP_MAX);
    if (n < 0 && errno != ENODATA && errno != ENOTSUP)
        return kiln_error_set_errno(w->err, -errno, "layer entry '%s': read %s", path, CAP_KEY);
    *ret_cap_len = n < 0 ? 0 : (size_t)n;
    return 0;
}

/*
 * ChangeWriter's hard link rule for an entry with more than one link: a link
 * to the first path written, or (unmodified) a path to link once it is, or
 * the first path, which takes the waiting ones in *ret_waiting. Returns 1
 * when the entry is not written now.
 */
static int hardlink(struct lw *w, enum kiln_oci_change_kind kind, const struct kiln_oci_change *c,
                    struct kiln_oci_tar_header *h, char **ret_src, struct kiln_strv *ret_waiting)
{
    if (h->type == KILN_OCI_TAR_DIR || c->nlink <= 1)
        return kind == KILN_OCI_CHANGE_UNMODIFIED;
    struct link *l = link_get(&w->links, c->ino);
    if (l->src) {
        *ret_src = kiln_xstrdup(l->src);
        h->type = KILN_OCI_TAR_LINK;
        h->linkname = *ret_src;
        h->size = 0;
        return 0;
    }
    if (kind == KILN_OCI_CHANGE_UNMODIFIED) {
        kiln_strv_push(&l->refs, h->name);
        return 1;
    }
    l->src = kiln_xstrdup(h->name);
    *ret_waiting = l->refs;
    l->refs = (struct kiln_strv)KILN_STRV_INIT;
    return 0;
}

/* The header, the content, then the links that waited for this inode. */
static int write_entry(struct lw *w, struct kiln_oci_tar_header *h, int fd,
                       const struct kiln_strv *waiting)
{
    int r = include_parents(w, h->name, h->type == KILN_OCI_TAR_DIR);
    if (r >= 0)
        r = emit_header(w, h);
    if (r >= 0 && h->type == KILN_OCI_TAR_REG && h->size > 0)
        r = copy_content(w, fd, h->name, h->size);
    _cleanup_free_ char *source = kiln_xstrdup(h->name);
    for (size_t i = 0; r >= 0 && i < waiting->n; i++) {
        h->name = waiting->v[i];
        h->type = KILN_OCI_TAR_LINK;
        h->linkname = source;
        h->size = 0;
        r = include_parents(w, h->name, false);
        if (r >= 0)
            r = emit_header(w, h);
    }
    return r;
}

/* ChangeWriter.HandleChange. */
static int handle_change(struct lw *w, enum kiln_oci_change_kind kind, const char *path,
                         const struct kiln_oci_change *c)
{
    if (kind == KILN_OCI_CHANGE_DELETE)
        return write_whiteout(w, path);
    char type = tar_type(c->mode);
    if (!type)
        return 0; /* sockets */
    _cleanup_free_ char *name =
            type == KILN_OCI_TAR_DIR ? kiln_xasprintf("%s/", path) : kiln_xstrdup(path);
    struct kiln_oci_tar_header h = {
            .name = name,
            .linkname = "",
            .type = type,
            .mode = c->mode & 07777,
            .uid = c->uid,
            .gid = c->gid,
            .size = type == KILN_OCI_TAR_REG ? c->size : 0,
            .mtime = w->opts->has_epoch && c->mtime_sec > w->opts->epoch ? w->opts->epoch
                                                                         : c->mtime_sec,
    };
    /* containerd tests S_IFBLK and S_IFCHR as bit masks: directories and links pass too. */
    if ((c->mode & S_IFBLK) || (c->mode & S_IFCHR)) {
        h.devmajor = major(c->rdev);
        h.devminor = minor(c->rdev);
    }
    _cleanup_free_ char *src = NULL, *target = NULL;
    _cleanup_strv_ struct kiln_strv waiting = KILN_STRV_INIT;
    if (hardlink(w, kind, c, &h, &src, &waiting) > 0)
        return 0;
    _cleanup_close_ int fd = -1;
    char cap[CAP_MAX];
    struct kiln_oci_xattr xattr = {.name = CAP_KEY, .value = cap};
    int r = open_source(w, path, type, &fd, &target, cap, &xattr.len);
    if (r < 0)
        return r;
    if (type == KILN_OCI_TAR_SYMLINK)
        h.linkname = target;
    if (xattr.len) {
        h.xattrs = &xattr;
        h.n_xattrs = 1;
    }
    return write_entry(w, &h, fd, &waiting);
}

static int finish(struct lw *w, struct kiln_oci_layer *ret)
{
    static const char trailer[2 * KILN_OCI_TAR_BLOCK];
    struct kiln_oci_layer l = {.tar_size = w->tar_size + sizeof(trailer)};
    int r = emit(w, trailer, sizeof(trailer));
    if (r >= 0)
        r = kiln_oci_compressor_finish(w->comp, w->err);
    if (r >= 0)
        r = kiln_oci_digester_final(&w->tar_dg, l.diff_id, w->err);
    if (r >= 0 && w->opts->compression != KILN_OCI_COMPRESSION_NONE)
        r = kiln_oci_digester_final(&w->blob_dg, l.digest, w->err);
    if (r < 0)
        return r;
    if (w->opts->compression == KILN_OCI_COMPRESSION_NONE)
        memcpy(l.digest, l.diff_id, sizeof(l.digest));
    l.size = w->blob_size;
    l.media_type =
            kiln_oci_compression_media_type(w->opts->compression, w->opts->docker_media_type);
    *ret = l;
    return 0;
}

static void lw_release(struct lw *w)
{
    if (w->rootfd >= 0)
        close(w->rootfd);
    kiln_oci_digester_release(&w->tar_dg);
    kiln_oci_digester_release(&w->blob_dg);
    kiln_oci_compressor_free(w->comp);
    kiln_buf_release(&w->hdr);
    free(w->io);
    kiln_oci_pathset_release(&w->added_dirs);
    link_map_release(&w->links);
}

int kiln_oci_layer_write(const char *root, const struct kiln_oci_changes *changes,
                         const struct kiln_oci_layer_opts *opts, kiln_oci_write_fn out,
                         void *userdata, struct kiln_oci_layer *ret, struct kiln_error **err)
{
    struct lw w = {
            .rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
            .opts = opts,
            .out = out,
            .userdata = userdata,
            .hdr = KILN_BUF_INIT(KILN_LAYER_PAX_MAX + 4 * KILN_OCI_TAR_BLOCK),
            .io = kiln_xmalloc(IO_CHUNK),
            .added_dirs = KILN_OCI_PATHSET_INIT,
            .err = err,
    };
    int r = w.rootfd < 0 ? kiln_error_set_errno(err, -errno, "open '%s'", root) : 0;
    if (r >= 0)
        r = kiln_oci_digester_init(&w.tar_dg, KILN_OCI_SHA256, err);
    if (r >= 0)
        r = kiln_oci_digester_init(&w.blob_dg, KILN_OCI_SHA256, err);
    if (r >= 0)
        r = kiln_oci_compressor_new(opts->compression, opts->level, blob_out, &w, &w.comp, err);
    for (size_t i = 0; r >= 0 && i < changes->n; i++)
        r = handle_change(&w, changes->v[i].kind, changes->v[i].path, &changes->v[i]);
    if (r >= 0)
        r = finish(&w, ret);
    lw_release(&w);
    return r;
}
