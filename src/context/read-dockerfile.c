/* SPDX-License-Identifier: Apache-2.0 */
/*
 * read-dockerfile.c - reading a Dockerfile (docs/internals/dockerfile.md).
 */
#include "read-dockerfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/limits.h"

#include "base/banned.h"

static int read_all(int fd, struct kiln_buf *out, struct kiln_error **err)
{
    for (;;) {
        int r = kiln_buf_grow(out, 65536);
        if (r < 0)
            r = kiln_buf_grow(out, 1);
        if (r < 0) /* the buffer holds one byte more than a Dockerfile may */
            return kiln_error_set(err, KILN_E_LIMIT,
                                  "the file is larger than a Dockerfile may be (at most %u MiB)",
                                  KILN_DOCKERFILE_MAX / (1024 * 1024));
        ssize_t n = read(fd, out->buf + out->len, out->alloc - out->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return kiln_error_set_errno(err, -errno, "read");
        }
        if (n == 0)
            return 0;
        out->len += (size_t)n;
        out->buf[out->len] = '\0';
    }
}

int kiln_context_read_dockerfile(const char *path, struct kiln_buf *out, struct kiln_error **err)
{
    if (strcmp(path, "-") == 0)
        return read_all(STDIN_FILENO, out, err);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "open");
    return read_all(fd, out, err);
}
