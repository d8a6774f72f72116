/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf.h - a growable, always NUL-terminated, binary-safe byte buffer with a
 * mandatory cap (git's strbuf rules with curl's dynbuf limit).
 *
 *   struct kiln_buf b = KILN_BUF_INIT(KILN_DOCKERFILE_MAX);
 *   if (kiln_buf_add(&b, p, n) < 0) -> KILN_E_LIMIT, b unchanged
 *   char *s = kiln_buf_detach(&b);   caller owns s, b is empty again
 *   kiln_buf_release(&b);
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"
#include "error.h"

struct kiln_buf {
    char *buf;    /* never NULL once initialised; "" when empty */
    size_t len;   /* bytes in use, excluding the NUL */
    size_t alloc; /* bytes allocated (0: buf points to a static "") */
    size_t max;   /* appends past this length fail with KILN_E_LIMIT */
};

extern char kiln_buf_empty[];

#define KILN_BUF_INIT(cap)                                        \
    {                                                             \
        .buf = kiln_buf_empty, .len = 0, .alloc = 0, .max = (cap) \
    }

void kiln_buf_init(struct kiln_buf *b, size_t max);
/* Frees the memory; b is an empty buffer with the same cap afterwards. */
void kiln_buf_release(struct kiln_buf *b);
/* Hands the bytes to the caller (free() them); b is empty afterwards. */
char *kiln_buf_detach(struct kiln_buf *b, size_t *ret_len);
void kiln_buf_reset(struct kiln_buf *b);
/* Makes room for `extra` more bytes. Returns KILN_E_LIMIT past the cap. */
int kiln_buf_grow(struct kiln_buf *b, size_t extra);
int kiln_buf_add(struct kiln_buf *b, const void *data, size_t n);
int kiln_buf_adds(struct kiln_buf *b, const char *s);
int kiln_buf_addf(struct kiln_buf *b, const char *fmt, ...) _printf_(2, 3);
void kiln_buf_truncate(struct kiln_buf *b, size_t len);
/* Appends what fd holds until its end. -errno, or KILN_E_LIMIT past the cap. */
int kiln_buf_read_fd(struct kiln_buf *b, int fd);
/* Appends the file at path. -errno (-ENOENT when missing), or KILN_E_LIMIT past the cap. */
int kiln_buf_read_file(struct kiln_buf *b, const char *path);

/*
 * The last line of what the file at fd holds (a helper's log), for an error
 * message: read from its last size - 1 bytes, line ends and a trailing
 * newline dropped; "" when it is empty or cannot be read.
 */
void kiln_last_line(int fd, char *out, size_t size);

static inline int kiln_buf_addch(struct kiln_buf *b, char c)
{
    if (b->len + 1 >= b->alloc) {
        int r = kiln_buf_grow(b, 1);
        if (r < 0)
            return r;
    } else if (b->len >= b->max) {
        return KILN_E_LIMIT;
    }
    b->buf[b->len++] = c;
    b->buf[b->len] = '\0';
    return 0;
}

static inline void kiln_buf_releasep(struct kiln_buf *b)
{
    kiln_buf_release(b);
}
#define _cleanup_buf_ _cleanup_(kiln_buf_releasep)
