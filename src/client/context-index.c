/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-index.c - the ENTRY array of a build context: a walk through
 * .dockerignore, then the regular files hashed on two threads.
 */
#include "context-index.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/strv.h"
#include "context/ignore-file.h"
#include "context/walk.h"
#include "engine/hash-cache.h"
#include "oci/digest.h"

#include "base/banned.h"

#define HASH_THREADS 2

struct collect {
    int ctxfd;
    json_t *entries;
    const char **files; /* the regular files' paths (owned by their entries) */
    size_t *file_entry; /* the index in entries of each */
    struct stat *stats; /* and its stat from the walk */
    size_t nfiles, alloc, alloc2, alloc3;
    struct kiln_error **err;
};

int kiln_context_index_open_file(int ctxfd, const char *path, struct kiln_error **err)
{
    struct open_how how = {
            .flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
    };
    long fd;
    do
        fd = syscall(SYS_openat2, ctxfd, path, &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open '%s' in the build context", path);
    struct stat st;
    int r = fstat((int)fd, &st) < 0 ? -errno : 0;
    if (r < 0 || !S_ISREG(st.st_mode)) {
        close((int)fd);
        return r < 0 ? kiln_error_set_errno(err, r, "cannot read '%s'", path)
                     : kiln_error_set(err, KILN_E_INVALID,
                                      "'%s' is no longer a regular file: run the build again",
                                      path);
    }
    return (int)fd;
}

static int read_link(int ctxfd, const char *path, char *target, size_t size,
                     struct kiln_error **err)
{
    struct open_how how = {
            .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
    };
    _cleanup_close_ int fd = (int)syscall(SYS_openat2, ctxfd, path, &how, sizeof(how));
    ssize_t n = fd < 0 ? -1 : readlinkat(fd, "", target, size);
    if (n < 0)
        return kiln_error_set_errno(err, -errno, "cannot read link '%s' in the build context",
                                    path);
    if ((size_t)n >= size)
        return kiln_error_set(err, KILN_E_LIMIT, "link '%s' has a target longer than %zu bytes",
                              path, size - 1);
    target[n] = '\0';
    return 0;
}

static int add_entry(const char *path, const struct stat *st, void *userdata)
{
    struct collect *c = userdata;
    if (json_array_size(c->entries) >= KILN_CONTEXT_INDEX_ENTRIES_MAX)
        return kiln_error_set(c->err, KILN_E_LIMIT,
                              "the build context has more than %u entries: exclude some in "
                              ".dockerignore",
                              KILN_CONTEXT_INDEX_ENTRIES_MAX);
    if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode) && !S_ISLNK(st->st_mode))
        return kiln_error_set(c->err, KILN_E_INVALID,
                              "'/%s' in the build context is a device, fifo or socket: "
                              "exclude it in .dockerignore",
                              path);
    int64_t mtime = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    json_t *e = json_pack("{s:s, s:I, s:I, s:I}", "path", path, "mode", (json_int_t)st->st_mode,
                          "size", (json_int_t)(S_ISDIR(st->st_mode) ? 0 : st->st_size), "mtime",
                          (json_int_t)mtime);
    if (!e)
        return kiln_error_set(c->err, KILN_E_INVALID, "'%s' is not valid UTF-8: rename it", path);
    if (S_ISLNK(st->st_mode)) {
        char target[PATH_MAX];
        int r = read_link(c->ctxfd, path, target, sizeof(target), c->err);
        if (r < 0) {
            json_decref(e);
            return r;
        }
        json_object_set_new(e, "link", json_string(target));
    }
    if (S_ISREG(st->st_mode)) {
        KILN_GROW(c->files, c->alloc, c->nfiles + 1);
        KILN_GROW(c->file_entry, c->alloc2, c->nfiles + 1);
        KILN_GROW(c->stats, c->alloc3, c->nfiles + 1);
        c->stats[c->nfiles] = *st;
        c->files[c->nfiles] = json_string_value(json_object_get(e, "path"));
        c->file_entry[c->nfiles++] = json_array_size(c->entries);
    }
    json_array_append_new(c->entries, e);
    return 0;
}

