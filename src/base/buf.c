/* SPDX-License-Identifier: Apache-2.0 */
#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

#include "banned.h"

char kiln_buf_empty[1];

void kiln_buf_init(struct kiln_buf *b, size_t max)
{
    *b = (struct kiln_buf)KILN_BUF_INIT(max);
}

void kiln_buf_release(struct kiln_buf *b)
{
    if (b->alloc)
        free(b->buf);
    b->buf = kiln_buf_empty;
    b->len = b->alloc = 0;
}

char *kiln_buf_detach(struct kiln_buf *b, size_t *ret_len)
{
    char *s = b->alloc ? b->buf : kiln_xstrdup("");
    if (ret_len)
        *ret_len = b->len;
    b->buf = kiln_buf_empty;
    b->len = b->alloc = 0;
    return s;
}

void kiln_buf_reset(struct kiln_buf *b)
{
    kiln_buf_truncate(b, 0);
}

void kiln_buf_truncate(struct kiln_buf *b, size_t len)
{
    if (len >= b->len)
        return;
    b->len = len;
    b->buf[len] = '\0';
}

int kiln_buf_grow(struct kiln_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return KILN_E_LIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->alloc)
        return 0;
    bool was_static = b->alloc == 0;
    char *p = was_static ? NULL : b->buf;
    size_t alloc = b->alloc;
    kiln_xgrow((void **)&p, &alloc, need, 1);
    if (was_static)
        p[0] = '\0';
    b->buf = p;
    b->alloc = alloc;
    return 0;
}

int kiln_buf_add(struct kiln_buf *b, const void *data, size_t n)
{
    int r = kiln_buf_grow(b, n);
    if (r < 0)
        return r;
    if (n)
        memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return 0;
}

int kiln_buf_adds(struct kiln_buf *b, const char *s)
{
    return kiln_buf_add(b, s, strlen(s));
}

int kiln_buf_addf(struct kiln_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *s = kiln_xvasprintf(fmt, ap);
    va_end(ap);
    return kiln_buf_adds(b, s);
}

int kiln_buf_read_fd(struct kiln_buf *b, int fd)
{
    for (;;) {
        if (kiln_buf_grow(b, 65536) < 0 && kiln_buf_grow(b, 1) < 0)
            return KILN_E_LIMIT;
        ssize_t n = read(fd, b->buf + b->len, b->alloc - b->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        b->len += (size_t)n;
        b->buf[b->len] = '\0';
    }
}

int kiln_buf_read_file(struct kiln_buf *b, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = kiln_buf_read_fd(b, fd);
    close(fd);
    return r;
}

void kiln_last_line(int fd, char *out, size_t size)
{
    out[0] = '\0';
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > (off_t)size - 1 ? end - ((off_t)size - 1) : 0;
    ssize_t n = end > 0 ? pread(fd, out, (size_t)(end - from), from) : 0;
    if (n <= 0)
        return;
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    char *last = strrchr(out, '\n');
    if (last)
        memmove(out, last + 1, strlen(last + 1) + 1);
}
