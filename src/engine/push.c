/* SPDX-License-Identifier: Apache-2.0 */
/*
 * push.c - image push (docs/internals/engine.md, "Push").
 */
#include "push.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "jobs.h"
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
    const char *dir;
    const struct kiln_oci_ref *ref;
    const struct kiln_push_opts *o;
    const char *mount_from;
    struct blob *blobs;
};

/* A worker's own store handle and registry client. */
struct push_worker {
    struct kiln_store *s;
    struct kiln_registry_client *c;
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

static int push_init(void *shared, void **ret_local, struct kiln_error **err)
{
    struct push_jobs *j = shared;
    struct push_worker *w = kiln_xcalloc(1, sizeof(*w));
    *ret_local = w;
    int r = kiln_store_open(j->dir, &w->s, err);
    return r < 0 ? r : kiln_registry_open(j->ref->domain, j->o->insecure, &w->c, err);
}

static void push_fini(void *local)
{
    struct push_worker *w = local;
    kiln_registry_client_free(w->c);
    kiln_store_close(w->s);
    free(w);
}

static int push_job(void *shared, void *local, size_t i, struct kiln_error **err)
{
    struct push_jobs *j = shared;
    struct push_worker *w = local;
    return push_blob(w->s, w->c, j, &j->blobs[i], err);
}

static int push_blobs(struct kiln_store *s, const struct kiln_image *img,
                      const struct kiln_oci_ref *ref, const struct kiln_push_opts *o,
                      struct kiln_error **err)
{
    struct push_jobs j = {.dir = kiln_store_dir(s), .ref = ref, .o = o};
    if (o->mount_domain && o->mount_repo && strcmp(o->mount_domain, ref->domain) == 0 &&
        strcmp(o->mount_repo, ref->path) != 0)
        j.mount_from = o->mount_repo;
    size_t n = 0;
    j.blobs = kiln_xcalloc(img->n_layers + 1, sizeof(*j.blobs));
    for (size_t i = 0; i < img->n_layers; i++)
        j.blobs[n++] = (struct blob){img->layers[i].digest, img->layers[i].size};
    j.blobs[n++] = (struct blob){img->config_digest, img->config_size};
    int r = kiln_jobs_run(n, NULL, PUSH_WORKERS, push_init, push_fini, push_job, &j, err);
    free(j.blobs);
    return r;
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

/* Puts the manifest or index `digest` from the store under `reference` (a tag or the digest). */
static int put_manifest(struct kiln_store *s, struct kiln_registry_client *c,
                        const struct kiln_oci_ref *ref, const char *digest, const char *media_type,
                        uint64_t size, const char *reference, const struct kiln_push_opts *o,
                        struct kiln_error **err)
{
    _cleanup_free_ char *manifest = NULL;
    int r = read_blob(s, digest, size, &manifest, err);
    if (r < 0)
        return r;
    char got[KILN_OCI_DIGEST_MAX];
    _cleanup_free_ char *full = kiln_oci_ref_string(ref, false);
    _cleanup_free_ char *what = kiln_xasprintf("pushing manifest for %s@%s", full, digest);
    kiln_progress_status(o->progress, o->progress_id, what, 0, 0, false);
    r = kiln_registry_manifest_put(c, ref->path, reference, media_type, manifest, size, got, err);
    if (r >= 0)
        kiln_progress_status(o->progress, o->progress_id, what, 0, 0, true);
    return r;
}

/* The reference name pushes to, without its tag when it has a digest; and a client for it. */
static int open_target(const char *name, const struct kiln_push_opts *o,
                       struct kiln_oci_ref **ret_ref, struct kiln_registry_client **ret_client,
                       struct kiln_error **err)
{
    _cleanup_(kiln_oci_ref_freep) struct kiln_oci_ref *ref = NULL;
    int r = kiln_oci_ref_parse_normalized(name, &ref, err);
    if (r < 0)
        return r;
    kiln_oci_ref_tag_name_only(ref);
    if ((r = kiln_registry_open(ref->domain, o->insecure, ret_client, err)) < 0)
        return r;
    *ret_ref = TAKE_PTR(ref);
    return 0;
}

/*
 * Whether the registry has `digest` under the tag `reference` already (the
 * same image pushed before): then its blobs are there too, and the push
 * needs nothing more. A registry that cannot say is pushed to.
 */
static bool tagged_already(struct kiln_registry_client *c, const struct kiln_oci_ref *ref,
                           const char *reference, const char *digest,
                           const struct kiln_push_opts *o)
{
    _cleanup_(kiln_registry_manifest_freep) struct kiln_registry_manifest *m = NULL;
    if (!reference || strcmp(reference, digest) == 0 ||
        kiln_registry_manifest_get(c, ref->path, reference, &m, NULL) < 0 ||
        strcmp(m->digest, digest) != 0)
        return false;
    _cleanup_free_ char *full = kiln_oci_ref_string(ref, false);
    _cleanup_free_ char *what = kiln_xasprintf("pushing manifest for %s@%s", full, digest);
    kiln_progress_status(o->progress, o->progress_id, what, 0, 0, true);
    return true;
}

/* img's blobs, then its manifest under `reference` (NULL: its digest). */
static int push_image(struct kiln_store *s, struct kiln_registry_client *c,
                      const struct kiln_image *img, const struct kiln_oci_ref *ref,
                      const char *reference, const struct kiln_push_opts *o,
                      struct kiln_error **err)
{
    const char *to = reference ? reference : img->digest;
    int r = push_blobs(s, img, ref, o, err);
    if (r >= 0)
        r = put_manifest(s, c, ref, img->digest, img->media_type, img->size, to, o, err);
    if (r == KILN_E_AUTH || r == KILN_E_DENIED || r >= 0)
        return r;
    /* A registry busy with other pushes of the same blobs may refuse a manifest whose blobs it
     * just said it had ("manifest blob unknown"): check them again, and put it once more. */
    kiln_error_free(err ? *err : NULL);
    if (err)
        *err = NULL;
    r = push_blobs(s, img, ref, o, err);
    return r < 0 ? r : put_manifest(s, c, ref, img->digest, img->media_type, img->size, to, o, err);
}

int kiln_image_push(struct kiln_store *s, const struct kiln_image *img, const char *name,
                    const struct kiln_push_opts *o, struct kiln_error **err)
{
    _cleanup_(kiln_oci_ref_freep) struct kiln_oci_ref *ref = NULL;
    _cleanup_(kiln_registry_client_freep) struct kiln_registry_client *c = NULL;
    int r = open_target(name, o, &ref, &c, err);
    const char *reference = r >= 0 ? (ref->digest ? ref->digest : ref->tag) : NULL;
    if (r >= 0 && !tagged_already(c, ref, reference, img->digest, o))
        r = push_image(s, c, img, ref, reference, o, err);
    return r < 0 ? kiln_error_wrap(err, r, "push %s", name) : 0;
}

int kiln_index_push(struct kiln_store *s, const struct kiln_image *imgs, size_t n,
                    const struct kiln_image_index *idx, const char *name,
                    const struct kiln_push_opts *o, struct kiln_error **err)
{
    _cleanup_(kiln_oci_ref_freep) struct kiln_oci_ref *ref = NULL;
    _cleanup_(kiln_registry_client_freep) struct kiln_registry_client *c = NULL;
    int r = open_target(name, o, &ref, &c, err);
    const char *reference = r >= 0 ? (ref->digest ? ref->digest : ref->tag) : NULL;
    if (r >= 0 && tagged_already(c, ref, reference, idx->digest, o))
        return 0;
    for (size_t i = 0; r >= 0 && i < n; i++)
        r = push_image(s, c, &imgs[i], ref, NULL, o, err);
    if (r >= 0)
        r = put_manifest(s, c, ref, idx->digest, idx->media_type, idx->size, reference, o, err);
    return r < 0 ? kiln_error_wrap(err, r, "push %s", name) : 0;
}
