/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netns-egress.c - RUN's default network kept from the instance metadata
 * of cloud machines: unreachable routes in the step's namespace
 * (docs/internals/sandbox.md, "Network").
 */
#include "netns-egress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cleanup.h"

#include "base/banned.h"

/* [s, s + len) as an IPv4 CIDR "A.B.C.D/N" (N 0..32): true and *ret. */
static bool ipv4_cidr(const char *s, size_t len, uint32_t *ret_addr, uint8_t *ret_bits)
{
    char buf[32];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    if (!slash || !slash[1])
        return false;
    *slash = '\0';
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    struct in_addr a;
    if (*end || bits < 0 || bits > 32 || inet_pton(AF_INET, buf, &a) != 1)
        return false;
    uint32_t mask = bits ? htonl(~0u << (32 - bits)) : 0;
    *ret_addr = a.s_addr & mask;
    *ret_bits = (uint8_t)bits;
    return true;
}

int kiln_sandbox_egress_get(struct kiln_sandbox_egress *ret, struct kiln_error **err)
{
    ret->n = 0;
    const char *v = getenv(KILN_SANDBOX_EGRESS_ENV);
    if (!v)
        v = KILN_SANDBOX_EGRESS_DEFAULT;
    if (!*v || strcmp(v, "none") == 0)
        return 0;
    for (const char *p = v;; p++) { /* every element a CIDR: none empty, no trailing comma */
        size_t len = strcspn(p, ",");
        if (ret->n == KILN_SANDBOX_EGRESS_MAX ||
            !ipv4_cidr(p, len, &ret->v[ret->n].addr, &ret->v[ret->n].bits)) {
            ret->n = 0;
            return kiln_error_set(err, KILN_E_INVALID,
                                  "%s='%s' is not a list of up to %d IPv4 ranges; give CIDRs such "
                                  "as 169.254.0.0/16,10.1.2.3/32, or none to deny nothing",
                                  KILN_SANDBOX_EGRESS_ENV, v, KILN_SANDBOX_EGRESS_MAX);
        }
        ret->n++;
        p += len;
        if (!*p)
            break;
    }
    return 0;
}

/* RTM_NEWROUTE for an unreachable route to one range; waits for the kernel's answer. */
static int add_route(int fd, uint32_t addr, uint8_t bits, uint32_t seq)
{
    struct {
        struct nlmsghdr nh;
        struct rtmsg rt;
        struct rtattr dst;
        uint32_t addr;
    } req = {
            .nh = {.nlmsg_len = sizeof(req),
                   .nlmsg_type = RTM_NEWROUTE,
                   .nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
                   .nlmsg_seq = seq},
            .rt = {.rtm_family = AF_INET,
                   .rtm_dst_len = bits,
                   .rtm_table = RT_TABLE_MAIN,
                   .rtm_protocol = RTPROT_BOOT,
                   .rtm_scope = RT_SCOPE_UNIVERSE,
                   .rtm_type = RTN_UNREACHABLE},
            .dst = {.rta_len = RTA_LENGTH(sizeof(uint32_t)), .rta_type = RTA_DST},
            .addr = addr,
    };
    if (send(fd, &req, sizeof(req), 0) < 0)
        return -errno;
    struct {
        struct nlmsghdr nh;
        struct nlmsgerr e;
        char rest[256];
    } ack;
    ssize_t n = recv(fd, &ack, sizeof(ack), 0);
    if (n < 0)
        return -errno;
    if ((size_t)n < sizeof(ack.nh) + sizeof(ack.e) || ack.nh.nlmsg_type != NLMSG_ERROR)
        return -EPROTO;
    return ack.e.error; /* 0, or -errno */
}

int kiln_sandbox_egress_routes(const struct kiln_sandbox_egress *e)
{
    if (e->n == 0)
        return 0;
    _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -errno;
    for (size_t i = 0; i < e->n; i++) {
        int r = add_route(fd, e->v[i].addr, e->v[i].bits, (uint32_t)i + 1);
        if (r < 0 && r != -EEXIST) /* the same range twice in the variable */
            return r;
    }
    return 0;
}
