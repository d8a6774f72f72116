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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"

#include "base/banned.h"

struct entry {
    char *path;
    uint64_t dev, ino, size, mode;
    int64_t mtime, ctime;
    char digest[KILN_OCI_DIGEST_MAX];
};

struct kiln_hash_cache {
    char *path;
    pthread_mutex_t lock;
    struct entry *slots; /* open addressing, NULL path = empty */
    size_t n, cap;
    bool dirty;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct entry *slot(struct kiln_hash_cache *c, const char *path)
{
    size_t i = hash_str(path) & (c->cap - 1);
    while (c->slots[i].path && strcmp(c->slots[i].path, path) != 0)
        i = (i + 1) & (c->cap - 1);
    return &c->slots[i];
}

static void grow(struct kiln_hash_cache *c)
{
    struct entry *old = c->slots;
    size_t old_cap = c->cap;
    c->cap = c->cap ? c->cap * 2 : 1024;
    c->slots = kiln_xcalloc(c->cap, sizeof(*c->slots));
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].path)
            *slot(c, old[i].path) = old[i];
    free(old);
}

static void insert(struct kiln_hash_cache *c, const struct entry *e)
{
    if ((c->n + 1) * 2 > c->cap)
        grow(c);
    struct entry *s = slot(c, e->path);
    if (s->path) {
        free(s->path);
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
    memcpy(e->digest, p, 71);
    e->digest[71] = '\0';
    e->path = p + 72;
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
        e.path = kiln_xstrdup(e.path);
        insert(c, &e);
    }
    free(text);
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
    struct entry *e = slot(c, path);
    bool hit = e->path && same(e, st);
    if (hit)
        memcpy(ret, e->digest, KILN_OCI_DIGEST_MAX);
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void kiln_hash_cache_put(struct kiln_hash_cache *c, const char *path, const struct stat *st,
                         const char *digest)
{
    if (!c || strchr(path, '\n'))
        return;
    struct entry e = {.dev = (uint64_t)st->st_dev,
                      .ino = (uint64_t)st->st_ino,
                      .size = (uint64_t)st->st_size,
                      .mode = (uint64_t)st->st_mode,
                      .mtime = ns(st->st_mtim),
                      .ctime = ns(st->st_ctim)};
    snprintf(e.digest, sizeof(e.digest), "%s", digest);
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
        if (e->path &&
            fprintf(f,
                    "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %" PRIu64
                    " %s %s\n",
                    e->dev, e->ino, e->size, e->mtime, e->ctime, e->mode, e->digest, e->path) < 0)
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
        free(c->slots[i].path);
    free(c->slots);
    free(c->path);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
