/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-slot.c - build contexts kept between builds (docs/internals/context-sync.md).
 */
#include "context-slot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "context-delta.h"
#include "context-indexes.h"
#include "context-sync.h"
#include "engine/hash-cache.h"
#include "oci/digest.h"
#include "oci/whiteout.h"

#include "base/banned.h"

static bool hint_is(const char *dir, const char *hint)
{
    _cleanup_free_ char *path = kiln_xasprintf("%s/hint", dir);
    struct kiln_buf b = KILN_BUF_INIT(KILND_CONTEXT_HINT_MAX);
    bool same = kiln_buf_read_file(&b, path) >= 0 && strcmp(b.buf, hint) == 0;
    kiln_buf_release(&b);
    return same;
}

/* Locks slot n of root; -1 when another build holds it. */
static int try_lock(const char *root, unsigned n, char **ret_dir)
{
    char *dir = kiln_xasprintf("%s/%u", root, n);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        free(dir);
        return -1;
    }
    _cleanup_free_ char *lock = kiln_xasprintf("%s/lock", dir);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (fd >= 0)
            close(fd);
        free(dir);
        return -1;
    }
    *ret_dir = dir;
    return fd;
}

/*
 * Sets the slot's last index aside (index.json.prev) until the sync succeeds,
 * so a sync cut short leaves no index and the next build starts empty, and
 * reads the digest it was written with.
 */
static void take_previous(struct kilnd_context_slot *slot)
{
    _cleanup_free_ char *path = kiln_xasprintf("%s/index.json", slot->dir);
    _cleanup_free_ char *prev = kiln_xasprintf("%s/index.json.prev", slot->dir);
    _cleanup_free_ char *digest = kiln_xasprintf("%s/index.sha256", slot->dir);
    slot->has_previous = rename(path, prev) == 0;
    struct kiln_buf b = KILN_BUF_INIT(sizeof(slot->previous_digest));
    if (slot->has_previous && kiln_buf_read_file(&b, digest) >= 0)
        snprintf(slot->previous_digest, sizeof(slot->previous_digest), "%s", b.buf);
    kiln_buf_release(&b);
}

/* Empties the slot's tree. */
static int empty_tree(struct kilnd_context_slot *slot, struct kiln_error **err)
{
    (void)kiln_oci_remove_at(AT_FDCWD, slot->tree, NULL);
    if (mkdir(slot->tree, 0755) < 0)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", slot->tree);
    return 0;
}

int kilnd_context_slot_take(const char *store_dir, const char *hint,
                            struct kilnd_context_slot **ret, struct kiln_error **err)
{
    _cleanup_free_ char *root = kiln_xasprintf("%s/contexts", store_dir);
    if (mkdir(root, 0700) < 0 && errno != EEXIST)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", root);
    char *dir = NULL;
    int fd = -1;
    for (unsigned pass = 0; pass < 2 && fd < 0; pass++)
        for (unsigned n = 0; n < KILND_CONTEXT_SLOTS_MAX && fd < 0; n++) {
            _cleanup_free_ char *d = kiln_xasprintf("%s/%u", root, n);
            if (pass == 0 && !hint_is(d, hint ? hint : ""))
                continue;
            fd = try_lock(root, n, &dir);
        }
    if (fd < 0)
        return kiln_error_set(err, KILN_E_LIMIT,
                              "more than %d builds of this builder hold a context: wait for one "
                              "to end",
                              KILND_CONTEXT_SLOTS_MAX);
    struct kilnd_context_slot *slot = kiln_xcalloc(1, sizeof(*slot));
    slot->dir = dir;
    slot->lock_fd = fd;
    slot->tree = kiln_xasprintf("%s/tree", dir);
    take_previous(slot);
    int r = slot->has_previous ? 0 : empty_tree(slot, err);
    _cleanup_free_ char *hint_path = kiln_xasprintf("%s/hint", dir);
    FILE *h = r >= 0 ? fopen(hint_path, "we") : NULL;
    if (h) {
        fputs(hint ? hint : "", h);
        fclose(h);
    }
    if (r < 0) {
        kilnd_context_slot_free(slot);
        return r;
    }
    *ret = slot;
    return 0;
}