struct hasher {
    int ctxfd;
    struct kiln_hash_cache
            *cache; /* digests of files unchanged since the last build; may be NULL */
    const char **files;
    const size_t *todo; /* the files to hash: those the cache does not know */
    size_t n;
    char (*digests)[KILN_OCI_DIGEST_MAX];
    uint64_t *sizes;
    atomic_size_t next;
    atomic_bool failed;
    pthread_mutex_t lock;
    int r;                /* the first failure */
    struct kiln_error *e; /* and its message */
};

static int hash_file(struct kiln_hash_cache *cache, int ctxfd, const char *path,
                     unsigned char *block, char ret[KILN_OCI_DIGEST_MAX], uint64_t *ret_size,
                     struct kiln_error **err)
{
    struct stat st;
    _cleanup_close_ int fd = kiln_context_index_open_file(ctxfd, path, err);
    if (fd < 0)
        return fd;
    bool known = cache && fstat(fd, &st) == 0;
    struct kiln_oci_digester d;
    int r = kiln_oci_digester_init(&d, KILN_OCI_SHA256, err);
    uint64_t size = 0;
    while (r >= 0) {
        ssize_t n = read(fd, block, KILN_CONTEXT_INDEX_BLOCK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            r = kiln_error_set_errno(err, -errno, "cannot read '%s'", path);
        else if (n == 0)
            break;
        else
            r = kiln_oci_digester_update(&d, block, (size_t)n, err);
        size += n > 0 ? (uint64_t)n : 0;
    }
    if (r >= 0)
        r = kiln_oci_digester_final(&d, ret, err);
    kiln_oci_digester_release(&d);
    if (r >= 0)
        *ret_size = size;
    if (r >= 0 && known && (uint64_t)st.st_size == size)
        kiln_hash_cache_put(cache, path, &st, ret);
    return r;
}

static void *hash_files(void *arg)
{
    struct hasher *h = arg;
    _cleanup_free_ unsigned char *block = kiln_xmalloc(KILN_CONTEXT_INDEX_BLOCK);
    for (;;) {
        size_t k = atomic_fetch_add(&h->next, 1);
        if (k >= h->n || atomic_load(&h->failed))
            break;
        size_t i = h->todo[k];
        struct kiln_error *e = NULL;
        int r = hash_file(h->cache, h->ctxfd, h->files[i], block, h->digests[i], &h->sizes[i], &e);
        if (r < 0) {
            pthread_mutex_lock(&h->lock);
            if (!atomic_exchange(&h->failed, true)) {
                h->r = r;
                h->e = TAKE_PTR(e);
            }
            pthread_mutex_unlock(&h->lock);
            kiln_error_free(e);
            break;
        }
    }
    return NULL;
}

/*
 * The digests kiln remembers for this context, in $XDG_CACHE_HOME/kiln/contexts
 * (else ~/.cache/kiln/contexts), keyed as the engine's hash cache is (path,
 * inode, size, times, mode): a file not touched since the last build is not
 * read again. NULL without a cache directory or when it cannot be opened.
 */
static struct kiln_hash_cache *open_cache(const char *context_dir)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    _cleanup_free_ char *dir = xdg && *xdg     ? kiln_xasprintf("%s/kiln/contexts", xdg)
                               : home && *home ? kiln_xasprintf("%s/.cache/kiln/contexts", home)
                                               : NULL;
    struct kiln_hash_cache *c = NULL;
    if (dir && kiln_hash_cache_open_for(dir, context_dir, &c, NULL) < 0)
        c = NULL;
    return c;
}

