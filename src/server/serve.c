/* SPDX-License-Identifier: Apache-2.0 */
/*
 * serve.c - `kilnd serve`: the HTTP API over the data directory, until
 * SIGTERM (drain: running builds get --drain-timeout to finish, then are
 * cancelled) or SIGINT (cancel now) (docs/internals/server.md).
 */
#include "serve.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/human.h"
#include "base/strv.h"
#include "build-record.h"
#include "db.h"
#include "kiln-version.h"
#include "ratelimit.h"
#include "sandbox/netns-egress.h"
#include "sandbox/runtime-select.h"
#include "sandbox/seccomp.h"
#include "sandbox/userns.h"
#include "server.h"
#include "token-service.h"

#include "base/banned.h"

#define ROUTES_MAX      64
#define DEFAULT_DRAIN_S 60
#define DEFAULT_LISTEN  "127.0.0.1:8080"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage:  kilnd serve [OPTIONS]\n"
            "\n"
            "Serve kiln's build API: builders, builds, the registry token service.\n"
            "\n"
            "Options:\n"
            "      --data DIR            Data directory (default $KILND_DATA or /var/lib/kilnd)\n"
            "      --listen ADDR:PORT    Address to listen on (default %s)\n"
            "      --tls-cert FILE       TLS certificate (PEM); with --tls-key, serve HTTPS\n"
            "      --tls-key FILE        TLS private key (PEM)\n"
            "      --drain-timeout DUR   On SIGTERM, how long running builds may go on before\n"
            "                            they are cancelled (default 1m0s)\n"
            "      --oci-runtime RUNTIME The OCI runtime of every build's RUN steps, a name in\n"
            "                            PATH or a path (default $KILN_OCI_RUNTIME, else crun\n"
            "                            where it works, else runc); a client cannot choose it\n"
            "\n"
            "Environment: KILN_INSECURE_REGISTRIES (host[:port],... builds push to and pull\n"
            "from over plain HTTP, besides loopback), KILND_DATA, KILN_OCI_RUNTIME,\n"
            "KILN_RUN_SECCOMP (unconfined: RUN steps without the seccomp filter),\n"
            "KILN_RUN_EGRESS_DENY (IPv4 ranges RUN's default network never reaches, default\n"
            "169.254.0.0/16,100.100.100.200/32: cloud instance metadata; none: no rule),\n"
            "KILN_RUN_PIDS_MAX, KILN_RUN_MEMORY_MAX, KILN_RUN_CPUS, KILN_RUN_DISK_RESERVE,\n"
            "KILN_RUN_INODE_RESERVE (RUN's limits),\n"
            "KILN_RUN_USERNS (HOSTID[:SIZE]: RUN steps in a user namespace, their root the\n"
            "host's user HOSTID), KILND_UPLOAD_IDLE (how long a build may wait for its\n"
            "context, default 1h).\n"
            "\n"
            "Signals: SIGTERM drains (no new builds, running ones finish or are cancelled at\n"
            "the drain timeout), SIGINT cancels running builds now. Logs go to stderr, one\n"
            "line per event (level=... msg=...).\n"
            "\n"
            "Exit status: 0 stopped cleanly, 1 could not start, 2 the command line is wrong.\n",
            DEFAULT_LISTEN);
}

