/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount.c - overlayfs views of snapshot chains (docs/internals/engine.md).
 */
#include "mount.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/strv.h"
#include "oci/digest.h"
#include "sandbox/userns.h"
#include "store/snapshot.h"

#include "base/banned.h"

/* What one mount(2) call takes as options: a page. */
#define MOUNT_OPTIONS_MAX 4000u

static pthread_mutex_t ns_lock = PTHREAD_MUTEX_INITIALIZER;
static bool ns_done;

int kiln_mount_namespace(struct kiln_error **err)
{
    int r = 0;
    pthread_mutex_lock(&ns_lock);
    if (!ns_done) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
            r = -errno;
            kiln_error_set_errno(err, r,
                                 "cannot create a private mount namespace (builds mount "
                                 "overlay filesystems, which needs root: run kiln as root)");
        } else {
            ns_done = true;
        }
    }
    pthread_mutex_unlock(&ns_lock);
    return r;
}

/* A fresh empty directory DIR/mnt/<random>. */
static int make_mount_point(struct kiln_store *s, char **ret, struct kiln_error **err)
{
    char *base = kiln_xasprintf("%s/mnt", kiln_store_dir(s));
    if (mkdir(base, 0700) < 0 && errno != EEXIST) {
        int r = -errno;
        kiln_error_set_errno(err, r, "cannot create '%s'", base);
        free(base);
        return r;
    }
    char rnd[KILN_OCI_DIGEST_MAX];
    unsigned char bytes[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, bytes, sizeof(bytes)) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)sizeof(bytes)) {
        free(base);
        return kiln_error_set(err, -EIO, "cannot read /dev/urandom");
    }
    for (size_t i = 0; i < sizeof(bytes); i++)
        snprintf(rnd + 2 * i, 3, "%02x", bytes[i]);
    char *path = kiln_xasprintf("%s/%s", base, rnd);
    free(base);
    if (mkdir(path, 0755) < 0) {
        int r = -errno;
        kiln_error_set_errno(err, r, "cannot create mount point '%s'", path);
        free(path);
        return r;
    }
    *ret = path;
    return 0;
}

static int lower_dirs(struct kiln_store *s, const char *top, struct kiln_strv *ret,
                      struct kiln_error **err)
{
    if (!top || !*top)
        return 0;
    return kiln_snapshot_chain(s, top, ret, err);
}

static int do_mount(const char *source, const char *target, const char *type, unsigned long flags,
                    const char *data, struct kiln_error **err)
{
    if (mount(source, target, type, flags, data) < 0) {
        int r = -errno;
        return kiln_error_set_errno(err, r, "cannot mount %s on '%s'",
                                    type ? type : (source ? source : "(remount)"), target);
    }
    return 0;
}

/* The overlay mounted by the mapped root (userns.h): it writes to its layers with its mounter's
 * ids. */
struct overlay_call {
    const char *point, *opts;
    unsigned long flags;
    struct kiln_error **err;
};

static int overlay_as_mapped_root(void *arg)
{
    struct overlay_call *c = arg;
    return do_mount("overlay", c->point, "overlay", c->flags, c->opts, c->err);
}

/* Unmounts a mapped mount's idmapped layers; the mount itself stays. */
static void release_layers(struct kiln_mount *m)
{
    if (!m->layers)
        return;
    DIR *d = opendir(m->layers);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        _cleanup_free_ char *at = kiln_xasprintf("%s/%s", m->layers, e->d_name);
        umount2(at, MNT_DETACH);
        rmdir(at);
    }
    if (d)
        closedir(d);
    rmdir(m->layers);
    free(m->layers);
    m->layers = NULL;
}

/* Mounts `src` idmapped through map at a new directory `at`. */
static int idmap_at(const struct kiln_sandbox_userns *map, const char *src, const char *at,
                    struct kiln_error **err)
{
    if (mkdir(at, 0700) < 0)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", at);
    return kiln_sandbox_idmap_mount(map, src, at, err);
}

/*
 * With `map`, each directory the mount reads is mounted idmapped first, at
 * POINT.layers/N (the upper's snapshot directory, holding fs/ and work/,
 * at POINT.layers/u), and *dirs names them instead; layers_dir is kept in
 * ret->layers for release. Without, nothing to do.
 */
