/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-receive.c - an upload of context content: a tar of `sha256/HEX`
 * members, each verified into the builder's content store.
 */
#include "context-sync.h"

#include <archive.h>
#include <archive_entry.h>
#include <string.h>
#include <sys/resource.h>

#include "base/alloc.h"
#include "store/content.h"

#include "base/banned.h"

#define READ_BLOCK (1024u * 1024)
#define BATCH_MAX  1024u /* members committed together: one file system sync for all */

struct receive {
    struct kiln_store *s;
    struct archive *a;
    json_t *want; /* digest -> true, while still wanted */
    unsigned char *block;
    uint64_t skipped;
    size_t stored;
    struct kiln_content_writer **pending; /* read whole, not committed yet (an open file each) */
    size_t n_pending, batch;
};

/* Commits the members read so far; one that does not match its digest is named. */
static int flush(struct receive *rc, struct kiln_error **err)
{
    int r = kiln_content_commit_many(rc->pending, rc->n_pending, err);
    for (size_t i = 0; i < rc->n_pending; i++)
        kiln_content_writer_free(rc->pending[i]);
    rc->stored += rc->n_pending;
    rc->n_pending = 0;
    if (r == KILN_E_INVALID)
        return kiln_error_wrap(err, r,
                               "an upload does not match its digest: nothing was stored "
                               "under it");
    return r;
}

static int ended_early(struct receive *rc, struct kiln_error **err)
{
    const char *why = archive_error_string(rc->a);
    return kiln_error_set(err, KILN_E_INVALID,
                          "upload ended early (%s): what arrived whole is kept; ask which "
                          "content is still missing and send that",
                          why ? why : "cut off");
}

/* "sha256/HEX" -> "sha256:HEX" in ret; false for any other name. */
static bool digest_of(const char *name, char ret[KILN_OCI_DIGEST_MAX])
{
    if (!name || strlen(name) != 71 || strncmp(name, "sha256/", 7) != 0 ||
        strspn(name + 7, "0123456789abcdef") != 64)
        return false;
    snprintf(ret, KILN_OCI_DIGEST_MAX, "sha256:%s", name + 7);
    return true;
}

static int store_member(struct receive *rc, const char *digest, int64_t size,
                        struct kiln_error **err)
{
    struct kiln_content_expect e = {.digest = digest, .size = size, .max_size = (uint64_t)size};
    _cleanup_(kiln_content_writer_freep) struct kiln_content_writer *w = NULL;
    int r = kiln_content_writer_open(rc->s, &e, NULL, &w, err);
    if (r < 0)
        return r;
    for (;;) {
        la_ssize_t n = archive_read_data(rc->a, rc->block, READ_BLOCK);
        if (n < 0)
            return ended_early(rc, err);
        if (n == 0)
            break;
        if ((r = kiln_content_write(w, rc->block, (size_t)n, err)) < 0)
            return r;
    }
    rc->pending[rc->n_pending++] = TAKE_PTR(w);
    return rc->n_pending == rc->batch ? flush(rc, err) : 0;
}

/* One member: stored when wanted, skipped when not, refused when not ours. */
static int member(struct receive *rc, struct archive_entry *ae, struct kiln_error **err)
{
    const char *name = archive_entry_pathname(ae);
    if (archive_entry_filetype(ae) == AE_IFDIR)
        return 0;
    char digest[KILN_OCI_DIGEST_MAX];
    if (archive_entry_filetype(ae) != AE_IFREG || archive_entry_hardlink(ae) ||
        !digest_of(name, digest))
        return kiln_error_set(err, KILN_E_INVALID,
                              "upload member '%s' is not a regular file named sha256/<64 hex>",
                              name ? name : "");
    int64_t size = archive_entry_size(ae);
    if (size < 0 || (uint64_t)size > KILND_CONTEXT_FILE_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "upload member '%s' is larger than 64 GiB", name);
    if (!json_object_get(rc->want, digest)) {
        rc->skipped += (uint64_t)size;
        if (rc->skipped > KILND_CONTEXT_SKIP_MAX)
            return kiln_error_set(err, KILN_E_LIMIT,
                                  "the upload holds more than %llu bytes of content that was "
                                  "not asked for: send only what is missing",
                                  KILND_CONTEXT_SKIP_MAX);
        return archive_read_data_skip(rc->a) == ARCHIVE_OK ? 0 : ended_early(rc, err);
    }
    int r = store_member(rc, digest, size, err);
    if (r < 0)
        return r;
    json_object_del(rc->want, digest);
    return 0;
}

int kilnd_context_receive(struct kiln_store *s, int tar_fd, json_t *wanted, size_t *ret_stored,
                          struct kiln_error **err)
{
    /* a batch may use a quarter of the files this process may open */
    struct rlimit nofile = {.rlim_cur = 1024};
    getrlimit(RLIMIT_NOFILE, &nofile);
    struct receive rc = {.s = s,
                         .want = json_object(),
                         .batch = nofile.rlim_cur / 4 < 16          ? 16
                                  : nofile.rlim_cur / 4 > BATCH_MAX ? BATCH_MAX
                                                                    : nofile.rlim_cur / 4};
    rc.pending = kiln_xcalloc(rc.batch, sizeof(*rc.pending));
    json_t *v;
    size_t i;
    json_array_foreach (wanted, i, v)
        if (json_is_string(v))
            json_object_set_new(rc.want, json_string_value(v), json_true());
    rc.a = archive_read_new();
    int r = 0;
    if (!rc.a || archive_read_support_filter_gzip(rc.a) != ARCHIVE_OK ||
        archive_read_support_filter_zstd(rc.a) != ARCHIVE_OK ||
        archive_read_support_format_tar(rc.a) != ARCHIVE_OK ||
        archive_read_open_fd(rc.a, tar_fd, 64 * 1024) != ARCHIVE_OK)
        r = kiln_error_set(err, KILN_E_INVALID,
                           "the upload is not a tar (zstd- or gzip-compressed, or "
                           "not): %s",
                           rc.a && archive_error_string(rc.a) ? archive_error_string(rc.a)
                                                              : "unreadable");
    rc.block = kiln_xmalloc(READ_BLOCK);
    while (r >= 0) {
        struct archive_entry *ae;
        int ar = archive_read_next_header(rc.a, &ae);
        if (ar == ARCHIVE_EOF)
            break;
        r = ar == ARCHIVE_OK || ar == ARCHIVE_WARN ? member(&rc, ae, err) : ended_early(&rc, err);
    }
    /* what arrived whole is kept, also when the rest did not arrive */
    int f = flush(&rc, r < 0 ? NULL : err);
    if (r >= 0)
        r = f;
    if (rc.a)
        archive_read_free(rc.a);
    free(rc.block);
    free(rc.pending);
    json_decref(rc.want);
    if (r < 0)
        return r;
    if (ret_stored)
        *ret_stored = rc.stored;
    return 0;
}