struct opts {
    const char *data, *listen, *tls_cert, *tls_key, *oci_runtime;
    int64_t drain_s;
};

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {
            {"data", required_argument, NULL, 'd'},
            {"listen", required_argument, NULL, 'l'},
            {"tls-cert", required_argument, NULL, 'c'},
            {"tls-key", required_argument, NULL, 'k'},
            {"drain-timeout", required_argument, NULL, 't'},
            {"oci-runtime", required_argument, NULL, 'r'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *env = getenv("KILND_DATA");
    *o = (struct opts){.data = env && *env ? env : "/var/lib/kilnd",
                       .listen = DEFAULT_LISTEN,
                       .drain_s = DEFAULT_DRAIN_S};
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", longs, NULL)) != -1;) {
        switch (c) {
        case 'd': o->data = optarg; break;
        case 'l': o->listen = optarg; break;
        case 'c': o->tls_cert = optarg; break;
        case 'k': o->tls_key = optarg; break;
        case 'r': o->oci_runtime = optarg; break;
        case 't':
            if (kiln_parse_duration(optarg, &o->drain_s) < 0) {
                fprintf(stderr, "kilnd serve: --drain-timeout %s: use a duration such as 5m\n",
                        optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: fprintf(stderr, "kilnd serve: see kilnd serve --help\n"); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kilnd serve: unexpected argument '%s' (see kilnd serve --help)\n",
                argv[optind]);
        return 2;
    }
    if (!o->tls_cert != !o->tls_key) {
        fprintf(stderr, "kilnd serve: --tls-cert and --tls-key go together\n");
        return 2;
    }
    return -1;
}

static int make_dirs(const char *data, struct kiln_error **err)
{
    const char *subs[] = {"", "/builds", "/builders", "/tmp"};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        _cleanup_free_ char *d = kiln_xasprintf("%s%s", data, subs[i]);
        if (mkdir(d, 0700) < 0 && errno != EEXIST)
            return kiln_error_set_errno(err, -errno, "cannot create '%s'", d);
    }
    return 0;
}

/*
 * The OCI runtime of the builds, decided now: a chosen one (--oci-runtime,
 * else $KILN_OCI_RUNTIME) that cannot run a container stops kilnd from
 * starting; without a choice a missing runtime is a warning. Workers inherit
 * the choice through $KILN_OCI_RUNTIME and the decision through
 * $KILN_OCI_RUNTIME_KNOWN (so they do not probe again), and a request never
 * sets it.
 */
static int oci_runtime(const struct opts *o, struct kiln_error **err)
{
    if (o->oci_runtime && setenv(KILN_SANDBOX_RUNTIME_ENV, o->oci_runtime, 1) < 0)
        return kiln_error_set_errno(err, -errno, "set %s", KILN_SANDBOX_RUNTIME_ENV);
    unsetenv(KILN_SANDBOX_RUNTIME_KNOWN_ENV); /* decided here, by a probe */
    const char *chosen = getenv(KILN_SANDBOX_RUNTIME_ENV);
    _cleanup_free_ char *scratch = kiln_xasprintf("%s/tmp", o->data);
    _cleanup_(kiln_sandbox_runtime_release) struct kiln_sandbox_runtime rt = {0};
    struct kiln_error *why = NULL;
    int r = kiln_sandbox_runtime_select(NULL, scratch, &rt, &why);
    if (r < 0 && chosen && *chosen)
        r = kiln_error_set(err, r, "%s", kiln_error_message(why, r));
    else if (r < 0)
        fprintf(stderr,
                "level=warn msg=\"no OCI runtime: builds with RUN steps fail\" error=\"%s\"\n",
                kiln_error_message(why, r));
    kiln_error_free(why);
    if (r < 0)
        return chosen && *chosen ? r : 0;
    if ((r = kiln_sandbox_runtime_export(&rt)) < 0) /* the workers take it unprobed */
        return kiln_error_set_errno(err, r, "set %s", KILN_SANDBOX_RUNTIME_KNOWN_ENV);
    if (rt.note)
        fprintf(stderr, "level=debug msg=\"%s\"\n", rt.note);
    fprintf(stderr, "level=info msg=\"OCI runtime\" runtime=%s%s\n", rt.path,
            rt.v1_view ? " cgroups=v1" : "");
    return 0;
}

/* KILN_RUN_USERNS, which the workers inherit: checked now, so a wrong one stops kilnd. */
static int userns(struct kiln_error **err)
{
    struct kiln_sandbox_userns map;
    int r = kiln_sandbox_userns_check(&map, err);
    if (r > 0)
        fprintf(stderr, "level=info msg=\"RUN steps run in a user namespace\" root=%u ids=%u\n",
                map.host_id, map.size);
    return r < 0 ? r : 0;
}

/* KILN_RUN_EGRESS_DENY, which the workers inherit: a malformed one would fail every RUN. */
static int egress(struct kiln_error **err)
{
    struct kiln_sandbox_egress deny;
    return kiln_sandbox_egress_get(&deny, err);
}

/* Builds a kilnd stopped without finishing are failed, and their logs say so. */
static void recover(struct kilnd *app)
{
    static const char reason[] = "kilnd stopped while the build was running; run it again";
    struct kiln_strv ids = KILN_STRV_INIT;
    struct kiln_error *e = NULL;
    if (kilnd_build_record_fail_unfinished(app->db, reason, &ids, &e) < 0)
        fprintf(stderr, "level=error msg=\"cannot recover builds\" error=\"%s\"\n",
                kiln_error_message(e, -EIO));
    kiln_error_free(e);
    for (size_t i = 0; i < ids.n; i++) {
        _cleanup_free_ char *path =
                kiln_xasprintf("%s/builds/%s/events.ndjson", app->data_dir, ids.v[i]);
        struct kilnd_events *ev = NULL;
        if (kilnd_events_open(path, true, &ev, NULL) >= 0)
            kilnd_events_append_json(ev, json_pack("{s:s, s:s, s:s}", "kiln", "result", "status",
                                                   "failed", "error", reason));
        kilnd_events_unref(ev);
        fprintf(stderr, "level=warn msg=\"build marked failed after a restart\" build=%s\n",
                ids.v[i]);
    }
    kiln_strv_release(&ids);
}

static void observe(void *app_, const struct kilnd_http_request *rq, int status, uint64_t sent,
                    int64_t ns)
{
    struct kilnd *app = app_;
    atomic_fetch_add(&app->http_requests, 1);
    atomic_fetch_add(&app->bytes_in, rq->bytes);
    atomic_fetch_add(&app->bytes_out, sent);
    fprintf(stderr,
            "level=info msg=request method=%s path=%s status=%d in=%" PRIu64 " out=%" PRIu64
            " ms=%" PRId64 " remote=%s\n",
            rq->method, rq->path, status, rq->bytes, sent, ns / 1000000, rq->remote_ip);
}

static size_t routes(struct kilnd_route *all)
{
    size_t n = 0;
    const struct {
        const struct kilnd_route *r;
        size_t n;
    } parts[] = {
            {kilnd_api_routes, kilnd_api_n_routes},
            {kilnd_api_builder_routes, kilnd_api_n_builder_routes},
            {kilnd_api_build_routes, kilnd_api_n_build_routes},
    };
    for (size_t p = 0; p < sizeof(parts) / sizeof(parts[0]); p++)
        for (size_t i = 0; i < parts[p].n && n < ROUTES_MAX; i++)
            all[n++] = parts[p].r[i];
    return n;
}

/* Waits for SIGTERM or SIGINT; returns the signal. */
static int wait_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    for (;;) {
        int sig = sigwaitinfo(&set, NULL);
        if (sig > 0)
            return sig;
    }
}

