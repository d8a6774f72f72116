/* SPDX-License-Identifier: Apache-2.0 */
/*
 * passwd.c - user and group lookup inside a root (docs/internals/copy.md).
 */
#include "passwd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "copy-private.h"

#include "base/banned.h"

static bool parse_number(const char *s, uint32_t *ret)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || errno || v > UINT32_MAX || *s == '-' || *s == '+')
        return false;
    *ret = (uint32_t)v;
    return true;
}

/* The file root/path, or "" when it does not exist. Caller frees. */
static int read_file(const char *root, const char *path, char **ret, struct kiln_error **err)
{
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open '%s'", root);
    int fd = kiln_copy_open_in_root(rfd, path, O_PATH);
    close(rfd);
    if (fd == -ENOENT || fd == -ENOTDIR) {
        *ret = kiln_xstrdup("");
        return 0;
    }
    if (fd < 0)
        return kiln_error_set_errno(err, fd, "cannot open /%s in the image", path);
    /* only a regular file is read: never a fifo or a device of the image */
    struct stat st;
    int r = fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -EINVAL;
    int rd = -1;
    if (r == 0) {
        char proc[64];
        (void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        rd = open(proc, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        r = rd < 0 ? -errno : 0;
    }
    close(fd);
    if (r < 0)
        return kiln_error_set_errno(err, r, "cannot read /%s in the image: it must be a file",
                                    path);
    fd = rd;
    struct kiln_buf b = KILN_BUF_INIT(KILN_PASSWD_FILE_MAX);
    char chunk[8192];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        if (kiln_buf_add(&b, chunk, (size_t)n) < 0) {
            close(fd);
            kiln_buf_release(&b);
            return kiln_error_set(err, KILN_E_LIMIT, "%s of the image is larger than %u bytes",
                                  path, KILN_PASSWD_FILE_MAX);
        }
    close(fd);
    *ret = kiln_buf_detach(&b, NULL);
    return 0;
}

/*
 * Finds the line whose field 0 is `name` (or whose field `id_field` is the
 * number `id` when name is NULL); copies up to 4 fields into f.
 */
static bool find_entry(char *text, const char *name, uint32_t id, char *f[4])
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *fields[4] = {0};
        char *p = line;
        for (int i = 0; i < 4 && p; i++) {
            fields[i] = p;
            p = strchr(p, ':');
            if (p)
                *p++ = '\0';
        }
        if (!fields[2])
            continue;
        uint32_t v;
        if ((name && strcmp(fields[0], name) == 0) ||
            (!name && parse_number(fields[2], &v) && v == id)) {
            memcpy(f, fields, sizeof(fields));
            if (p && !f[3])
                f[3] = p;
            return true;
        }
    }
    return false;
}

static int lookup_user(const char *root, const char *user, uint32_t *uid, uint32_t *gid,
                       bool *found_gid, struct kiln_error **err)
{
    *found_gid = false;
    bool numeric = parse_number(user, uid);
    _cleanup_free_ char *text = NULL;
    int r = read_file(root, "etc/passwd", &text, err);
    if (r < 0)
        return r;
    char *f[4] = {0};
    if (find_entry(text, numeric ? NULL : user, *uid, f)) {
        parse_number(f[2], uid);
        char *colon = f[3] ? strchr(f[3], ':') : NULL;
        if (colon)
            *colon = '\0';
        *found_gid = f[3] && parse_number(f[3], gid);
        return 0;
    }
    if (numeric || strcmp(user, "root") == 0)
        return 0; /* a number, or root without an /etc/passwd entry: 0 */
    return kiln_error_set(err, KILN_E_NOTFOUND,
                          "unable to find user %s: no matching entries in passwd file: add the "
                          "user to the image (useradd) or give a numeric id",
                          user);
}

static int lookup_group(const char *root, const char *group, uint32_t *gid, struct kiln_error **err)
{
    if (parse_number(group, gid))
        return 0;
    _cleanup_free_ char *text = NULL;
    int r = read_file(root, "etc/group", &text, err);
    if (r < 0)
        return r;
    char *f[4] = {0};
    if (find_entry(text, group, 0, f) && parse_number(f[2], gid))
        return 0;
    return kiln_error_set(err, KILN_E_NOTFOUND,
                          "unable to find group %s: no matching entries in group file: add the "
                          "group to the image (groupadd) or give a numeric id",
                          group);
}

/* The groups listing `user` as a member. */
static int supplementary(const char *root, const char *user, uint32_t **ret, size_t *ret_n,
                         struct kiln_error **err)
{
    *ret = NULL;
    *ret_n = 0;
    _cleanup_free_ char *text = NULL;
    int r = read_file(root, "etc/group", &text, err);
    if (r < 0)
        return r;
    size_t alloc = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[4] = {0};
        char *p = line;
        for (int i = 0; i < 4 && p; i++) {
            f[i] = p;
            p = strchr(p, ':');
            if (p)
                *p++ = '\0';
        }
        uint32_t g;
        if (!f[3] || !parse_number(f[2], &g))
            continue;
        char *msave = NULL;
        for (char *m = strtok_r(f[3], ",", &msave); m; m = strtok_r(NULL, ",", &msave))
            if (strcmp(m, user) == 0) {
                KILN_GROW(*ret, alloc, *ret_n + 1);
                (*ret)[(*ret_n)++] = g;
            }
    }
    return 0;
}

int kiln_passwd_resolve(const char *root, const char *spec, bool copy_semantics, uint32_t *ret_uid,
                        uint32_t *ret_gid, uint32_t **ret_groups, size_t *ret_n_groups,
                        struct kiln_error **err)
{
    _cleanup_free_ char *user = kiln_xstrdup(spec);
    char *group = strchr(user, ':');
    if (group)
        *group++ = '\0';
    uint32_t uid = 0, gid = 0;
    bool found_gid = false;
    int r = *user ? lookup_user(root, user, &uid, &gid, &found_gid, err) : 0;
    if (r < 0)
        return r;
    uint32_t n;
    if (group)
        r = lookup_group(root, group, &gid, err);
    else if (copy_semantics && parse_number(user, &n))
        gid = uid; /* BuildKit's file ops: a numeric user alone is uid:uid */
    else if (!found_gid)
        gid = 0; /* runc: a user missing from /etc/passwd gets group 0 */
    if (r < 0)
        return r;
    if (ret_groups && (r = supplementary(root, user, ret_groups, ret_n_groups, err)) < 0)
        return r;
    *ret_uid = uid;
    *ret_gid = gid;
    return 0;
}
