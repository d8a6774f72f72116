/* SPDX-License-Identifier: Apache-2.0 */
/*
 * push.c - image push (docs/internals/engine.md, "Push").
 */
#include "push.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "oci/reference.h"
#include "resolve.h"
#include "store/content.h"

#include "base/banned.h"

/* Blob uploads at once. */
#define PUSH_WORKERS 3u

struct blob {
    const char *digest;
    uint64_t size;
};

struct push_jobs {
    struct kiln_store *store; /* content reads only: opened per worker below */
    const char *dir;
    const struct kiln_oci_ref *ref;
    const struct kiln_push_opts *o;
    const char *mount_from;
    struct blob *blobs;
    size_t n, next;
    pthread_mutex_t lock;
    int code;
    struct kiln_error *error;
};

static ssize_t fd_read(void *data, void *buf, size_t len, struct kiln_error **err)
{
    ssize_t n;
    do
        n = read(*(int *)data, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return kiln_error_set_errno(err, -errno, "cannot read a blob");
    return n;
}

static int push_blob(struct kiln_store *s, struct kiln_registry_client *c,
                     const struct push_jobs *j, const struct blob *b, struct kiln_error **err)
{
    int fd = -1;
    int r = kiln_content_open(s, b->digest, &fd, err);
    if (r < 0)
        return r;
    uint64_t sent = 0;
    kiln_progress_status(j->o->progress, j->o->progress_id, b->digest, 0, b->size, false);
    r = kiln_registry_blob_push(c, j->ref->path, b->digest, (int64_t)b->size, j->mount_from,
                                fd_read, &fd, &sent, err);
    close(fd);
    if (r >= 0)
        kiln_progress_status(j->o->progress, j->o->progress_id, b->digest, b->size, b->size, true);
    return r;
}

static void *push_worker(void *arg)
{
    struct push_jobs *j = arg;
    struct kiln_store *s = NULL;
    struct kiln_registry_client *c = NULL;
    struct kiln_error *error = NULL;
    int r = kiln_store_open(j->dir, &s, &error);
    if (r >= 0)
        r = kiln_registry_open(j->ref->domain, j->o->insecure, &c, &error);
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->next++;
        bool stop = r < 0 || j->code < 0 || i >= j->n;
        pthread_mutex_unlock(&j->lock);
        if (stop)
            break;
        r = push_blob(s, c, j, &j->blobs[i], &error);
    }
    pthread_mutex_lock(&j->lock);
    if (r < 0 && j->code == 0) {
        j->code = r;
        j->error = error;
        error = NULL;
    }
    pthread_mutex_unlock(&j->lock);
    kiln_error_free(error);
    kiln_registry_client_free(c);
    kiln_store_close(s);
    return NULL;
}

static int push_blobs(struct kiln_store *s, const struct kiln_image *img,
                      const struct kiln_oci_ref *ref, const struct kiln_push_opts *o,
                      struct kiln_error **err)
{
    struct push_jobs j = {.dir = kiln_store_dir(s), .ref = ref, .o = o};
    if (o->mount_domain && o->mount_repo && strcmp(o->mount_domain, ref->domain) == 0 &&
        strcmp(o->mount_repo, ref->path) != 0)
        j.mount_from = o->mount_repo;
    j.blobs = kiln_xcalloc(img->n_layers + 1, sizeof(*j.blobs));
    for (size_t i = 0; i < img->n_layers; i++)
        j.blobs[j.n++] = (struct blob){img->layers[i].digest, img->layers[i].size};
    j.blobs[j.n++] = (struct blob){img->config_digest, img->config_size};
    pthread_mutex_init(&j.lock, NULL);
    unsigned workers = j.n < PUSH_WORKERS ? (unsigned)j.n : PUSH_WORKERS;
    pthread_t t[PUSH_WORKERS];
    unsigned started = 0;
    for (; started < workers; started++)
        if (pthread_create(&t[started], NULL, push_worker, &j) != 0)
            break;
    if (started == 0)
        push_worker(&j);
    for (unsigned i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    pthread_mutex_destroy(&j.lock);
    free(j.blobs);
    if (j.code < 0) {
        if (err && !*err)
            *err = j.error;
        else
            kiln_error_free(j.error);
    }
    return j.code;
}

static int read_blob(struct kiln_store *s, const char *digest, uint64_t size, char **ret,
                     struct kiln_error **err)
{
    int fd = -1;
    int r = kiln_content_open(s, digest, &fd, err);
    if (r < 0)
        return r;
    char *buf = kiln_xmalloc(size + 1);
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            close(fd);
            free(buf);
            return kiln_error_set(err, -EIO, "cannot read blob %s", digest);
        }
        got += (size_t)n;
    }
    close(fd);
    buf[size] = '\0';
    *ret = buf;
    return 0;
}

int kiln_image_push(struct kiln_store *s, const struct kiln_image *img, const char *name,
                    const struct kiln_push_opts *o, struct kiln_error **err)
{
    _cleanup_(kiln_oci_ref_freep) struct kiln_oci_ref *ref = NULL;
    int r = kiln_oci_ref_parse_normalized(name, &ref, err);
    if (r < 0)
        return r;
    kiln_oci_ref_tag_name_only(ref);
    if ((r = push_blobs(s, img, ref, o, err)) < 0)
        return kiln_error_wrap(err, r, "push %s", name);
    _cleanup_free_ char *manifest = NULL;
    if ((r = read_blob(s, img->digest, img->size, &manifest, err)) < 0)
        return r;
    _cleanup_(kiln_registry_client_freep) struct kiln_registry_client *c = NULL;
    if ((r = kiln_registry_open(ref->domain, o->insecure, &c, err)) < 0)
        return r;
    char digest[KILN_OCI_DIGEST_MAX];
    _cleanup_free_ char *full = kiln_oci_ref_string(ref, false);
    _cleanup_free_ char *what = kiln_xasprintf("pushing manifest for %s@%s", full, img->digest);
    kiln_progress_status(o->progress, o->progress_id, what, 0, 0, false);
    r = kiln_registry_manifest_put(c, ref->path, ref->digest ? ref->digest : ref->tag,
                                   img->media_type, manifest, img->size, digest, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "push %s", name);
    kiln_progress_status(o->progress, o->progress_id, what, 0, 0, true);
    return 0;
}
