/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount.c - overlayfs views of snapshot chains (docs/internals/engine.md).
 */
#include "mount.h"

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

int kiln_mount_state(struct kiln_store *s, const char *top, const char *upper,
                     struct kiln_mount *ret, struct kiln_error **err)
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
    if ((r = make_mount_point(s, &point, err)) < 0)
        return r;

    if (lowers.n == 0 && !upper) {
        ret->path = point; /* scratch: an empty directory, nothing mounted */
        ret->scratch = kiln_xstrdup(point);
        point = NULL;
        return 0;
    }
    if (lowers.n == 0 || (lowers.n == 1 && !upper)) {
        const char *src = upper ? upper_fs : lowers.v[0];
        r = do_mount(src, point, NULL, MS_BIND, NULL, err);
        if (r == 0 && !upper)
            r = do_mount(NULL, point, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL, err);
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
        r = do_mount("overlay", point, "overlay", upper ? 0 : MS_RDONLY, opts.buf, err);
        kiln_buf_release(&opts);
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
    rmdir(m->path);
    free(m->path);
    free(m->scratch);
    *m = (struct kiln_mount)KILN_MOUNT_INIT;
}
