/* SPDX-License-Identifier: Apache-2.0 */
/*
 * contenthash.c - the digest of what a COPY reads: for each selected path
 * and everything below it, in order, the path, type, mode, owner, size,
 * device numbers, link target and the sha256 of the bytes (from the hash
 * cache when the file is unchanged); never mtimes (docs/internals/copy.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/alloc.h"
#include "copy-private.h"

#include "base/banned.h"

/* Threads hashing the subtrees of a selected directory. */
#define HASH_THREADS 2

struct hasher {
    const struct kiln_copy_sel *sel;
    struct kiln_oci_digester d;
};

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Adds the extended attributes BuildKit's tarsum counts (security.capability,
 * and any outside the security and system namespaces), in name order.
 */
static void digest_xattrs(struct kiln_oci_digester *d, int fd)
{
    char names[4096];
    ssize_t n = flistxattr(fd, names, sizeof(names) - 1);
    if (n <= 0)
        return;
    names[n] = '\0';
    _cleanup_strv_ struct kiln_strv keys = KILN_STRV_INIT;
    for (ssize_t off = 0; off < n; off += (ssize_t)strlen(names + off) + 1) {
        const char *k = names + off;
        if (strcmp(k, "security.capability") == 0 ||
            (strncmp(k, "security.", 9) != 0 && strncmp(k, "system.", 7) != 0))
            kiln_strv_push(&keys, k);
    }
    qsort(keys.v, keys.n, sizeof(*keys.v), cmp_key);
    static _Thread_local char value[XATTR_SIZE_MAX];
    for (size_t i = 0; i < keys.n; i++) {
        ssize_t len = fgetxattr(fd, keys.v[i], value, sizeof(value));
        if (len < 0)
            continue;
        kiln_oci_digester_update(d, keys.v[i], strlen(keys.v[i]) + 1, NULL);
        kiln_oci_digester_update(d, value, (size_t)len, NULL);
    }
}

/* The sha256 of the bytes (and xattrs) of fd, the regular file rel (st: its stat), remembered. */
static int digest_fd(const struct hasher *h, int fd, const char *rel, const struct stat *st,
                     char out[KILN_OCI_DIGEST_MAX], struct kiln_error **err)
{
    struct stat again;
    if (fstat(fd, &again) < 0 || again.st_ino != st->st_ino || again.st_dev != st->st_dev)
        return kiln_error_set(err, -EAGAIN, "'/%s' changed while it was read: retry the build",
                              rel);
    struct kiln_oci_digester d;
    kiln_oci_digester_init(&d, KILN_OCI_SHA256, NULL);
    static _Thread_local char buf[1 << 18];
    ssize_t n;
    int r = 0;
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = kiln_error_set_errno(err, -errno, "cannot read '/%s'", rel);
            break;
        }
        kiln_oci_digester_update(&d, buf, (size_t)n, NULL);
    }
    if (r >= 0) {
        digest_xattrs(&d, fd); /* a change of an xattr changes ctime: the cache stays right */
        kiln_oci_digester_final(&d, out, NULL);
        kiln_hash_cache_put(h->sel->src->hashes, rel, st, out);
    }
    kiln_oci_digester_release(&d);
    return r;
}

/* The digest of the regular file `name` in dir (st: its lstat), from the cache when unchanged. */
static int file_digest(const struct hasher *h, int dir, const char *name, const char *rel,
                       const struct stat *st, char out[KILN_OCI_DIGEST_MAX],
                       struct kiln_error **err)
{
    if (kiln_hash_cache_get(h->sel->src->hashes, rel, st, out))
        return 0;
    int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open '/%s'", rel);
    int r = digest_fd(h, fd, rel, st, out, err);
    close(fd);
    return r;
}

/* Appends v in base `base` and a separator. */
static char *put_num(char *p, uint64_t v, unsigned base, char sep)
{
    char tmp[24];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % base);
    while ((v /= base) != 0);
    while (n)
        *p++ = tmp[--n];
    *p++ = sep;
    return p;
}

/*
 * Adds the record of one entry: "path\0mode uid gid size major:minor
 * content\0link\0" (mode in octal), in one update.
 */
static void add_record(struct hasher *h, const char *shown, const struct stat *st,
                       const char *content, const char *link)
{
    bool reset = h->sel->src->reset_owner;
    bool dev = S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode);
    size_t ns = strlen(shown), nc = strlen(content), nl = strlen(link);
    char small[1024];
    size_t need = ns + nc + nl + 128;
    char *rec = need <= sizeof(small) ? small : kiln_xmalloc(need);
    char *p = rec;
    memcpy(p, shown, ns + 1);
    p += ns + 1;
    p = put_num(p, (unsigned)st->st_mode, 8, ' ');
    p = put_num(p, reset ? 0 : (uint32_t)st->st_uid, 10, ' ');
    p = put_num(p, reset ? 0 : (uint32_t)st->st_gid, 10, ' ');
    p = put_num(p, S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0, 10, ' ');
    p = put_num(p, dev ? major(st->st_rdev) : 0, 10, ':');
    p = put_num(p, dev ? minor(st->st_rdev) : 0, 10, ' ');
    memcpy(p, content, nc + 1);
    p += nc + 1;
    memcpy(p, link, nl + 1);
    p += nl + 1;
    kiln_oci_digester_update(&h->d, rec, (size_t)(p - rec), NULL);
    if (rec != small)
        free(rec);
}

