/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-upload.c - the missing files as a zstd-compressed tar, made on
 * demand: each read compresses one more block of the current file.
 */
#include "context-upload.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "context-index.h"
#include "oci/digest.h"

#include "base/banned.h"

struct job {
    const char *path;   /* owned by the index */
    const char *digest; /* owned by the index */
    uint64_t size;
};

struct kiln_context_upload {
    int ctxfd;
    struct job *jobs;
    size_t njobs, cur;
    int fd;             /* the current job's file, -1 between files */
    uint64_t remaining; /* its bytes still to send */
    struct kiln_oci_digester d;
    struct archive *a;
    struct kiln_buf out; /* compressed bytes not read yet, from pos */
    size_t pos;
    unsigned char *block;
    uint64_t bytes;
    bool done;
    int failed; /* the first failure, sticky */
    json_t *entries;
};

static la_ssize_t to_out(struct archive *a, void *ud, const void *buf, size_t n)
{
    struct kiln_context_upload *u = ud;
    if (kiln_buf_add(&u->out, buf, n) < 0) {
        archive_set_error(a, ENOBUFS, "more than %u compressed bytes pending",
                          KILN_CONTEXT_UPLOAD_PENDING_MAX);
        return -1;
    }
    return (la_ssize_t)n;
}

static int archive_fail(struct kiln_context_upload *u, const char *what, struct kiln_error **err)
{
    return kiln_error_set(err, -EIO, "cannot %s the context upload: %s", what,
                          archive_error_string(u->a) ? archive_error_string(u->a) : "unknown");
}

/* Picks the files to send: the first entry of each digest in `missing`. */
static int plan(struct kiln_context_upload *u, json_t *entries, json_t *missing,
                struct kiln_error **err)
{
    json_t *want = json_object(), *e, *v;
    size_t i, alloc = 0;
    json_array_foreach (missing, i, v)
        if (json_is_string(v))
            json_object_set_new(want, json_string_value(v), json_true());
    json_array_foreach (entries, i, e) {
        const char *dg = json_string_value(json_object_get(e, "digest"));
        if (!dg || !json_object_get(want, dg))
            continue;
        KILN_GROW(u->jobs, alloc, u->njobs + 1);
        u->jobs[u->njobs++] = (struct job){
                .path = json_string_value(json_object_get(e, "path")),
                .digest = dg,
                .size = (uint64_t)json_integer_value(json_object_get(e, "size")),
        };
        json_object_del(want, dg);
    }
    const char *left = NULL;
    json_object_foreach (want, left, v)
        break;
    int r = left ? kiln_error_set(err, KILN_E_UPSTREAM,
                                  "the builder asked for '%s', which is not in the build context",
                                  left)
                 : 0;
    json_decref(want);
    return r;
}

