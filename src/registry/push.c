/* SPDX-License-Identifier: Apache-2.0 */
/*
 * push.c - pushing one blob: nothing when the repository has it, a
 * cross-repository mount when the caller knows a repository that has it,
 * else an upload.
 */
#include <inttypes.h>
#include <string.h>

#include "base/alloc.h"
#include "internal.h"

#include "base/banned.h"

static int check_args(const char *repo, const char *digest, int64_t size, const char *mount_from,
                      struct kiln_error **err)
{
    int r = kiln_registry_check_repo(repo, err);
    if (r >= 0)
        r = kiln_registry_check_digest(digest, err);
    if (r >= 0 && mount_from)
        r = kiln_registry_check_repo(mount_from, err);
    if (r >= 0 && size < 0)
        r = kiln_error_set(err, KILN_E_INVALID, "negative blob size %" PRId64, size);
    return r;
}

int kiln_registry_blob_push(struct kiln_registry_client *c, const char *repo, const char *digest,
                            int64_t size, const char *mount_from, kiln_registry_read_fn *read,
                            void *data, uint64_t *ret_sent, struct kiln_error **err)
{
    int r = check_args(repo, digest, size, mount_from, err);
    if (r < 0)
        return r;
    /* One scope string for every request of the push: one token serves them all. */
    _cleanup_free_ char *push = kiln_registry_scope(repo, "pull,push");
    _cleanup_free_ char *from = mount_from ? kiln_registry_scope(mount_from, "pull") : NULL;
    _cleanup_free_ char *scope = from ? kiln_xasprintf("%s %s", push, from) : kiln_xstrdup(push);
    _cleanup_free_ char *location = NULL;
    uint64_t sent = 0;
    r = kiln_registry_blob_head(c, repo, digest, scope, NULL, err);
    if (r > 0) {
        r = KILN_REGISTRY_EXISTS;
    } else if (r == 0) {
        r = kiln_registry_upload_start(c, repo, scope, digest, mount_from, &location, err);
        if (r > 0)
            r = KILN_REGISTRY_MOUNTED;
    }
    if (r == 0 && c->chunk_size && (uint64_t)size > c->chunk_size)
        r = kiln_registry_upload_chunked(c, location, scope, digest, size, read, data, &sent, err);
    else if (r == 0)
        r = kiln_registry_upload_monolithic(c, location, scope, digest, size, read, data, &sent,
                                            err);
    if (r < 0)
        return r;
    if (ret_sent)
        *ret_sent = sent;
    return r;
}