static int run(const struct opts *o, struct kilnd *app)
{
    struct kiln_error *e = NULL;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        fprintf(stderr, "kilnd serve: cannot find its own binary in /proc/self/exe\n");
        return 1;
    }
    exe[n] = '\0';
    int r = make_dirs(o->data, &e);
    if (r >= 0)
        r = oci_runtime(o, &e);
    if (r >= 0)
        r = kiln_sandbox_seccomp_check(&e); /* a misspelt value would fail every RUN */
    if (r >= 0)
        r = userns(&e);
    if (r >= 0)
        r = egress(&e);
    if (r >= 0)
        r = kilnd_db_open(o->data, &app->db, &e);
    if (r < 0) {
        fprintf(stderr, "kilnd serve: %s\n", kiln_error_message(e, r));
        kiln_error_free(e);
        return 1;
    }
    recover(app);
    app->rl = kilnd_ratelimit_new();
    if (kilnd_token_service_open(o->data, &app->ts, &e) < 0) {
        fprintf(stderr, "level=warn msg=\"registry token service off\" error=\"%s\"\n",
                kiln_error_message(e, -EIO));
        kiln_error_free(e);
        e = NULL;
    }
    app->queue = kilnd_queue_new(app->db, exe);
    struct kilnd_route all[ROUTES_MAX];
    _cleanup_free_ char *spool = kiln_xasprintf("%s/tmp", o->data);
    struct kilnd_http_options ho = {
            .listen = o->listen,
            .tls_cert = o->tls_cert,
            .tls_key = o->tls_key,
            .spool_dir = spool,
            .routes = all,
            .n_routes = routes(all),
            .app = app,
            .observe = observe,
    };
    struct kilnd_http *h = NULL;
    uint16_t port = 0;
    if ((r = kilnd_http_start(&ho, &h, &port, &e)) < 0) {
        fprintf(stderr, "kilnd serve: %s\n", kiln_error_message(e, r));
        kiln_error_free(e);
        return 1;
    }
    fprintf(stderr, "level=info msg=\"kilnd %s listening\" url=%s://%s data=%s port=%u\n",
            KILN_VERSION, o->tls_cert ? "https" : "http", o->listen, o->data, port);
    int sig = wait_signal();
    fprintf(stderr, "level=info msg=\"%s\" signal=%s\n",
            sig == SIGTERM ? "draining: no new builds" : "cancelling running builds",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    kilnd_queue_drain(app->queue, sig == SIGTERM ? o->drain_s : 0);
    kilnd_http_stop(h);
    fprintf(stderr, "level=info msg=\"kilnd stopped\"\n");
    return 0;
}

int kilnd_serve_main(int argc, char **argv)
{
    struct opts o;
    int r = parse(argc, argv, &o);
    if (r >= 0)
        return r;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* uploads hold a file per context file until they commit a batch; workers inherit this */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    struct kilnd app = {.data_dir = o.data, .anchors_lock = PTHREAD_MUTEX_INITIALIZER};
    r = run(&o, &app);
    kilnd_queue_free(app.queue);
    kilnd_api_anchors_release(&app);
    kilnd_token_service_free(app.ts);
    kilnd_ratelimit_free(app.rl);
    kilnd_db_close(app.db);
    return r;
}
