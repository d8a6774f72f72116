/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ratelimit.h - failed authentications per remote address: more than
 * KILND_RATELIMIT_FAILURES in KILND_RATELIMIT_WINDOW_S seconds block that
 * address for KILND_RATELIMIT_BLOCK_S seconds. In memory, thread-safe, at
 * most KILND_RATELIMIT_ENTRIES addresses (the least recently seen goes).
 */
#pragma once

#include <stdint.h>

#define KILND_RATELIMIT_FAILURES 10
#define KILND_RATELIMIT_WINDOW_S 60
#define KILND_RATELIMIT_BLOCK_S  60
#define KILND_RATELIMIT_ENTRIES  4096
#define KILND_RATELIMIT_ADDR_MAX 64 /* bytes of an address kept (IPv6 text fits) */

struct kilnd_ratelimit;

struct kilnd_ratelimit *kilnd_ratelimit_new(void);
void kilnd_ratelimit_free(struct kilnd_ratelimit *rl);

/*
 * Seconds `addr` must still wait at time `now` (seconds, any monotonic
 * clock the caller uses throughout), 0 when it may try.
 */
int64_t kilnd_ratelimit_blocked(struct kilnd_ratelimit *rl, const char *addr, int64_t now);

/* Counts a failed attempt from addr at time now; the one too many starts the block. */
void kilnd_ratelimit_failure(struct kilnd_ratelimit *rl, const char *addr, int64_t now);

/* Seconds on the monotonic clock, for callers without a clock of their own. */
int64_t kilnd_ratelimit_now(void);