/* Hashes c's files, HASH_THREADS at a time, into their entries. */
static int hash_all(struct collect *c, struct kiln_hash_cache *cache, uint64_t *ret_bytes,
                    struct kiln_error **err)
{
    _cleanup_free_ size_t *todo = kiln_xcalloc(c->nfiles + 1, sizeof(size_t));
    struct hasher h = {
            .ctxfd = c->ctxfd,
            .cache = cache,
            .files = c->files,
            .todo = todo,
            .digests = kiln_xcalloc(c->nfiles + 1, KILN_OCI_DIGEST_MAX),
            .sizes = kiln_xcalloc(c->nfiles + 1, sizeof(uint64_t)),
            .lock = PTHREAD_MUTEX_INITIALIZER,
    };
    /* the walk's stat answers for files unchanged since the last build; threads hash the rest */
    for (size_t i = 0; i < c->nfiles; i++) {
        if (cache && kiln_hash_cache_get(cache, c->files[i], &c->stats[i], h.digests[i]))
            h.sizes[i] = (uint64_t)c->stats[i].st_size;
        else
            todo[h.n++] = i;
    }
    pthread_t t[HASH_THREADS - 1];
    size_t started = 0;
    for (; h.n > 1 && started < ELEMENTSOF(t); started++)
        if (pthread_create(&t[started], NULL, hash_files, &h) != 0)
            break;
    hash_files(&h);
    for (size_t i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    uint64_t bytes = 0;
    for (size_t i = 0; !h.failed && i < c->nfiles; i++) {
        json_t *e = json_array_get(c->entries, c->file_entry[i]);
        json_object_set_new(e, "size", json_integer((json_int_t)h.sizes[i]));
        json_object_set_new(e, "digest", json_string(h.digests[i]));
        bytes += h.sizes[i];
    }
    free(h.digests);
    free(h.sizes);
    pthread_mutex_destroy(&h.lock);
    if (h.failed) {
        if (err) {
            kiln_error_free(*err);
            *err = h.e;
        } else {
            kiln_error_free(h.e);
        }
        return h.r;
    }
    *ret_bytes = bytes;
    return 0;
}

static int read_filter(const char *context_dir, struct kiln_ignore **ret, struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv pats = KILN_STRV_INIT;
    _cleanup_free_ char *dockerfile = kiln_xasprintf("%s/Dockerfile", context_dir);
    int r = kiln_context_read_ignore(context_dir, dockerfile, &pats, NULL, err);
    if (r < 0)
        return r;
    *ret = NULL;
    return pats.n ? kiln_ignore_new(pats.v, pats.n, ret, err) : 0;
}

int kiln_context_index_build(const char *context_dir, json_t **ret_entries,
                             struct kiln_context_index_stats *stats, struct kiln_error **err)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    _cleanup_(kiln_ignore_freep) struct kiln_ignore *exclude = NULL;
    int r = read_filter(context_dir, &exclude, err);
    if (r < 0)
        return r;
    _cleanup_close_ int ctxfd = open(context_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ctxfd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open the build context '%s'", context_dir);
    struct collect c = {.ctxfd = ctxfd, .entries = json_array(), .err = err};
    struct kiln_walk_filter filter = {exclude, NULL};
    uint64_t bytes = 0;
    r = kiln_context_walk(context_dir, &filter, add_entry, &c, err);
    _cleanup_(kiln_hash_cache_freep) struct kiln_hash_cache *cache =
            r >= 0 ? open_cache(context_dir) : NULL;
    if (r >= 0)
        r = hash_all(&c, cache, &bytes, err);
    if (r >= 0)
        (void)kiln_hash_cache_save(cache, NULL); /* a cache not written is only slower */
    free(c.files);
    free(c.file_entry);
    free(c.stats);
    if (r < 0) {
        json_decref(c.entries);
        return r;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (stats)
        *stats = (struct kiln_context_index_stats){
                .entries = json_array_size(c.entries),
                .files = c.nfiles,
                .bytes = bytes,
                .nsec = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
                                   (t1.tv_nsec - t0.tv_nsec)),
        };
    *ret_entries = c.entries;
    return 0;
}
