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
#include "context-sync.h"
#include "oci/whiteout.h"

#include "base/banned.h"

#define INDEX_MAX (256u << 20)

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
 * The slot's last index, set aside (index.json.prev) until the sync succeeds,
 * so a sync cut short leaves no index and the next build starts empty; NULL:
 * start empty.
 */
static json_t *take_previous(struct kilnd_context_slot *slot)
{
    _cleanup_free_ char *path = kiln_xasprintf("%s/index.json", slot->dir);
    _cleanup_free_ char *prev = kiln_xasprintf("%s/index.json.prev", slot->dir);
    if (rename(path, prev) < 0)
        return NULL;
    json_t *j = json_load_file(prev, 0, NULL);
    if (json_is_array(j))
        return j;
    json_decref(j);
    return NULL;
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
    slot->previous = take_previous(slot);
    int r = 0;
    if (!slot->previous) {
        (void)kiln_oci_remove_at(AT_FDCWD, slot->tree, NULL);
        if (mkdir(slot->tree, 0755) < 0)
            r = kiln_error_set_errno(err, -errno, "cannot create '%s'", slot->tree);
    }
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

int kilnd_context_slot_sync(struct kilnd_context_slot *slot, struct kiln_store *s, json_t *entries,
                            struct kiln_error **err)
{
    _cleanup_free_ char *prev = kiln_xasprintf("%s/index.json.prev", slot->dir);
    _cleanup_free_ char *path = kiln_xasprintf("%s/index.json", slot->dir);
    if (slot->previous && json_equal(slot->previous, entries)) {
        /* the same context again (a CI rerun, a fresh clone): nothing to write */
        int r = kilnd_context_check(entries, err);
        if (r >= 0 && rename(prev, path) < 0)
            unlink(prev);
        return r;
    }
    int r = kilnd_context_materialize(s, entries, slot->previous, slot->tree, err);
    unlink(prev);
    if (r < 0)
        return r;
    _cleanup_free_ char *tmp = kiln_xasprintf("%s/index.json.tmp", slot->dir);
    if (json_dump_file(entries, tmp, JSON_COMPACT) < 0 || rename(tmp, path) < 0)
        unlink(tmp); /* the next build starts from an empty tree: slower, not wrong */
    return 0;
}

void kilnd_context_slot_free(struct kilnd_context_slot *slot)
{
    if (!slot)
        return;
    if (slot->lock_fd >= 0)
        close(slot->lock_fd);
    json_decref(slot->previous);
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
        _cleanup_free_ char *tree = kiln_xasprintf("%s/tree", dir);
        unlink(index);
        unlink(prev);
        (void)kiln_oci_remove_at(AT_FDCWD, tree, NULL);
        close(fd);
        free(dir);
    }
}