int kiln_context_upload_open(const char *context_dir, json_t *entries, json_t *missing,
                             struct kiln_context_upload **ret, struct kiln_error **err)
{
    _cleanup_(kiln_context_upload_closep) struct kiln_context_upload *u =
            kiln_xcalloc(1, sizeof(*u));
    u->fd = u->ctxfd = -1;
    u->entries = json_incref(entries);
    kiln_buf_init(&u->out, KILN_CONTEXT_UPLOAD_PENDING_MAX);
    u->ctxfd = open(context_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (u->ctxfd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open the build context '%s'", context_dir);
    int r = plan(u, entries, missing, err);
    if (r < 0)
        return r;
    u->block = kiln_xmalloc(KILN_CONTEXT_INDEX_BLOCK);
    u->a = archive_write_new();
    char level[16];
    snprintf(level, sizeof(level), "%d", KILN_CONTEXT_UPLOAD_ZSTD_LEVEL);
    if (!u->a || archive_write_set_format_pax_restricted(u->a) != ARCHIVE_OK ||
        archive_write_add_filter_zstd(u->a) != ARCHIVE_OK ||
        archive_write_set_filter_option(u->a, "zstd", "compression-level", level) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(u->a, 1) != ARCHIVE_OK ||
        archive_write_open2(u->a, u, NULL, to_out, NULL, NULL) != ARCHIVE_OK)
        return archive_fail(u, "start", err);
    *ret = TAKE_PTR(u);
    return 0;
}

static int start_file(struct kiln_context_upload *u, struct kiln_error **err)
{
    const struct job *j = &u->jobs[u->cur];
    int fd = kiln_context_index_open_file(u->ctxfd, j->path, err);
    if (fd < 0)
        return fd;
    u->fd = fd;
    u->remaining = j->size;
    int r = kiln_oci_digester_init(&u->d, KILN_OCI_SHA256, err);
    if (r < 0)
        return r;
    struct archive_entry *ae = archive_entry_new();
    char name[KILN_OCI_DIGEST_MAX];
    snprintf(name, sizeof(name), "sha256/%s", j->digest + strlen("sha256:"));
    archive_entry_copy_pathname(ae, name);
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_entry_set_perm(ae, 0644);
    archive_entry_set_size(ae, (la_int64_t)j->size);
    r = archive_write_header(u->a, ae) == ARCHIVE_OK ? 0 : archive_fail(u, "write", err);
    archive_entry_free(ae);
    return r;
}

static int changed(const struct job *j, struct kiln_error **err)
{
    return kiln_error_set(err, KILN_E_INVALID,
                          "'%s' changed while it was uploaded: run the "
                          "build again",
                          j->path);
}

/* The current file's last step: nothing more to read, and the digest it had. */
static int finish_file(struct kiln_context_upload *u, struct kiln_error **err)
{
    const struct job *j = &u->jobs[u->cur];
    char extra, got[KILN_OCI_DIGEST_MAX];
    ssize_t n = read(u->fd, &extra, 1);
    if (n < 0)
        return kiln_error_set_errno(err, -errno, "cannot read '%s'", j->path);
    int r = kiln_oci_digester_final(&u->d, got, err);
    if (r < 0)
        return r;
    if (n > 0 || strcmp(got, j->digest) != 0)
        return changed(j, err);
    kiln_oci_digester_release(&u->d);
    close(TAKE_FD(u->fd));
    u->cur++;
    return 0;
}

/* Feeds one more block (or header, or the end) to the archive. */
static int step(struct kiln_context_upload *u, struct kiln_error **err)
{
    if (u->fd < 0 && u->cur == u->njobs) {
        if (archive_write_close(u->a) != ARCHIVE_OK)
            return archive_fail(u, "finish", err);
        u->done = true;
        return 0;
    }
    if (u->fd < 0)
        return start_file(u, err);
    if (u->remaining == 0)
        return finish_file(u, err);
    const struct job *j = &u->jobs[u->cur];
    size_t want = u->remaining < KILN_CONTEXT_INDEX_BLOCK ? (size_t)u->remaining
                                                          : KILN_CONTEXT_INDEX_BLOCK;
    ssize_t n = read(u->fd, u->block, want);
    if (n < 0)
        return errno == EINTR ? 0 : kiln_error_set_errno(err, -errno, "cannot read '%s'", j->path);
    if (n == 0)
        return changed(j, err);
    int r = kiln_oci_digester_update(&u->d, u->block, (size_t)n, err);
    if (r < 0)
        return r;
    if (archive_write_data(u->a, u->block, (size_t)n) != n)
        return archive_fail(u, "write", err);
    u->remaining -= (uint64_t)n;
    return 0;
}

ssize_t kiln_context_upload_read(void *ud, void *buf, size_t n, struct kiln_error **err)
{
    struct kiln_context_upload *u = ud;
    if (u->failed)
        return kiln_error_set(err, u->failed, "the context upload failed already");
    while (u->out.len == u->pos && !u->done) {
        kiln_buf_reset(&u->out);
        u->pos = 0;
        int r = step(u, err);
        if (r < 0) {
            u->failed = r;
            return r;
        }
    }
    size_t k = u->out.len - u->pos < n ? u->out.len - u->pos : n;
    memcpy(buf, u->out.buf + u->pos, k);
    u->pos += k;
    u->bytes += k;
    return (ssize_t)k;
}

uint64_t kiln_context_upload_bytes(const struct kiln_context_upload *u)
{
    return u->bytes;
}

void kiln_context_upload_close(struct kiln_context_upload *u)
{
    if (!u)
        return;
    if (u->a)
        archive_write_free(u->a);
    kiln_oci_digester_release(&u->d);
    if (u->fd >= 0)
        close(u->fd);
    if (u->ctxfd >= 0)
        close(u->ctxfd);
    kiln_buf_release(&u->out);
    free(u->block);
    free(u->jobs);
    json_decref(u->entries);
    free(u);
}

int kiln_context_upload_write(const char *context_dir, json_t *entries, json_t *missing,
                              int (*write)(void *ud, const void *buf, size_t n,
                                           struct kiln_error **err),
                              void *ud, uint64_t *ret_bytes, struct kiln_error **err)
{
    _cleanup_(kiln_context_upload_closep) struct kiln_context_upload *u = NULL;
    int r = kiln_context_upload_open(context_dir, entries, missing, &u, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *buf = kiln_xmalloc(64 * 1024);
    ssize_t n;
    while ((n = kiln_context_upload_read(u, buf, 64 * 1024, err)) > 0)
        if ((r = write(ud, buf, (size_t)n, err)) < 0)
            return r;
    if (n < 0)
        return (int)n;
    if (ret_bytes)
        *ret_bytes = u->bytes;
    return 0;
}
