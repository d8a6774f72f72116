/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-prefetch.c - a kept context read ahead into the page cache
 * (docs/internals/context-sync.md).
 */
#include "context-prefetch.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/strv.h"
#include "context-slot.h"

#include "base/banned.h"

#define PREFETCH_THREADS 4
#define PREFETCH_DEPTH   64

static atomic_uint running;

struct prefetch {
    char *tree;
    struct kiln_strv tops; /* the tree's entries, shared out among the threads */
    atomic_size_t next;
    atomic_uint_fast64_t bytes;
    atomic_uint threads;
};

/* Reads dfd's entries ahead, files without following links, directories depth first. */
static void read_ahead(struct prefetch *p, int dfd, const char *name, unsigned depth)
{
    if (depth > PREFETCH_DEPTH || atomic_load(&p->bytes) > KILND_PREFETCH_BYTES_MAX)
        return;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return;
    }
    if (S_ISREG(st.st_mode)) {
        atomic_fetch_add(&p->bytes, (uint64_t)st.st_size);
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
        close(fd);
        return;
    }
    DIR *d = S_ISDIR(st.st_mode) ? fdopendir(fd) : NULL;
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            read_ahead(p, dirfd(d), de->d_name, depth + 1);
    closedir(d);
}

/* One thread of p ends: the last frees p. */
static void done(struct prefetch *p)
{
    if (atomic_fetch_sub(&p->threads, 1) != 1)
        return;
    kiln_strv_release(&p->tops);
    free(p->tree);
    free(p);
    atomic_fetch_sub(&running, 1);
}

static void *worker(void *arg)
{
    struct prefetch *p = arg;
    int root = open(p->tree, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    for (size_t i; root >= 0 && (i = atomic_fetch_add(&p->next, 1)) < p->tops.n;)
        read_ahead(p, root, p->tops.v[i], 1);
    if (root >= 0)
        close(root);
    done(p);
    return NULL;
}

void kilnd_context_prefetch(const char *store_dir, const char *hint)
{
    _cleanup_free_ char *slot = kilnd_context_slot_find(store_dir, hint, NULL);
    char *tree = slot ? kiln_xasprintf("%s/tree", slot) : NULL;
    DIR *d = tree ? opendir(tree) : NULL;
    if (d && atomic_fetch_add(&running, 1) >= KILND_PREFETCH_RUNNING_MAX) {
        atomic_fetch_sub(&running, 1);
        closedir(d);
        d = NULL;
    }
    if (!d) {
        free(tree);
        return;
    }
    struct prefetch *p = kiln_xcalloc(1, sizeof(*p));
    p->tree = tree;
    p->tops = (struct kiln_strv)KILN_STRV_INIT;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            kiln_strv_push(&p->tops, de->d_name);
    closedir(d);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_store(&p->threads, PREFETCH_THREADS);
    for (unsigned i = 0; i < PREFETCH_THREADS; i++) {
        pthread_t t;
        if (pthread_create(&t, &attr, worker, p) != 0)
            done(p); /* the threads started share the work */
    }
    pthread_attr_destroy(&attr);
}