static int hash_dir(struct hasher *h, int fd, const char *rel, const char *sub, const char *shown,
                    unsigned depth, struct kiln_error **err);

/* Hashes entry `name` of dir (not followed). */
static int hash_entry(struct hasher *h, int dir, const char *name, const char *rel, const char *sub,
                      const char *shown, unsigned depth, struct kiln_error **err)
{
    struct stat st;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set_errno(err, -errno, "cannot stat '/%s'", rel);
    char content[KILN_OCI_DIGEST_MAX] = "";
    char link[PATH_MAX] = "";
    int r = 0;
    if (S_ISREG(st.st_mode)) {
        r = file_digest(h, dir, name, rel, &st, content, err);
    } else if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlinkat(dir, name, link, sizeof(link) - 1);
        if (n < 0)
            return kiln_error_set_errno(err, -errno, "cannot read link '/%s'", rel);
        link[n] = '\0';
    } else if (!S_ISDIR(st.st_mode) && h->sel->src->reset_owner) {
        return kiln_error_set(err, KILN_E_INVALID,
                              "'/%s' in the build context is a device, fifo or socket: exclude "
                              "it in .dockerignore",
                              rel);
    }
    if (r < 0)
        return r;
    add_record(h, shown, &st, content, link);
    if (!S_ISDIR(st.st_mode))
        return 0;
    int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open '/%s'", rel);
    r = hash_dir(h, fd, rel, sub, shown, depth + 1, err);
    close(fd);
    return r;
}

static int hash_dir(struct hasher *h, int fd, const char *rel, const char *sub, const char *shown,
                    unsigned depth, struct kiln_error **err)
{
    if (depth > KILN_COPY_DEPTH_MAX)
        return kiln_error_set(err, KILN_E_LIMIT,
                              "'/%s' is nested deeper than %u directories: flatten it", rel,
                              KILN_COPY_DEPTH_MAX);
    _cleanup_strv_ struct kiln_strv names = KILN_STRV_INIT;
    int r = kiln_copy_list(h->sel, fd, rel, sub, &names, err);
    for (size_t i = 0; r >= 0 && i < names.n; i++) {
        _cleanup_free_ char *crel = kiln_copy_join(rel, names.v[i]);
        _cleanup_free_ char *csub = kiln_copy_join(sub, names.v[i]);
        _cleanup_free_ char *cshown = kiln_copy_join(shown, names.v[i]);
        r = hash_entry(h, fd, names.v[i], crel, csub, cshown, depth, err);
    }
    return r;
}

/* One subtree of a directory hashed by a thread of its own. */
struct subtree {
    const char *name;
    char digest[KILN_OCI_DIGEST_MAX];
    int r;
    struct kiln_error *err;
};

struct fan {
    const struct kiln_copy_sel *sel;
    int fd;
    const char *rel, *shown;
    struct subtree *t;
    size_t n, next;
    pthread_mutex_t lock;
};

static void *fan_worker(void *arg)
{
    struct fan *f = arg;
    for (;;) {
        pthread_mutex_lock(&f->lock);
        size_t i = f->next++;
        pthread_mutex_unlock(&f->lock);
        if (i >= f->n)
            return NULL;
        struct subtree *t = &f->t[i];
        struct hasher s = {.sel = f->sel};
        _cleanup_free_ char *rel = kiln_copy_join(f->rel, t->name);
        _cleanup_free_ char *shown = kiln_copy_join(f->shown, t->name);
        kiln_oci_digester_init(&s.d, KILN_OCI_SHA256, NULL);
        t->r = hash_entry(&s, f->fd, t->name, rel, t->name, shown, 1, &t->err);
        if (t->r >= 0)
            kiln_oci_digester_final(&s.d, t->digest, NULL);
        kiln_oci_digester_release(&s.d);
    }
}

/*
 * The children of the selected directory fd (`rel`), each subtree hashed
 * on its own by HASH_THREADS threads; their digests go into h in order.
 */
static int hash_top(struct hasher *h, int fd, const char *rel, const char *shown,
                    struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv names = KILN_STRV_INIT;
    int r = kiln_copy_list(h->sel, fd, rel, "", &names, err);
    if (r < 0)
        return r;
    struct fan f = {.sel = h->sel, .fd = fd, .rel = rel, .shown = shown, .n = names.n};
    f.t = kiln_xcalloc(names.n ? names.n : 1, sizeof(*f.t));
    for (size_t i = 0; i < names.n; i++)
        f.t[i].name = names.v[i];
    pthread_mutex_init(&f.lock, NULL);
    pthread_t th[HASH_THREADS - 1];
    size_t started = 0;
    for (; started < HASH_THREADS - 1 && started + 1 < names.n; started++)
        if (pthread_create(&th[started], NULL, fan_worker, &f) != 0)
            break;
    fan_worker(&f);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&f.lock);
    for (size_t i = 0; i < names.n; i++) {
        if (r >= 0 && f.t[i].r < 0) {
            r = f.t[i].r;
            kiln_error_free(err ? *err : NULL);
            if (err)
                *err = TAKE_PTR(f.t[i].err);
        }
        kiln_error_free(f.t[i].err);
        if (r >= 0) {
            kiln_oci_digester_update(&h->d, names.v[i], strlen(names.v[i]) + 1, NULL);
            kiln_oci_digester_update(&h->d, f.t[i].digest, strlen(f.t[i].digest) + 1, NULL);
        }
    }
    free(f.t);
    return r;
}

