/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netns-spare.c - one network namespace with its slirp4netns made ahead per
 * process, so that a step does not wait for slirp4netns to start
 * (docs/internals/sandbox.md, "Network").
 */
#include "netns-spare.h"

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "base/banned.h"

#define WAIT_SLICE_MS 20 /* how often a step waiting for the spare looks at its cancel fd */

enum spare_state { SPARE_NONE, SPARE_MAKING, SPARE_READY };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static enum spare_state state = SPARE_NONE;
static struct kiln_sandbox_netns spare = KILN_SANDBOX_NETNS_INIT;
static bool spare_ok;

static void *make_thread(void *arg)
{
    (void)arg;
    struct kiln_sandbox_netns ns = KILN_SANDBOX_NETNS_INIT;
    bool ok = kiln_sandbox_netns_open(&ns, -1, NULL) == 0;
    pthread_mutex_lock(&lock);
    spare = ns;
    spare_ok = ok;
    state = SPARE_READY;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Starts making the next spare; called with the lock held and no spare there. */
static void start_making(void)
{
    pthread_attr_t at;
    pthread_t t;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, make_thread, NULL) == 0)
        state = SPARE_MAKING;
    pthread_attr_destroy(&at);
}

static bool cancelled(int cancel_fd)
{
    struct pollfd p = {cancel_fd, POLLIN, 0};
    return cancel_fd >= 0 && poll(&p, 1, 0) > 0;
}

/* Waits for the spare being made, looking at cancel_fd every WAIT_SLICE_MS; lock held. */
static bool wait_made(int cancel_fd)
{
    while (state == SPARE_MAKING) {
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_nsec += WAIT_SLICE_MS * 1000000L;
        if (at.tv_nsec >= 1000000000L) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&changed, &lock, &at);
        if (state == SPARE_MAKING && cancelled(cancel_fd))
            return false;
    }
    return true;
}

int kiln_sandbox_netns_take(struct kiln_sandbox_netns *ret, int cancel_fd, struct kiln_error **err)
{
    pthread_mutex_lock(&lock);
    if (!wait_made(cancel_fd)) {
        pthread_mutex_unlock(&lock);
        return kiln_error_set(err, KILN_E_CANCELLED,
                              "the build was cancelled while the step's network was set up");
    }
    struct kiln_sandbox_netns ns = KILN_SANDBOX_NETNS_INIT;
    bool have = state == SPARE_READY && spare_ok;
    if (state == SPARE_READY) {
        ns = spare;
        spare = (struct kiln_sandbox_netns)KILN_SANDBOX_NETNS_INIT;
        state = SPARE_NONE;
    }
    start_making();
    pthread_mutex_unlock(&lock);
    if (have) {
        *ret = ns;
        return 0;
    }
    kiln_sandbox_netns_close(&ns); /* a failed spare: make one now, and say why it fails */
    return kiln_sandbox_netns_open(ret, cancel_fd, err);
}

void kiln_sandbox_netns_drop_spare(void)
{
    pthread_mutex_lock(&lock);
    (void)wait_made(-1);
    struct kiln_sandbox_netns ns = spare;
    spare = (struct kiln_sandbox_netns)KILN_SANDBOX_NETNS_INIT;
    state = SPARE_NONE;
    pthread_mutex_unlock(&lock);
    kiln_sandbox_netns_close(&ns);
}
