/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-indexes.c - received context indexes kept by digest
 * (docs/internals/context-sync.md).
 */
#include "context-indexes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/path.h"
#include "context-slot.h"
#include "oci/whiteout.h"

#include "base/banned.h"

static char *dir_of(const char *store_dir)
{
    return kiln_xasprintf("%s/contexts/indexes", store_dir);
}

char *kilnd_context_index_path(const char *store_dir, const char *digest)
{
    if (kiln_oci_digest_validate(digest, NULL) < 0 || strncmp(digest, "sha256:", 7) != 0)
        return NULL;
    _cleanup_free_ char *dir = dir_of(store_dir);
    return kiln_xasprintf("%s/%s.json", dir, digest + 7);
}

/* Drops the least recently used indexes past KILND_CONTEXT_INDEXES_MAX. */
static void evict(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct old {
        char name[80];
        struct timespec used;
    } *v = NULL;
    size_t n = 0, alloc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        size_t len = strlen(de->d_name);
        if (len < 6 || len >= sizeof(v->name) || strcmp(de->d_name + len - 5, ".json") != 0 ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        KILN_GROW(v, alloc, n + 1);
        memcpy(v[n].name, de->d_name, len + 1); /* len < sizeof(name): checked above */
        v[n++].used = st.st_mtim;
    }
    while (n > KILND_CONTEXT_INDEXES_MAX) {
        size_t oldest = 0;
        for (size_t i = 1; i < n; i++)
            if (v[i].used.tv_sec < v[oldest].used.tv_sec ||
                (v[i].used.tv_sec == v[oldest].used.tv_sec &&
                 v[i].used.tv_nsec < v[oldest].used.tv_nsec))
                oldest = i;
        unlinkat(dirfd(d), v[oldest].name, 0);
        v[oldest] = v[--n];
    }
    free(v);
    closedir(d);
}

int kilnd_context_index_save(const char *store_dir, json_t *entries,
                             char ret_digest[KILN_OCI_DIGEST_MAX], struct kiln_error **err)
{
    _cleanup_free_ char *text = json_dumps(entries, JSON_COMPACT);
    if (!text)
        return kiln_error_set(err, -ENOMEM, "cannot write the context's index");
    size_t len = strlen(text);
    int r = kiln_oci_digest_bytes(KILN_OCI_SHA256, text, len, ret_digest, err);
    if (r < 0)
        return r;
    if (kilnd_context_index_known(store_dir, ret_digest))
        return 0;
    _cleanup_free_ char *dir = dir_of(store_dir);
    _cleanup_free_ char *path = kilnd_context_index_path(store_dir, ret_digest);
    if ((r = kiln_mkdir_p(dir, 0700, err)) < 0)
        return r;
    if (!kilnd_context_write_file(path, text, len))
        return kiln_error_set_errno(err, -errno, "cannot keep the context's index in '%s'", dir);
    evict(dir);
    return 0;
}

bool kilnd_context_index_known(const char *store_dir, const char *digest)
{
    _cleanup_free_ char *path = kilnd_context_index_path(store_dir, digest);
    return path && utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW) == 0;
}

int kilnd_context_index_load(const char *store_dir, const char *digest, json_t **ret,
                             struct kiln_error **err)
{
    _cleanup_free_ char *path = kilnd_context_index_path(store_dir, digest);
    struct kiln_buf b = KILN_BUF_INIT(KILND_CONTEXT_INDEX_FILE_MAX);
    int r = path ? kiln_buf_read_file(&b, path) : -ENOENT;
    json_t *j = r >= 0 ? json_loadb(b.buf, b.len, 0, NULL) : NULL;
    kiln_buf_release(&b);
    if (!json_is_array(j)) {
        json_decref(j);
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "the builder no longer has the context's index %s: run the build "
                              "again",
                              digest);
    }
    *ret = j;
    return 0;
}

void kilnd_context_indexes_prune(const char *store_dir)
{
    _cleanup_free_ char *dir = dir_of(store_dir);
    (void)kiln_oci_remove_at(AT_FDCWD, dir, NULL);
}
