/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ratelimit.c - a fixed table of addresses with a failure count per window.
 *
 * Lookups scan the table: KILND_RATELIMIT_ENTRIES short compares take a few
 * microseconds, next to an authentication's sha256 and database read. When
 * the table is full, a new address takes the place of the least recently
 * seen one that is not blocked (of the least recently seen one when all
 * are), so a flood of addresses cannot free a blocked one early unless
 * every slot is blocked.
 */
#include "ratelimit.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"

#include "base/banned.h"

struct entry {
    char addr[KILND_RATELIMIT_ADDR_MAX];
    int64_t window_start, blocked_until, last_seen;
    unsigned failures;
};

struct kilnd_ratelimit {
    pthread_mutex_t lock;
    size_t n;
    struct entry e[KILND_RATELIMIT_ENTRIES];
};

struct kilnd_ratelimit *kilnd_ratelimit_new(void)
{
    struct kilnd_ratelimit *rl = kiln_xcalloc(1, sizeof(*rl));
    pthread_mutex_init(&rl->lock, NULL);
    return rl;
}

void kilnd_ratelimit_free(struct kilnd_ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static bool same(const struct entry *e, const char *addr)
{
    return strncmp(e->addr, addr, sizeof(e->addr) - 1) == 0;
}

static struct entry *find(struct kilnd_ratelimit *rl, const char *addr)
{
    for (size_t i = 0; i < rl->n; i++)
        if (same(&rl->e[i], addr))
            return &rl->e[i];
    return NULL;
}

static struct entry *victim(struct kilnd_ratelimit *rl, int64_t now)
{
    struct entry *old = NULL, *old_free = NULL;
    for (size_t i = 0; i < rl->n; i++) {
        struct entry *e = &rl->e[i];
        if (!old || e->last_seen < old->last_seen)
            old = e;
        if (e->blocked_until <= now && (!old_free || e->last_seen < old_free->last_seen))
            old_free = e;
    }
    return old_free ? old_free : old;
}

int64_t kilnd_ratelimit_blocked(struct kilnd_ratelimit *rl, const char *addr, int64_t now)
{
    pthread_mutex_lock(&rl->lock);
    struct entry *e = find(rl, addr);
    int64_t wait = e && e->blocked_until > now ? e->blocked_until - now : 0;
    pthread_mutex_unlock(&rl->lock);
    return wait;
}

void kilnd_ratelimit_failure(struct kilnd_ratelimit *rl, const char *addr, int64_t now)
{
    pthread_mutex_lock(&rl->lock);
    struct entry *e = find(rl, addr);
    if (!e) {
        e = rl->n < KILND_RATELIMIT_ENTRIES ? &rl->e[rl->n++] : victim(rl, now);
        *e = (struct entry){.window_start = now};
        snprintf(e->addr, sizeof(e->addr), "%s", addr);
    }
    e->last_seen = now;
    if (now - e->window_start >= KILND_RATELIMIT_WINDOW_S) {
        e->window_start = now;
        e->failures = 0;
    }
    if (++e->failures > KILND_RATELIMIT_FAILURES) {
        e->blocked_until = now + KILND_RATELIMIT_BLOCK_S;
        e->window_start = now;
        e->failures = 0;
    }
    pthread_mutex_unlock(&rl->lock);
}

int64_t kilnd_ratelimit_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}
