/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ssh-forward.c - a step's own ssh agent socket, forwarded to the real agent
 * by one thread polling every connection (docs/internals/run-mounts.md).
 */
#include "ssh-forward.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"

#include "base/banned.h"

/* What was read from one side and is still to be written to the other. */
struct half {
    char buf[KILN_SSH_FORWARD_BUF];
    size_t len, off;
    bool eof; /* the side closed its writing end; the other's is shut once flushed */
};

/* fd[0] the step's client, fd[1] the agent; half[i] holds bytes read from fd[i]. */
struct conn {
    int fd[2];
    struct half half[2];
};

struct kiln_ssh_forward {
    int listen_fd;
    int stop_fd; /* an eventfd: written by stop */
    int dir_fd;
    char *name;
    struct sockaddr_un agent;
    pthread_t thread;
    struct conn *conns[KILN_SSH_FORWARD_CONN_MAX];
    size_t n_conns;
};

static void conn_free(struct conn *c)
{
    close(c->fd[0]);
    close(c->fd[1]);
    free(c);
}

/*
 * A new client: its own connection to the agent, or closed at once when the
 * agent refuses or its backlog is full (a non-blocking unix connect never
 * waits: a stuck agent cannot hold the thread past the step's end).
 */
static void accept_one(struct kiln_ssh_forward *f)
{
    int client = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0)
        return;
    int agent = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (agent < 0 || connect(agent, (struct sockaddr *)&f->agent, sizeof(f->agent)) < 0) {
        if (agent >= 0)
            close(agent);
        close(client);
        return;
    }
    struct conn *c = kiln_xcalloc(1, sizeof(*c));
    c->fd[0] = client;
    c->fd[1] = agent;
    f->conns[f->n_conns++] = c;
}

static bool pending(const struct half *h)
{
    return h->off < h->len;
}

/* The events side i waits for: input when its buffer is empty, output when the other's is not. */
static short want(const struct conn *c, int i)
{
    short ev = 0;
    if (!c->half[i].eof && !pending(&c->half[i]))
        ev |= POLLIN;
    if (pending(&c->half[!i]))
        ev |= POLLOUT;
    return ev;
}

/* Moves bytes for side i as poll reported: 0 to go on, -1 when the connection is over. */
static int service(struct conn *c, int i, short revents)
{
    struct half *in = &c->half[i], *out = &c->half[!i];
    if (revents & POLLERR)
        return -1;
    if ((revents & (POLLIN | POLLHUP)) && !in->eof && !pending(in)) {
        ssize_t n = read(c->fd[i], in->buf, sizeof(in->buf));
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (n == 0) {
            in->eof = true;
            shutdown(c->fd[!i], SHUT_WR);
        } else if (n > 0) {
            in->len = (size_t)n;
            in->off = 0;
        }
    }
    if ((revents & POLLOUT) && pending(out)) {
        ssize_t n = send(c->fd[i], out->buf + out->off, out->len - out->off, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (n > 0)
            out->off += (size_t)n;
        if (!pending(out))
            out->len = out->off = 0;
    }
    return 0;
}

static bool finished(const struct conn *c)
{
    return c->half[0].eof && c->half[1].eof && !pending(&c->half[0]) && !pending(&c->half[1]);
}

/*
 * One poll over the stop eventfd, the listening socket (while there is room)
 * and both sides of every connection; false once stopped.
 */
static bool step(struct kiln_ssh_forward *f)
{
    struct pollfd p[2 + 2 * KILN_SSH_FORWARD_CONN_MAX];
    p[0] = (struct pollfd){.fd = f->stop_fd, .events = POLLIN};
    p[1] = (struct pollfd){.fd = f->n_conns < KILN_SSH_FORWARD_CONN_MAX ? f->listen_fd : -1,
                           .events = POLLIN};
    size_t n = 2;
    for (size_t k = 0; k < f->n_conns; k++)
        for (int i = 0; i < 2; i++) {
            short ev = want(f->conns[k], i);
            p[n++] = (struct pollfd){.fd = ev ? f->conns[k]->fd[i] : -1, .events = ev};
        }
    if (poll(p, n, -1) < 0)
        return errno == EINTR;
    if (p[0].revents)
        return false;
    size_t kept = 0, had = f->n_conns;
    for (size_t k = 0; k < had; k++) {
        struct conn *c = f->conns[k];
        bool over = service(c, 0, p[2 + 2 * k].revents) < 0 ||
                    service(c, 1, p[3 + 2 * k].revents) < 0 || finished(c);
        if (over)
            conn_free(c);
        else
            f->conns[kept++] = c;
    }
    f->n_conns = kept;
    if (p[1].revents & POLLIN)
        accept_one(f);
    return true;
}

static void *run(void *userdata)
{
    struct kiln_ssh_forward *f = userdata;
    while (step(f))
        ;
    return NULL;
}

/* The listening socket `name` in dirfd, reached through /proc: any directory path length. */
static int listen_at(int dirfd, const char *name, uid_t uid, gid_t gid, mode_t mode, int *ret)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int len = snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, name);
    if (len < 0 || (size_t)len >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -errno;
    if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
        fchmodat(dirfd, name, mode & 07777, 0) < 0 || listen(fd, SOMAXCONN) < 0) {
        int r = -errno;
        unlinkat(dirfd, name, 0);
        return r;
    }
    *ret = TAKE_FD(fd);
    return 0;
}

int kiln_ssh_forward_start(int dirfd, const char *name, const char *agent, uid_t uid, gid_t gid,
                           mode_t mode, struct kiln_ssh_forward **ret, struct kiln_error **err)
{
    struct kiln_ssh_forward *f = kiln_xcalloc(1, sizeof(*f));
    *f = (struct kiln_ssh_forward){.listen_fd = -1, .stop_fd = -1, .dir_fd = -1};
    f->agent.sun_family = AF_UNIX;
    if (strlen(agent) >= sizeof(f->agent.sun_path)) {
        free(f);
        return kiln_error_set(err, KILN_E_INVALID,
                              "ssh agent socket '%s' is longer than a unix socket path may be "
                              "(%zu bytes); start the agent at a shorter path (ssh-agent -a)",
                              agent, sizeof(f->agent.sun_path) - 1);
    }
    memcpy(f->agent.sun_path, agent, strlen(agent));
    int r = 0;
    if ((f->dir_fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3)) < 0 ||
        (f->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        r = -errno;
    if (r == 0)
        r = listen_at(f->dir_fd, name, uid, gid, mode, &f->listen_fd);
    if (r == 0) {
        f->name = kiln_xstrdup(name);
        r = -pthread_create(&f->thread, NULL, run, f);
        if (r < 0)
            unlinkat(f->dir_fd, name, 0);
    }
    if (r < 0) {
        if (f->listen_fd >= 0)
            close(f->listen_fd);
        if (f->stop_fd >= 0)
            close(f->stop_fd);
        if (f->dir_fd >= 0)
            close(f->dir_fd);
        free(f->name);
        free(f);
        return kiln_error_set_errno(err, r, "cannot create the ssh agent socket '%s'", name);
    }
    *ret = f;
    return 0;
}

void kiln_ssh_forward_stop(struct kiln_ssh_forward *f)
{
    if (!f)
        return;
    uint64_t one = 1;
    while (write(f->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
    pthread_join(f->thread, NULL);
    for (size_t k = 0; k < f->n_conns; k++)
        conn_free(f->conns[k]);
    close(f->listen_fd);
    close(f->stop_fd);
    unlinkat(f->dir_fd, f->name, 0);
    close(f->dir_fd);
    free(f->name);
    free(f);
}
