/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cleanup.h - scope-bound ownership (systemd/crun style).
 *
 *   _cleanup_free_ char *s = NULL;          freed when s leaves scope
 *   _cleanup_close_ int fd = -1;            closed when fd leaves scope
 *   _cleanup_(kiln_foo_freep) struct kiln_foo *f = NULL;
 *   return TAKE_PTR(s);                     hand ownership to the caller
 */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f)       __attribute__((cleanup(f)))
#define _cleanup_free_     _cleanup_(kiln_freep)
#define _cleanup_close_    _cleanup_(kiln_closep)
#define _cleanup_fclose_   _cleanup_(kiln_fclosep)
#define _cleanup_closedir_ _cleanup_(kiln_closedirp)
#define _printf_(a, b)     __attribute__((format(printf, a, b)))
#define _nonnull_          __attribute__((nonnull))
#define _unused_           __attribute__((unused))

/* Returns the pointer held in p and sets p to NULL. */
#define TAKE_PTR(p)            \
    ({                         \
        typeof(p) _ptr_ = (p); \
        (p) = NULL;            \
        _ptr_;                 \
    })

/* Returns the fd held in fd and sets fd to -1. */
#define TAKE_FD(fd)      \
    ({                   \
        int _fd_ = (fd); \
        (fd) = -1;       \
        _fd_;            \
    })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* Defines `void NAMEp(TYPE **p)` calling FUNC(*p) when *p is not NULL. */
#define KILN_DEFINE_CLEANUP(type, func)  \
    static inline void func##p(type **p) \
    {                                    \
        if (*p)                          \
            func(*p);                    \
    }

static inline void kiln_freep(void *p)
{
    free(*(void **)p);
}

static inline void kiln_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        (void)close(*fd);
        errno = saved;
    }
}

static inline void kiln_fclosep(FILE **f)
{
    if (*f)
        (void)fclose(*f);
}

static inline void kiln_closedirp(DIR **d)
{
    if (*d)
        (void)closedir(*d);
}