/* Hashes a selected source: the path itself is followed inside the root, as the copy does. */
static int hash_match(struct hasher *h, const char *rel, const char *shown, struct kiln_error **err)
{
    struct stat st;
    int fd = kiln_copy_open_in_root(h->sel->root, rel, O_PATH);
    if (fd < 0)
        return kiln_error_set_errno(err, fd, "cannot open '/%s'", rel);
    int r = fstat(fd, &st) < 0 ? kiln_error_set_errno(err, -errno, "cannot stat '/%s'", rel) : 0;
    close(fd);
    if (r < 0)
        return r;
    char content[KILN_OCI_DIGEST_MAX] = "";
    if (S_ISREG(st.st_mode) && !kiln_hash_cache_get(h->sel->src->hashes, rel, &st, content)) {
        fd = kiln_copy_open_in_root(h->sel->root, rel, O_RDONLY | O_NONBLOCK);
        if (fd < 0)
            return kiln_error_set_errno(err, fd, "cannot open '/%s'", rel);
        r = digest_fd(h, fd, rel, &st, content, err);
        close(fd);
    } else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && h->sel->src->reset_owner) {
        r = kiln_error_set(err, KILN_E_INVALID,
                           "'/%s' in the build context is a device, fifo or socket: exclude it "
                           "in .dockerignore",
                           rel);
    }
    if (r < 0)
        return r;
    add_record(h, shown, &st, content, "");
    if (!S_ISDIR(st.st_mode))
        return 0;
    fd = kiln_copy_open_in_root(h->sel->root, rel, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return kiln_error_set_errno(err, fd, "cannot open '/%s'", rel);
    r = hash_top(h, fd, rel, shown, err);
    close(fd);
    return r;
}

/* ADD <url>: the name and bytes of the download. */
static int hash_url(struct hasher *h, const struct kiln_vertex_copy *op, const char *url,
                    const char *tmp_dir, struct kiln_error **err)
{
    _cleanup_free_ char *dir = NULL, *name = NULL;
    int r = kiln_copy_url_fetch(url, op->checksum, tmp_dir, &dir, &name, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *path = kiln_xasprintf("%s/%s", dir, name);
    char digest[KILN_OCI_DIGEST_MAX];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        r = kiln_error_set_errno(err, -errno, "cannot open '%s'", path);
    struct kiln_copy_src none = {0};
    struct kiln_copy_sel sel = {.src = &none};
    struct hasher u = {.sel = &sel};
    if (r >= 0)
        r = digest_fd(&u, fd, name, &st, digest, err);
    if (fd >= 0)
        close(fd);
    if (r >= 0) {
        kiln_oci_digester_update(&h->d, url, strlen(url) + 1, NULL);
        add_record(h, name, &st, digest, "");
    }
    return r;
}

int kiln_copy_checksum(const struct kiln_vertex_copy *op, const struct kiln_copy_src *src,
                       const char *tmp_dir, char ret[KILN_OCI_DIGEST_MAX], struct kiln_error **err)
{
    *ret = '\0';
    if (!src)
        return 0; /* heredoc bodies are part of the definition */
    struct kiln_copy_sel sel;
    struct hasher h = {.sel = &sel};
    _cleanup_strv_ struct kiln_strv matches = KILN_STRV_INIT;
    _cleanup_strv_ struct kiln_strv keep = KILN_STRV_INIT;
    int r = kiln_copy_sel_init(&sel, op, src, err);
    if (r >= 0)
        r = kiln_copy_select(&sel, op, &matches, &keep, err);
    if (r >= 0)
        r = kiln_oci_digester_init(&h.d, KILN_OCI_SHA256, err);
    for (size_t i = 0; r >= 0 && i < matches.n; i++) {
        kiln_oci_digester_update(&h.d, "\n", 1, NULL);
        const char *shown = op->parents ? keep.v[i] : matches.v[i];
        r = hash_match(&h, matches.v[i], shown, err);
    }
    for (size_t i = 0; r >= 0 && i < op->sources.n; i++)
        if (kiln_copy_is_url(op->sources.v[i]))
            r = hash_url(&h, op, op->sources.v[i], tmp_dir, err);
    if (r >= 0)
        kiln_oci_digester_final(&h.d, ret, NULL);
    kiln_oci_digester_release(&h.d);
    kiln_copy_sel_release(&sel);
    return r;
}
