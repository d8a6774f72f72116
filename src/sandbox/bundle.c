/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bundle.c - config.json, hosts and resolv.conf written into the state
 * directory (docs/internals/sandbox.md, "The bundle").
 */
#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "netfiles.h"
#include "sandbox-limits.h"
#include "spec.h"

#include "base/banned.h"

/* Reads the host's resolv.conf; a missing file reads as empty, as for BuildKit. */
static int read_host_resolv(struct kiln_buf *b, struct kiln_error **err)
{
    _cleanup_close_ int fd = open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : kiln_error_set_errno(err, -errno, "open '/etc/resolv.conf'");
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_error_set_errno(err, -errno, "read '/etc/resolv.conf'");
        if (n == 0)
            return 0;
        if (kiln_buf_add(b, chunk, (size_t)n) < 0)
            return kiln_error_set(err, KILN_E_LIMIT,
                                  "host '/etc/resolv.conf' is larger than %d bytes; shorten it",
                                  KILN_SANDBOX_RESOLV_MAX);
    }
}

static int write_file(int dirfd, const char *name, const char *data, size_t len,
                      struct kiln_error **err)
{
    _cleanup_close_ int fd =
            openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "create '%s' in the sandbox state directory",
                                    name);
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_error_set_errno(err, -errno, "write '%s' in the sandbox state directory",
                                        name);
        off += (size_t)n;
    }
    return 0;
}

static int write_netfiles(int statefd, const struct kiln_sandbox_opts *o, struct kiln_error **err)
{
    _cleanup_buf_ struct kiln_buf host = KILN_BUF_INIT(KILN_SANDBOX_RESOLV_MAX);
    _cleanup_buf_ struct kiln_buf out = KILN_BUF_INIT(2 * KILN_SANDBOX_RESOLV_MAX);
    int r = kiln_sandbox_hosts(o->hostname, &out, err);
    if (r >= 0)
        r = write_file(statefd, "hosts", out.buf, out.len, err);
    if (r < 0)
        return r;
    kiln_buf_reset(&out);
    r = read_host_resolv(&host, err);
    if (r >= 0)
        r = kiln_sandbox_resolv(host.buf, o->network, &out, err);
    if (r >= 0)
        r = write_file(statefd, "resolv.conf", out.buf, out.len, err);
    return r;
}

int kiln_sandbox_write_bundle(int statefd, const struct kiln_sandbox_opts *o, json_t **ret_spec,
                              struct kiln_error **err)
{
    int r = write_netfiles(statefd, o, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *hosts = kiln_xasprintf("%s/hosts", o->state_dir);
    _cleanup_free_ char *resolv = kiln_xasprintf("%s/resolv.conf", o->state_dir);
    json_t *spec = kiln_sandbox_spec(o, hosts, resolv);
    char *text = json_dumps(spec, JSON_INDENT(1));
    r = write_file(statefd, "config.json", text, strlen(text), err);
    free(text);
    if (r < 0) {
        json_decref(spec);
        return r;
    }
    *ret_spec = spec;
    return 0;
}
