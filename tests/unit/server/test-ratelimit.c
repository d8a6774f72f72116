/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/ratelimit.h"

#include "base/banned.h"

#define T0 1000 /* an arbitrary start on the caller's clock */

static void fail_n(struct kilnd_ratelimit *rl, const char *addr, int n, int64_t now)
{
    for (int i = 0; i < n; i++)
        kilnd_ratelimit_failure(rl, addr, now);
}

static void test_ratelimit__blocks_after_too_many(void **state)
{
    struct kilnd_ratelimit *rl = kilnd_ratelimit_new();
    fail_n(rl, "192.0.2.1", KILND_RATELIMIT_FAILURES, T0);
    assert_int_equal(kilnd_ratelimit_blocked(rl, "192.0.2.1", T0), 0); /* 10 are allowed */
    kilnd_ratelimit_failure(rl, "192.0.2.1", T0 + 5);                  /* the 11th */
    assert_int_equal(kilnd_ratelimit_blocked(rl, "192.0.2.1", T0 + 5), KILND_RATELIMIT_BLOCK_S);
    assert_int_equal(kilnd_ratelimit_blocked(rl, "192.0.2.1", T0 + 35), 30);
    assert_int_equal(kilnd_ratelimit_blocked(rl, "192.0.2.2", T0 + 35), 0); /* per address */
    assert_int_equal(kilnd_ratelimit_blocked(rl, "192.0.2.1", T0 + 65), 0); /* over */
    /* After the block, the count starts again. */
    fail_n(rl, "192.0.2.1", KILND_RATELIMIT_FAILURES, T0 + 66);
    assert_int_equal(kilnd_ratelimit_blocked(rl, "192.0.2.1", T0 + 66), 0);
    kilnd_ratelimit_free(rl);
}

static void test_ratelimit__window(void **state)
{
    struct kilnd_ratelimit *rl = kilnd_ratelimit_new();
    /* 10 failures, then 10 more once the window has passed: never blocked. */
    fail_n(rl, "2001:db8::1", KILND_RATELIMIT_FAILURES, T0);
    fail_n(rl, "2001:db8::1", KILND_RATELIMIT_FAILURES, T0 + KILND_RATELIMIT_WINDOW_S);
    assert_int_equal(kilnd_ratelimit_blocked(rl, "2001:db8::1", T0 + KILND_RATELIMIT_WINDOW_S), 0);
    kilnd_ratelimit_failure(rl, "2001:db8::1", T0 + KILND_RATELIMIT_WINDOW_S + 1);
    assert_true(kilnd_ratelimit_blocked(rl, "2001:db8::1", T0 + KILND_RATELIMIT_WINDOW_S + 1) > 0);
    kilnd_ratelimit_free(rl);
}

static void test_ratelimit__bounded_keeps_blocked(void **state)
{
    struct kilnd_ratelimit *rl = kilnd_ratelimit_new();
    fail_n(rl, "198.51.100.7", KILND_RATELIMIT_FAILURES + 1, T0);
    /* Twice the table's size of other addresses, each failing once. */
    char addr[32];
    for (int i = 0; i < 2 * KILND_RATELIMIT_ENTRIES; i++) {
        snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        kilnd_ratelimit_failure(rl, addr, T0 + 1 + i / 1000);
    }
    /* The blocked address was not the one evicted. */
    assert_true(kilnd_ratelimit_blocked(rl, "198.51.100.7", T0 + 10) > 0);
    kilnd_ratelimit_free(rl);
}

static void test_ratelimit__long_address(void **state)
{
    struct kilnd_ratelimit *rl = kilnd_ratelimit_new();
    char addr[200];
    memset(addr, 'x', sizeof(addr) - 1);
    addr[sizeof(addr) - 1] = '\0';
    fail_n(rl, addr, KILND_RATELIMIT_FAILURES + 1, T0);
    assert_true(kilnd_ratelimit_blocked(rl, addr, T0) > 0);
    kilnd_ratelimit_free(rl);
}

#define THREADS 4

static void *hammer(void *arg)
{
    for (int i = 0; i < 1000; i++) {
        kilnd_ratelimit_failure(arg, "203.0.113.9", T0);
        (void)kilnd_ratelimit_blocked(arg, "203.0.113.9", T0);
    }
    return NULL;
}

static void test_ratelimit__threads(void **state)
{
    struct kilnd_ratelimit *rl = kilnd_ratelimit_new();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, rl), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_true(kilnd_ratelimit_blocked(rl, "203.0.113.9", T0) > 0);
    kilnd_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ratelimit__blocks_after_too_many),
            cmocka_unit_test(test_ratelimit__window),
            cmocka_unit_test(test_ratelimit__bounded_keeps_blocked),
            cmocka_unit_test(test_ratelimit__long_address),
            cmocka_unit_test(test_ratelimit__threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
