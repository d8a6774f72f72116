/* SPDX-License-Identifier: Apache-2.0 */
/*
 * push.h - an exported image to a registry: blobs the repository lacks
 * (HEAD first; cross-repository mount from the base image's repository when
 * it is on the same registry; else an upload, several at once), then the
 * manifest under the tag. Several platforms: every image's blobs and its
 * manifest (by digest), then the index under the tag.
 */
#pragma once

#include "base/error.h"
#include "image-export.h"
#include "progress.h"
#include "store/store.h"

struct kiln_push_opts {
    const char *const *insecure;
    const char *mount_domain; /* registry of the base image (NULL: none) */
    const char *mount_repo;   /* its repository there */
    struct kiln_progress *progress;
    const char *progress_id;
};

/* Pushes img as `name` ("registry/repo[:tag]"; no tag means latest). */
int kiln_image_push(struct kiln_store *s, const struct kiln_image *img, const char *name,
                    const struct kiln_push_opts *o, struct kiln_error **err);

/* Pushes imgs[0..n) by digest, then their index idx as `name`. Errors as kiln_image_push(). */
int kiln_index_push(struct kiln_store *s, const struct kiln_image *imgs, size_t n,
                    const struct kiln_image_index *idx, const char *name,
                    const struct kiln_push_opts *o, struct kiln_error **err);
