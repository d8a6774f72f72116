/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ssh-agent-list.c - the e2e tests' `ssh-add -l` for a busybox step: built
 * static, it asks the agent at $SSH_AUTH_SOCK for its identities
 * (SSH2_AGENTC_REQUEST_IDENTITIES) and prints their count and comments.
 * Exit 1 when the agent cannot be reached or answers something else.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int read_full(int fd, unsigned char *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int main(void)
{
    const char *path = getenv("SSH_AUTH_SOCK");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!path || strlen(path) >= sizeof(sa.sun_path))
        return fprintf(stderr, "SSH_AUTH_SOCK is not set\n"), 1;
    memcpy(sa.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return perror(path), 1;
    static const unsigned char req[] = {0, 0, 0, 1, 11};
    unsigned char hdr[4];
    if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req) || read_full(fd, hdr, 4) < 0)
        return fprintf(stderr, "the agent did not answer\n"), 1;
    uint32_t len = be32(hdr);
    unsigned char *msg = len >= 5 && len < (1u << 20) ? malloc(len) : NULL;
    if (!msg || read_full(fd, msg, len) < 0 || msg[0] != 12)
        return fprintf(stderr, "the agent's answer is not a list of identities\n"), 1;
    uint32_t n = be32(msg + 1), at = 5;
    printf("%u\n", n);
    for (uint32_t i = 0; i < n; i++)
        for (int field = 0; field < 2; field++) {
            if (at + 4 > len || be32(msg + at) > len - at - 4)
                return fprintf(stderr, "a truncated answer\n"), 1;
            uint32_t l = be32(msg + at);
            if (field == 1)
                printf("%.*s\n", (int)l, (const char *)msg + at + 4);
            at += 4 + l;
        }
    return 0;
}
