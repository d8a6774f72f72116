/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netns-egress.c - RUN's default network kept from the instance metadata
 * of cloud machines: nftables rules in the step's namespace
 * (docs/internals/sandbox.md, "Network").
 */
#include "netns-egress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/cleanup.h"
#include "helper-spawn.h"

#include "base/banned.h"

/* Whether [s, s + len) is an IPv4 CIDR "A.B.C.D/N" (N 0..32). */
static bool ipv4_cidr(const char *s, size_t len)
{
    char buf[32];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    if (!slash)
        return false;
    *slash = '\0';
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    struct in_addr a;
    return slash[1] && !*end && bits >= 0 && bits <= 32 && inet_pton(AF_INET, buf, &a) == 1;
}

int kiln_sandbox_egress_rules(char **ret, struct kiln_error **err)
{
    *ret = NULL;
    const char *v = getenv(KILN_SANDBOX_EGRESS_ENV);
    if (!v)
        v = KILN_SANDBOX_EGRESS_DEFAULT;
    if (!*v || strcmp(v, "none") == 0)
        return 0;
    _cleanup_buf_ struct kiln_buf set = KILN_BUF_INIT(4096);
    for (const char *p = v;; p++) { /* every element a CIDR: none empty, no trailing comma */
        size_t len = strcspn(p, ",");
        if (!ipv4_cidr(p, len) ||
            kiln_buf_addf(&set, "%s%.*s", set.len ? ", " : "", (int)len, p) < 0)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "%s='%s' is not a list of IPv4 ranges; give CIDRs such as "
                                  "169.254.0.0/16,10.1.2.3/32, or none to deny nothing",
                                  KILN_SANDBOX_EGRESS_ENV, v);
        p += len;
        if (!*p)
            break;
    }
    *ret = kiln_xasprintf("add table ip kiln; "
                          "add chain ip kiln output { type filter hook output priority 0; policy "
                          "accept; }; "
                          "add rule ip kiln output ip daddr { %s } reject with icmp type "
                          "admin-prohibited",
                          set.buf);
    return 0;
}

/* What nft wrote, for an error message. */
static void said(int fd, char out[static KILN_SANDBOX_EGRESS_LOG_MAX])
{
    ssize_t n = pread(fd, out, KILN_SANDBOX_EGRESS_LOG_MAX - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
}

int kiln_sandbox_egress_deny(const char *netns_path, struct kiln_error **err)
{
    _cleanup_free_ char *rules = NULL;
    int r = kiln_sandbox_egress_rules(&rules, err);
    if (r < 0 || !rules)
        return r;
    _cleanup_free_ char *net = kiln_xasprintf("--net=%s", netns_path);
    const char *const argv[] = {"nsenter", net, "nft", rules, NULL};
    _cleanup_close_ int logfd = memfd_create("nft-log", MFD_CLOEXEC);
    if (logfd < 0)
        return kiln_error_set_errno(err, -errno, "create the log of nft");
    pid_t pid;
    r = kiln_sandbox_spawn(argv, (const int[]){logfd, logfd}, 2, KILN_SANDBOX_VIEW_HOST, &pid);
    if (r == -ENOENT)
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "nsenter not found in PATH: RUN's default network needs it to deny "
                              "%s; install util-linux, or set %s=none",
                              KILN_SANDBOX_EGRESS_ENV, KILN_SANDBOX_EGRESS_ENV);
    if (r < 0)
        return kiln_error_set_errno(err, r, "start nsenter for the step's network rules");
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return kiln_error_set_errno(err, -errno, "wait for nft");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char msg[KILN_SANDBOX_EGRESS_LOG_MAX];
    said(logfd, msg);
    if (strstr(msg, "No such file") && strstr(msg, "nft"))
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "nft not found: RUN's default network denies %s with it; install "
                              "it (apt-get install nftables), or set %s=none",
                              getenv(KILN_SANDBOX_EGRESS_ENV) ? getenv(KILN_SANDBOX_EGRESS_ENV)
                                                              : KILN_SANDBOX_EGRESS_DEFAULT,
                              KILN_SANDBOX_EGRESS_ENV);
    return kiln_error_set(err, KILN_E_UPSTREAM,
                          "nft could not set the step's network rules: %s; set %s=none to run "
                          "without them",
                          msg[0] ? msg : "it exited without a message", KILN_SANDBOX_EGRESS_ENV);
}