static int map_layers(const struct kiln_sandbox_userns *map, const char *point,
                      struct kiln_strv *dirs, char **upper_fs, struct kiln_mount *ret,
                      struct kiln_error **err)
{
    if (!map)
        return 0;
    ret->layers = kiln_xasprintf("%s.layers", point);
    if (mkdir(ret->layers, 0700) < 0)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", ret->layers);
    for (size_t i = 0; i < dirs->n; i++) {
        char *at = kiln_xasprintf("%s/%zu", ret->layers, i);
        int r = idmap_at(map, dirs->v[i], at, err);
        if (r < 0) {
            free(at);
            return r;
        }
        free(dirs->v[i]);
        dirs->v[i] = at;
    }
    if (!*upper_fs)
        return 0;
    _cleanup_free_ char *snapshot = kiln_xstrndup(*upper_fs, strlen(*upper_fs) - 3); /* "/fs" */
    _cleanup_free_ char *at = kiln_xasprintf("%s/u", ret->layers);
    int r = idmap_at(map, snapshot, at, err);
    if (r < 0)
        return r;
    free(*upper_fs);
    *upper_fs = kiln_xasprintf("%s/fs", at);
    return 0;
}

int kiln_mount_state(struct kiln_store *s, const char *top, const char *upper,
                     struct kiln_mount *ret, struct kiln_error **err)
{
    return kiln_mount_state_mapped(s, top, upper, NULL, ret, err);
}

int kiln_mount_state_mapped(struct kiln_store *s, const char *top, const char *upper,
                            const struct kiln_sandbox_userns *map, struct kiln_mount *ret,
                            struct kiln_error **err)
{
    *ret = (struct kiln_mount)KILN_MOUNT_INIT;
    _cleanup_strv_ struct kiln_strv lowers = KILN_STRV_INIT;
    int r = lower_dirs(s, top, &lowers, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *upper_fs = NULL;
    if (upper && (r = kiln_snapshot_path(s, upper, &upper_fs, err)) < 0)
        return r;
    _cleanup_free_ char *point = NULL;
    r = map ? kiln_sandbox_userns_mount_point(map, &point, err) : make_mount_point(s, &point, err);
    if (r < 0)
        return r;

    if (lowers.n == 0 && !upper) {
        if (map && chown(point, map->host_id, map->host_id) < 0) {
            r = kiln_error_set_errno(err, -errno, "cannot chown '%s'", point);
            rmdir(point);
            return r;
        }
        ret->path = point; /* scratch: an empty directory, nothing mounted */
        ret->scratch = kiln_xstrdup(point);
        point = NULL;
        return 0;
    }
    if (lowers.n == 0 || (lowers.n == 1 && !upper)) {
        const char *src = upper ? upper_fs : lowers.v[0];
        r = map ? kiln_sandbox_idmap_mount(map, src, point, err)
                : do_mount(src, point, NULL, MS_BIND, NULL, err);
        if (r == 0 && !upper)
            r = do_mount(NULL, point, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL, err);
    } else if ((r = map_layers(map, point, &lowers, &upper_fs, ret, err)) < 0) {
        release_layers(ret);
    } else {
        struct kiln_buf opts = KILN_BUF_INIT(MOUNT_OPTIONS_MAX);
        int b = kiln_buf_adds(&opts, "lowerdir=");
        for (size_t i = 0; i < lowers.n && b == 0; i++)
            b = kiln_buf_addf(&opts, "%s%s", i ? ":" : "", lowers.v[i]);
        if (upper && b == 0)
            b = kiln_buf_addf(&opts, ",upperdir=%s,workdir=%.*s/work", upper_fs,
                              (int)(strlen(upper_fs) - 3), upper_fs);
        if (b < 0) {
            kiln_buf_release(&opts);
            rmdir(point);
            return kiln_error_set(err, KILN_E_LIMIT,
                                  "cannot mount a state of %zu layers: the overlay mount "
                                  "options pass %u bytes; squash some layers",
                                  lowers.n, MOUNT_OPTIONS_MAX);
        }
        struct overlay_call c = {point, opts.buf, upper ? 0 : MS_RDONLY, err};
        r = map ? kiln_sandbox_as_mapped_root(map, overlay_as_mapped_root, &c)
                : overlay_as_mapped_root(&c);
        if (r < 0 && err && !*err)
            r = kiln_error_set_errno(err, r, "cannot mount the overlay on '%s' as the mapped root",
                                     point);
        kiln_buf_release(&opts);
        if (r < 0)
            release_layers(ret);
    }
    if (r < 0) {
        rmdir(point);
        return r;
    }
    ret->path = point;
    point = NULL;
    return 0;
}

void kiln_mount_release(struct kiln_mount *m)
{
    if (!m->path)
        return;
    if (!m->scratch)
        umount2(m->path, MNT_DETACH);
    release_layers(m);
    rmdir(m->path);
    free(m->path);
    free(m->scratch);
    *m = (struct kiln_mount)KILN_MOUNT_INIT;
}
