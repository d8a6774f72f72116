/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hash-cache.c - file digests by path and metadata (docs/internals/copy.md).
 *
 * File format, one entry per line:
 *   dev ino size mtime_ns ctime_ns mode sha256:hex path\n
 * Paths with a newline are not remembered.
 */
#include "hash-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/path.h"

#include "base/banned.h"

struct entry {
    char *path; /* NULL: an empty slot; inside `text` or owned */
    uint64_t hash;
    uint64_t dev, ino, size, mode;
    int64_t mtime, ctime;
    uint8_t sha256[32];
};

struct kiln_hash_cache {
    char *path;
    pthread_mutex_t lock;
    struct entry *slots; /* open addressing with linear probing, at most half full */
    size_t n, cap;
    char *text; /* the loaded file: the paths of loaded entries point into it */
    size_t text_len;
    bool dirty;
};

/* FNV-1a, then murmur3's finalizer so the low bits of similar paths differ. */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

static struct entry *slot(struct kiln_hash_cache *c, const char *path, uint64_t hash)
{
    size_t i = hash & (c->cap - 1);
    while (c->slots[i].path && (c->slots[i].hash != hash || strcmp(c->slots[i].path, path) != 0))
        i = (i + 1) & (c->cap - 1);
    return &c->slots[i];
}

static void free_path(struct kiln_hash_cache *c, char *path)
{
    if (path && (path < c->text || path >= c->text + c->text_len))
        free(path);
}

static void hex_decode(const char *hex, uint8_t out[32])
{
    for (size_t i = 0; i < 32; i++) {
        unsigned hi = (unsigned)(hex[2 * i] <= '9' ? hex[2 * i] - '0' : hex[2 * i] - 'a' + 10);
        unsigned lo = (unsigned)(hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0'
                                                       : hex[2 * i + 1] - 'a' + 10);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
}

static void digest_of(const uint8_t sha[32], char out[KILN_OCI_DIGEST_MAX])
{
    static const char x[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (size_t i = 0; i < 32; i++) {
        out[7 + 2 * i] = x[sha[i] >> 4];
        out[8 + 2 * i] = x[sha[i] & 15];
    }
    out[71] = '\0';
}

static void grow(struct kiln_hash_cache *c)
{
    struct entry *old = c->slots;
    size_t old_cap = c->cap;
    c->cap = c->cap ? c->cap * 2 : 1024;
    c->slots = kiln_xcalloc(c->cap, sizeof(*c->slots));
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].path)
            *slot(c, old[i].path, old[i].hash) = old[i];
    free(old);
}

static void insert(struct kiln_hash_cache *c, const struct entry *e)
{
    if ((c->n + 1) * 2 > c->cap)
        grow(c);
    struct entry *s = slot(c, e->path, e->hash);
    if (s->path) {
        free_path(c, s->path);
        c->n--;
    }
    *s = *e;
    c->n++;
}

/* Reads one space-terminated number at *p. */
static bool field(char **p, bool is_signed, uint64_t *ret)
{
    char *end;
    errno = 0;
    *ret = is_signed ? (uint64_t)strtoll(*p, &end, 10) : strtoull(*p, &end, 10);
    if (end == *p || *end != ' ' || errno)
        return false;
    *p = end + 1;
    return true;
}

/* Parses one line (NUL-terminated, without its newline) into e; false for a bad line. */
static bool parse_line(char *line, struct entry *e)
{
    char *p = line;
    uint64_t mtime, ctime;
    if (!field(&p, false, &e->dev) || !field(&p, false, &e->ino) || !field(&p, false, &e->size) ||
        !field(&p, true, &mtime) || !field(&p, true, &ctime) || !field(&p, false, &e->mode))
        return false;
    e->mtime = (int64_t)mtime;
    e->ctime = (int64_t)ctime;
    if (strncmp(p, "sha256:", 7) != 0 || strspn(p + 7, "0123456789abcdef") != 64 || p[71] != ' ' ||
        !p[72])
        return false;
    hex_decode(p + 7, e->sha256);
    e->path = p + 72;
    e->hash = hash_str(e->path);
    return true;
}

static void load(struct kiln_hash_cache *c)
{
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > KILN_HASH_CACHE_FILE_MAX) {
        close(fd);
        return;
    }
    size_t len = (size_t)st.st_size, got = 0;
    char *text = kiln_xmalloc(len + 1);
    while (got < len) {
        ssize_t n = read(fd, text + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    c->text = text; /* before any insert: a duplicate path frees the older entry's */
    c->text_len = len + 1;
    while (c->cap < got / 50) /* about 100 bytes a line, the table kept half empty */
        grow(c);
    for (char *line = text, *nl; line < text + got && c->n < KILN_HASH_CACHE_MAX; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(text + got - line));
        if (!nl)
            break; /* a torn last line */
        *nl = '\0';
        struct entry e = {0};
        if (!parse_line(line, &e))
            continue;
        insert(c, &e);
    }
}

