/* SPDX-License-Identifier: Apache-2.0 */
/*
 * events.c - a build's event log and its followers (docs/internals/server.md).
 */
#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"

#include "base/banned.h"

struct kilnd_events {
    pthread_mutex_t lock;
    pthread_cond_t grew;
    int fd; /* O_APPEND */
    char *path;
    off_t size; /* bytes written so far */
    bool done;
    unsigned refs;
};

struct kilnd_events_reader {
    struct kilnd_events *ev;
    int fd;
    off_t pos;
};

int kilnd_events_open(const char *path, bool done, struct kilnd_events **ret,
                      struct kiln_error **err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open the event log '%s'", path);
    struct kilnd_events *ev = kiln_xcalloc(1, sizeof(*ev));
    pthread_mutex_init(&ev->lock, NULL);
    pthread_cond_init(&ev->grew, NULL);
    ev->fd = fd;
    ev->path = kiln_xstrdup(path);
    ev->size = lseek(fd, 0, SEEK_END);
    ev->done = done;
    ev->refs = 1;
    *ret = ev;
    return 0;
}

struct kilnd_events *kilnd_events_ref(struct kilnd_events *ev)
{
    pthread_mutex_lock(&ev->lock);
    ev->refs++;
    pthread_mutex_unlock(&ev->lock);
    return ev;
}

void kilnd_events_unref(struct kilnd_events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->lock);
    bool last = --ev->refs == 0;
    pthread_mutex_unlock(&ev->lock);
    if (!last)
        return;
    close(ev->fd);
    free(ev->path);
    pthread_mutex_destroy(&ev->lock);
    pthread_cond_destroy(&ev->grew);
    free(ev);
}

void kilnd_events_append(struct kilnd_events *ev, const char *line, size_t len)
{
    if (len > KILND_EVENT_LINE_MAX)
        len = KILND_EVENT_LINE_MAX;
    struct iovec iov[2] = {{(void *)line, len}, {(void *)"\n", 1}};
    pthread_mutex_lock(&ev->lock);
    ssize_t n = writev(ev->fd, iov, 2);
    if (n > 0)
        ev->size += n;
    pthread_cond_broadcast(&ev->grew);
    pthread_mutex_unlock(&ev->lock);
}

void kilnd_events_append_json(struct kilnd_events *ev, void *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (s)
        kilnd_events_append(ev, s, strlen(s));
    free(s);
    json_decref(j);
}

void kilnd_events_finish(struct kilnd_events *ev)
{
    pthread_mutex_lock(&ev->lock);
    ev->done = true;
    pthread_cond_broadcast(&ev->grew);
    pthread_mutex_unlock(&ev->lock);
}

struct kilnd_events_reader *kilnd_events_follow(struct kilnd_events *ev)
{
    int fd = open(ev->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct kilnd_events_reader *rd = kiln_xcalloc(1, sizeof(*rd));
    rd->ev = kilnd_events_ref(ev);
    rd->fd = fd;
    return rd;
}

ssize_t kilnd_events_read(struct kilnd_events_reader *rd, char *buf, size_t max)
{
    struct kilnd_events *ev = rd->ev;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += KILND_EVENT_HEARTBEAT_S;
    pthread_mutex_lock(&ev->lock);
    int rc = 0;
    while (rd->pos >= ev->size && !ev->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&ev->grew, &ev->lock, &until);
    off_t size = ev->size;
    pthread_mutex_unlock(&ev->lock);
    if (rd->pos >= size && rc == ETIMEDOUT && max > 0) {
        buf[0] = '\n'; /* a heartbeat: an empty line tells a gone client from a quiet build */
        return 1;
    }
    if (rd->pos >= size)
        return 0;
    size_t want = (size_t)(size - rd->pos) < max ? (size_t)(size - rd->pos) : max;
    ssize_t n;
    do
        n = pread(rd->fd, buf, want, rd->pos);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -1;
    rd->pos += n;
    return n;
}

void kilnd_events_reader_free(struct kilnd_events_reader *rd)
{
    if (!rd)
        return;
    close(rd->fd);
    kilnd_events_unref(rd->ev);
    free(rd);
}
