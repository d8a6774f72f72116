/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.c - the store handle: the data directory, its lock, the database.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "internal.h"

#include "base/banned.h"

int64_t kiln_store_now(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int kiln_store_random_hex(char ret[33], struct kiln_error **err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];
    ssize_t n;
    do
        n = getrandom(raw, sizeof(raw), 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(raw))
        return kiln_error_set_errno(err, n < 0 ? -errno : -EIO, "getrandom");
    for (size_t i = 0; i < sizeof(raw); i++) {
        ret[2 * i] = hex[raw[i] >> 4];
        ret[2 * i + 1] = hex[raw[i] & 0xf];
    }
    ret[32] = '\0';
    return 0;
}

void kiln_store_failpoint(const char *name)
{
    const char *fp = getenv("KILN_FAILPOINT");
    if (fp && strcmp(fp, name) == 0)
        (void)raise(SIGKILL);
}

int kiln_store_check_name(const char *s, const char *what, struct kiln_error **err)
{
    if (strnlen(s, KILN_STORE_NAME_MAX + 1) > KILN_STORE_NAME_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "%s is longer than %u bytes", what,
                              KILN_STORE_NAME_MAX);
    return 0;
}

/* Creates directory `name` under dirfd when missing and opens it. */
static int open_subdir(int dirfd, const char *name, int *ret_fd, struct kiln_error **err)
{
    if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
        return kiln_error_set_errno(err, -errno, "create directory '%s'", name);
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "open directory '%s'", name);
    *ret_fd = fd;
    return 0;
}

static int open_layout(struct kiln_store *s, struct kiln_error **err)
{
    const struct {
        const char *name;
        int *fd;
    } dirs[] = {
            {"content/blobs/sha256", &s->blobs_fd},
            {"content/ingest", &s->ingest_fd},
            {"snapshots", &s->snapshots_fd},
            {"trash", &s->trash_fd},
            {"locks", &s->locks_fd},
    };
    int r = open_subdir(AT_FDCWD, s->dir, &s->dir_fd, err);
    _cleanup_close_ int content_fd = -1, blobs_fd = -1;
    if (r >= 0)
        r = open_subdir(s->dir_fd, "content", &content_fd, err);
    if (r >= 0)
        r = open_subdir(content_fd, "blobs", &blobs_fd, err);
    for (size_t i = 0; r >= 0 && i < ELEMENTSOF(dirs); i++)
        r = open_subdir(s->dir_fd, dirs[i].name, dirs[i].fd, err);
    if (r < 0)
        return r;
    s->lock_fd = openat(s->dir_fd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (s->lock_fd < 0)
        return kiln_error_set_errno(err, -errno, "open 'lock'");
    return 0;
}

static int lock(int fd, int op, struct kiln_error **err)
{
    int r;
    do
        r = flock(fd, op);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno != EWOULDBLOCK)
        return kiln_error_set_errno(err, -errno, "lock 'lock'");
    return r < 0 ? 0 : 1;
}

/*
 * Alone (the exclusive lock granted at once): repair, then share. Otherwise
 * share, waiting for an opener that is repairing.
 */
static int lock_and_repair(struct kiln_store *s, struct kiln_error **err)
{
    int r = lock(s->lock_fd, LOCK_EX | LOCK_NB, err);
    if (r > 0) {
        r = kiln_store_repair(s, err);
        if (r < 0)
            return r;
    }
    return lock(s->lock_fd, LOCK_SH, err);
}

int kiln_store_open(const char *dir, struct kiln_store **ret_store, struct kiln_error **err)
{
    _cleanup_(kiln_store_closep) struct kiln_store *s = kiln_xcalloc(1, sizeof(*s));
    *s = (struct kiln_store){
            .dir = kiln_xstrdup(dir),
            .dir_fd = -1,
            .blobs_fd = -1,
            .ingest_fd = -1,
            .snapshots_fd = -1,
            .trash_fd = -1,
            .locks_fd = -1,
            .lock_fd = -1,
    };
    int r = open_layout(s, err);
    if (r >= 0) {
        _cleanup_free_ char *path = kiln_xasprintf("%s/kiln.db", dir);
        r = kiln_db_open(path, &s->db, err);
    }
    if (r >= 0)
        r = kiln_schema_migrate(s->db, err);
    if (r >= 0)
        r = lock_and_repair(s, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "open store '%s'", dir);
    *ret_store = TAKE_PTR(s);
    return 0;
}

void kiln_store_close(struct kiln_store *s)
{
    if (!s)
        return;
    sqlite3_close_v2(s->db);
    int *fds[] = {&s->dir_fd,   &s->blobs_fd, &s->ingest_fd, &s->snapshots_fd,
                  &s->trash_fd, &s->locks_fd, &s->lock_fd};
    for (size_t i = 0; i < ELEMENTSOF(fds); i++)
        kiln_closep(fds[i]);
    free(s->dir);
    free(s);
}

const char *kiln_store_dir(const struct kiln_store *s)
{
    return s->dir;
}
