/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netfiles.c - /etc/hosts and /etc/resolv.conf for a RUN
 * (docs/internals/sandbox.md, "Network files").
 */
#include "netfiles.h"

#include <arpa/inet.h>
#include <string.h>

#include "base/alloc.h"
#include "base/strv.h"
#include "netns.h"

#include "base/banned.h"

#define DEFAULT_HOSTNAME "buildkitsandbox"

/* Used when no nameserver is left, as BuildKit (Google's public resolvers). */
static const char *const default_nameservers[] = {
        "8.8.8.8",
        "8.8.4.4",
        "2001:4860:4860::8888",
        "2001:4860:4860::8844",
};

int kiln_sandbox_hosts(const char *hostname, struct kiln_buf *out, struct kiln_error **err)
{
    int r = kiln_buf_addf(out,
                          "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
                          hostname && *hostname ? hostname : DEFAULT_HOSTNAME);
    if (r < 0)
        return kiln_error_set(err, r, "hosts file: hostname too long; use a shorter hostname");
    return 0;
}

/* The canonical text of the address in `s` into out (INET6_ADDRSTRLEN); false when not one. */
static bool parse_addr(const char *s, bool *ret_loopback, char *out)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, s, a) == 1) {
        *ret_loopback = a[0] == 127;
        return inet_ntop(AF_INET, a, out, INET6_ADDRSTRLEN) != NULL;
    }
    if (inet_pton(AF_INET6, s, a) != 1)
        return false;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char one[16] = {[15] = 1};
    *ret_loopback = memcmp(a, one, 16) == 0 || (memcmp(a, mapped, 12) == 0 && a[12] == 127);
    return inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN) != NULL;
}

struct resolv {
    struct kiln_strv nameservers, search, options, other;
};

static void resolv_release(struct resolv *rc)
{
    kiln_strv_release(&rc->nameservers);
    kiln_strv_release(&rc->search);
    kiln_strv_release(&rc->options);
    kiln_strv_release(&rc->other);
}

/* One line of the host's file, read as the resolver does: first word is the directive. */
static void resolv_line(struct resolv *rc, const char *line, size_t len, bool host_network)
{
    if (len == 0 || line[0] == '#' || line[0] == ';')
        return;
    _cleanup_free_ char *copy = kiln_xstrndup(line, len);
    _cleanup_strv_ struct kiln_strv f = KILN_STRV_INIT;
    char *save = NULL;
    for (char *t = strtok_r(copy, " \t\r\f\v", &save); t; t = strtok_r(NULL, " \t\r\f\v", &save))
        kiln_strv_push(&f, t);
    if (f.n == 0)
        return;
    if (strcmp(f.v[0], "nameserver") == 0) {
        char addr[INET6_ADDRSTRLEN];
        bool loopback;
        if (f.n >= 2 && parse_addr(f.v[1], &loopback, addr) && (host_network || !loopback))
            kiln_strv_push(&rc->nameservers, addr);
    } else if (strcmp(f.v[0], "search") == 0 || strcmp(f.v[0], "domain") == 0) {
        if (f.n < 2)
            return;
        kiln_strv_release(&rc->search); /* only the last one counts */
        for (size_t i = 1; i < f.n; i++)
            kiln_strv_push(&rc->search, f.v[i]);
    } else if (strcmp(f.v[0], "options") == 0) {
        for (size_t i = 1; i < f.n; i++)
            kiln_strv_push(&rc->options, f.v[i]);
    } else {
        kiln_strv_pushn(&rc->other, line, len);
    }
}

static int add_list(struct kiln_buf *out, const char *directive, const struct kiln_strv *v)
{
    if (v->n == 0)
        return 0;
    int r = kiln_buf_adds(out, directive);
    for (size_t i = 0; r >= 0 && i < v->n; i++)
        r = kiln_buf_addf(out, "%s%s", i ? " " : "", v->v[i]);
    return r < 0 ? r : kiln_buf_addch(out, '\n');
}

int kiln_sandbox_resolv(const char *host_conf, enum kiln_sandbox_network network,
                        struct kiln_buf *out, struct kiln_error **err)
{
    struct resolv rc = {KILN_STRV_INIT, KILN_STRV_INIT, KILN_STRV_INIT, KILN_STRV_INIT};
    for (const char *p = host_conf; *p;) {
        size_t len = strcspn(p, "\n");
        resolv_line(&rc, p, len, network == KILN_SANDBOX_NET_HOST);
        p += len + (p[len] == '\n');
    }
    if (rc.nameservers.n == 0 && network == KILN_SANDBOX_NET_DEFAULT)
        kiln_strv_push(&rc.nameservers, KILN_SANDBOX_NETNS_DNS);
    if (rc.nameservers.n == 0)
        for (size_t i = 0; i < ELEMENTSOF(default_nameservers); i++)
            kiln_strv_push(&rc.nameservers, default_nameservers[i]);
    int r = 0;
    for (size_t i = 0; r >= 0 && i < rc.nameservers.n; i++)
        r = kiln_buf_addf(out, "nameserver %s\n", rc.nameservers.v[i]);
    if (r >= 0)
        r = add_list(out, "search ", &rc.search);
    if (r >= 0)
        r = add_list(out, "options ", &rc.options);
    for (size_t i = 0; r >= 0 && i < rc.other.n; i++)
        r = kiln_buf_addf(out, "%s\n", rc.other.v[i]);
    resolv_release(&rc);
    if (r < 0)
        return kiln_error_set(err, r, "resolv.conf for the sandbox exceeds %u bytes",
                              (unsigned)out->max);
    return 0;
}