int kiln_hash_cache_open(const char *path, struct kiln_hash_cache **ret, struct kiln_error **err)
{
    struct kiln_hash_cache *c = kiln_xcalloc(1, sizeof(*c));
    c->path = kiln_xstrdup(path);
    pthread_mutex_init(&c->lock, NULL);
    grow(c);
    load(c);
    *ret = c;
    return 0;
}

static int64_t ns(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static bool same(const struct entry *e, const struct stat *st)
{
    return e->dev == (uint64_t)st->st_dev && e->ino == (uint64_t)st->st_ino &&
           e->size == (uint64_t)st->st_size && e->mode == (uint64_t)st->st_mode &&
           e->mtime == ns(st->st_mtim) && e->ctime == ns(st->st_ctim);
}

bool kiln_hash_cache_get(struct kiln_hash_cache *c, const char *path, const struct stat *st,
                         char ret[KILN_OCI_DIGEST_MAX])
{
    if (!c)
        return false;
    pthread_mutex_lock(&c->lock);
    struct entry *e = slot(c, path, hash_str(path));
    bool hit = e->path && same(e, st);
    if (hit)
        digest_of(e->sha256, ret);
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void kiln_hash_cache_put(struct kiln_hash_cache *c, const char *path, const struct stat *st,
                         const char *digest)
{
    if (!c || strchr(path, '\n') || strncmp(digest, "sha256:", 7) != 0 ||
        strspn(digest + 7, "0123456789abcdef") != 64 || digest[71])
        return;
    struct entry e = {.dev = (uint64_t)st->st_dev,
                      .ino = (uint64_t)st->st_ino,
                      .size = (uint64_t)st->st_size,
                      .mode = (uint64_t)st->st_mode,
                      .mtime = ns(st->st_mtim),
                      .ctime = ns(st->st_ctim)};
    hex_decode(digest + 7, e.sha256);
    e.hash = hash_str(path);
    pthread_mutex_lock(&c->lock);
    if (c->n < KILN_HASH_CACHE_MAX) {
        e.path = kiln_xstrdup(path);
        insert(c, &e);
        c->dirty = true;
    }
    pthread_mutex_unlock(&c->lock);
}

int kiln_hash_cache_save(struct kiln_hash_cache *c, struct kiln_error **err)
{
    if (!c || !c->dirty)
        return 0;
    _cleanup_free_ char *tmp = kiln_xasprintf("%s.tmp-XXXXXX", c->path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot write '%s'", c->path);
    FILE *f = fdopen(fd, "w");
    int r = 0;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->cap && r == 0; i++) {
        const struct entry *e = &c->slots[i];
        char digest[KILN_OCI_DIGEST_MAX];
        if (!e->path)
            continue;
        digest_of(e->sha256, digest);
        if (fprintf(f,
                    "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %" PRIu64
                    " %s %s\n",
                    e->dev, e->ino, e->size, e->mtime, e->ctime, e->mode, digest, e->path) < 0)
            r = -EIO;
    }
    pthread_mutex_unlock(&c->lock);
    if (r == 0 && (fflush(f) != 0 || fsync(fd) < 0))
        r = -errno;
    fclose(f);
    if (r == 0 && rename(tmp, c->path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return kiln_error_set_errno(err, r, "cannot write '%s'", c->path);
    }
    c->dirty = false;
    return 0;
}

void kiln_hash_cache_free(struct kiln_hash_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->cap; i++)
        free_path(c, c->slots[i].path);
    free(c->slots);
    free(c->text);
    free(c->path);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int kiln_hash_cache_open_for(const char *cache_dir, const char *context_dir,
                             struct kiln_hash_cache **ret, struct kiln_error **err)
{
    char abs[PATH_MAX];
    if (!realpath(context_dir, abs))
        return kiln_error_set_errno(err, -errno, "build context '%s'", context_dir);
    char d[KILN_OCI_DIGEST_MAX];
    int r = kiln_oci_digest_bytes(KILN_OCI_SHA256, abs, strlen(abs), d, err);
    if (r >= 0)
        r = kiln_mkdir_p(cache_dir, 0700, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *path = kiln_xasprintf("%s/%s", cache_dir, d + strlen("sha256:"));
    return kiln_hash_cache_open(path, ret, err);
}