bool kilnd_context_write_file(const char *path, const char *text, size_t len)
{
    _cleanup_free_ char *tmp = kiln_xasprintf("%s.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = true;
    for (size_t off = 0; ok && off < len;) {
        ssize_t n = write(fd, text + off, len - off);
        ok = n > 0 || (n < 0 && errno == EINTR);
        off += n > 0 ? (size_t)n : 0;
    }
    if (close(fd) != 0)
        ok = false;
    if (ok && rename(tmp, path) == 0)
        return true;
    unlink(tmp);
    return false;
}

/* The slot's index.json: a link to the kept index (never rewritten), else a copy. */
static bool keep_index(const char *path, const char *store_dir, const char *digest, json_t *entries)
{
    _cleanup_free_ char *kept = kilnd_context_index_path(store_dir, digest);
    if (kept && link(kept, path) == 0)
        return true;
    _cleanup_free_ char *text = json_dumps(entries, JSON_COMPACT);
    return text && kilnd_context_write_file(path, text, strlen(text));
}

/*
 * Tells the engine's hash cache of the slot's tree (the one the build opens:
 * STORE/contexts/<sha256 of the tree's path>) the digests of the regular
 * files of `entries` just written or touched, so a COPY does not read them
 * again to learn what the index says (a fresh clone touches every file).
 * Worth it only for many files: a few are hashed faster than the cache is
 * rewritten. The slot's files carry no extended attributes, so the content's
 * sha256 is what the engine would compute.
 */
static void remember_digests(const char *store_dir, const char *tree, json_t *entries)
{
    size_t files = 0;
    json_t *e;
    size_t i;
    json_array_foreach (entries, i, e)
        files += json_object_get(e, "digest") != NULL;
    if (files < KILND_CONTEXT_REMEMBER_MIN)
        return;
    _cleanup_free_ char *dir = kiln_xasprintf("%s/contexts", store_dir);
    _cleanup_(kiln_hash_cache_freep) struct kiln_hash_cache *c = NULL;
    _cleanup_close_ int root = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0 || kiln_hash_cache_open_for(dir, tree, &c, NULL) < 0)
        return;
    json_array_foreach (entries, i, e) {
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *digest = json_string_value(json_object_get(e, "digest"));
        struct stat st;
        if (digest && fstatat(root, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            kiln_hash_cache_put(c, path, &st, digest);
    }
    (void)kiln_hash_cache_save(c, NULL); /* a cache not written is only slower */
}

/*
 * Brings the tree from the index set aside (prev) to the kept index
 * `digest`, comparing the two texts and parsing only the entries that
 * differ; 1 when done, 0 when the texts are not in the shape that allows
 * it (the caller parses both), or an error.
 */
static int sync_delta(struct kilnd_context_slot *slot, struct kiln_store *s, const char *store_dir,
                      const char *prev, const char *kept, struct kiln_error **err)
{
    struct kiln_buf before = KILN_BUF_INIT(KILND_CONTEXT_INDEX_FILE_MAX),
                    now = KILN_BUF_INIT(KILND_CONTEXT_INDEX_FILE_MAX);
    struct kilnd_context_delta delta;
    int r = kiln_buf_read_file(&before, prev) >= 0 && kiln_buf_read_file(&now, kept) >= 0 &&
                            kilnd_context_delta(before.buf, before.len, now.buf, now.len, &delta) ==
                                    0
                    ? 1
                    : 0;
    kiln_buf_release(&before);
    kiln_buf_release(&now);
    if (r == 1) {
        int m = kilnd_context_materialize_delta(s, &delta, slot->tree, err);
        if (m >= 0)
            remember_digests(store_dir, slot->tree, delta.added);
        r = m < 0 ? m : 1;
        kilnd_context_delta_release(&delta);
    }
    return r;
}

int kilnd_context_slot_sync(struct kilnd_context_slot *slot, struct kiln_store *s,
                            const char *store_dir, const char *digest, struct kiln_error **err)
{
    _cleanup_free_ char *prev = kiln_xasprintf("%s/index.json.prev", slot->dir);
    _cleanup_free_ char *path = kiln_xasprintf("%s/index.json", slot->dir);
    _cleanup_free_ char *digest_path = kiln_xasprintf("%s/index.sha256", slot->dir);
    if (slot->has_previous && strcmp(slot->previous_digest, digest) == 0) {
        /* the same context again (a CI rerun, a fresh clone): nothing to read or write */
        if (rename(prev, path) < 0)
            unlink(prev);
        return 0;
    }
    _cleanup_free_ char *kept = kilnd_context_index_path(store_dir, digest);
    json_t *entries = NULL;
    int r = kept && slot->has_previous && kilnd_context_index_known(store_dir, digest)
                    ? sync_delta(slot, s, store_dir, prev, kept, err)
                    : 0;
    if (r == 0)
        r = kilnd_context_index_load(store_dir, digest, &entries, err);
    json_t *previous = r == 0 && slot->has_previous ? json_load_file(prev, 0, NULL) : NULL;
    if (r == 0 && slot->has_previous && !json_is_array(previous)) {
        json_decref(previous);
        previous = NULL;
        r = empty_tree(slot, err);
    }
    if (r == 0)
        r = kilnd_context_materialize(s, entries, previous, slot->tree, err);
    if (r == 0)
        remember_digests(store_dir, slot->tree, entries);
    json_decref(previous);
    unlink(prev);
    unlink(digest_path);
    unlink(path);
    /* a file not written only makes the next build start from an empty tree */
    if (r >= 0 && keep_index(path, store_dir, digest, entries) &&
        !kilnd_context_write_file(digest_path, digest, strlen(digest)))
        unlink(path);
    json_decref(entries);
    return r < 0 ? r : 0;
}

char *kilnd_context_slot_find(const char *store_dir, const char *hint, const char *digest)
{
    for (unsigned n = 0; n < KILND_CONTEXT_SLOTS_MAX; n++) {
        char *d = kiln_xasprintf("%s/contexts/%u", store_dir, n);
        _cleanup_free_ char *index = kiln_xasprintf("%s/index.json", d);
        _cleanup_free_ char *path = kiln_xasprintf("%s/index.sha256", d);
        struct kiln_buf b = KILN_BUF_INIT(KILN_OCI_DIGEST_MAX);
        bool found = hint_is(d, hint ? hint : "") && access(index, F_OK) == 0 &&
                     (!digest || (kiln_buf_read_file(&b, path) >= 0 && strcmp(b.buf, digest) == 0));
        kiln_buf_release(&b);
        if (found)
            return d;
        free(d);
    }
    return NULL;
}

void kilnd_context_slot_free(struct kilnd_context_slot *slot)
{
    if (!slot)
        return;
    if (slot->lock_fd >= 0)
        close(slot->lock_fd);
    free(slot->dir);
    free(slot->tree);
    free(slot);
}

void kilnd_context_slots_prune(const char *store_dir)
{
    _cleanup_free_ char *root = kiln_xasprintf("%s/contexts", store_dir);
    for (unsigned n = 0; n < KILND_CONTEXT_SLOTS_MAX; n++) {
        char *dir = NULL;
        _cleanup_free_ char *d = kiln_xasprintf("%s/%u", root, n);
        if (access(d, F_OK) < 0)
            continue;
        int fd = try_lock(root, n, &dir);
        if (fd < 0)
            continue;
        _cleanup_free_ char *index = kiln_xasprintf("%s/index.json", dir);
        _cleanup_free_ char *prev = kiln_xasprintf("%s/index.json.prev", dir);
        _cleanup_free_ char *digest = kiln_xasprintf("%s/index.sha256", dir);
        _cleanup_free_ char *tree = kiln_xasprintf("%s/tree", dir);
        unlink(index);
        unlink(prev);
        unlink(digest);
        (void)kiln_oci_remove_at(AT_FDCWD, tree, NULL);
        close(fd);
        free(dir);
    }
    kilnd_context_indexes_prune(store_dir);
}
