/* SPDX-License-Identifier: Apache-2.0 */
/*
 * docker-config.c - credentials as the docker CLI finds them: config.json's
 * credHelpers, credsStore and auths, and the credential helper protocol
 * (`docker-credential-NAME get`, the server on stdin, a JSON answer).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "internal.h"

#include "base/banned.h"

/* How long a credential helper may take. */
#define HELPER_TIMEOUT_MS 30000

extern char **environ;

/* What a helper gets on stdin: Docker Hub's old index URL, else the host. */
static char *helper_server(const char *server)
{
    _cleanup_free_ char *key = kiln_registry_cred_key(server);
    if (strcmp(key, "docker.io") == 0)
        return kiln_xstrdup("https://index.docker.io/v1/");
    return TAKE_PTR(key);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the helper's stdout until EOF, the cap or the deadline. */
static int read_output(int fd, struct kiln_buf *out, const char *prog, struct kiln_error **err)
{
    long long deadline = now_ms() + HELPER_TIMEOUT_MS;
    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0)
            return kiln_error_set(err, KILN_E_TIMEOUT, "'%s' did not answer in %d s", prog,
                                  HELPER_TIMEOUT_MS / 1000);
        if (poll(&p, 1, (int)left) < 0) {
            if (errno == EINTR)
                continue;
            return kiln_error_set_errno(err, -errno, "poll '%s'", prog);
        }
        if (kiln_buf_grow(out, 4096) < 0)
            return kiln_error_set(err, KILN_E_LIMIT, "'%s' answered more than %zu bytes", prog,
                                  out->max);
        ssize_t n = read(fd, out->buf + out->len, out->alloc - out->len - 1);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return kiln_error_set_errno(err, -errno, "read '%s'", prog);
        if (n == 0)
            return 0;
        out->len += (size_t)n;
        out->buf[out->len] = '\0';
    }
}

/*
 * Runs `prog get` (looked up on PATH, no shell) with `input` on stdin and
 * stderr on /dev/null; its stdout goes to out. Returns its exit status.
 */
static int spawn_helper(const char *prog, const char *input, struct kiln_buf *out,
                        struct kiln_error **err)
{
    int in[2], outp[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return kiln_error_set_errno(err, -errno, "pipe");
    if (pipe2(outp, O_CLOEXEC) < 0) {
        int r = -errno;
        close(in[0]);
        close(in[1]);
        return kiln_error_set_errno(err, r, "pipe");
    }
    /* The input fits in the pipe, so writing it first cannot block or raise SIGPIPE. */
    ssize_t w = write(in[1], input, strlen(input));
    close(in[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {(char *)prog, (char *)"get", NULL};
    pid_t pid = -1;
    int sr = w < 0 ? errno : posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(outp[1]);
    if (sr != 0) {
        close(outp[0]);
        return kiln_error_set_errno(err, -sr, "run '%s'", prog);
    }
    int r = read_output(outp[0], out, prog, err);
    close(outp[0]);
    if (r < 0)
        (void)kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return r;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* {"ServerURL": ..., "Username": ..., "Secret": ...}; Username "<token>" means an identity token.
 */
static int parse_helper_answer(const char *prog, const struct kiln_buf *out,
                               struct kiln_registry_cred **ret, struct kiln_error **err)
{
    json_t *root = NULL;
    int r = kiln_registry_json_parse(prog, out->buf, out->len, &root, err);
    if (r < 0)
        return r;
    const char *user = json_string_value(json_object_get(root, "Username"));
    const char *secret = json_string_value(json_object_get(root, "Secret"));
    if (!secret || !secret[0]) {
        json_decref(root);
        return kiln_error_set(err, KILN_E_INVALID, "'%s' answered without a 'Secret'", prog);
    }
    struct kiln_registry_cred *c = kiln_xcalloc(1, sizeof(*c));
    if (user && strcmp(user, "<token>") == 0) {
        c->identity_token = kiln_xstrdup(secret);
    } else {
        c->username = user && user[0] ? kiln_xstrdup(user) : NULL;
        c->secret = kiln_xstrdup(secret);
    }
    json_decref(root);
    *ret = c;
    return 1;
}

static int run_helper(const char *name, const char *server, struct kiln_registry_cred **ret,
                      struct kiln_error **err)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
        return kiln_error_set(err, KILN_E_INVALID, "invalid credential helper name '%.64s'", name);
    _cleanup_free_ char *prog = kiln_xasprintf("docker-credential-%s", name);
    _cleanup_free_ char *input = helper_server(server);
    _cleanup_buf_ struct kiln_buf out = KILN_BUF_INIT(KILN_REGISTRY_CREDENTIALS_MAX);
    int status = spawn_helper(prog, input, &out, err);
    int r = status;
    if (status > 0 && strstr(out.buf, "credentials not found"))
        r = 0;
    else if (status > 0)
        r = kiln_error_set(err, KILN_E_UPSTREAM, "'%s get' failed with exit status %d", prog,
                           status);
    else if (status == 0)
        r = parse_helper_answer(prog, &out, ret, err);
    explicit_bzero(out.buf, out.len);
    return r;
}

/* The helper config.json names for server: credHelpers first, then credsStore. */
static const char *helper_for(json_t *root, const char *server)
{
    _cleanup_free_ char *want = kiln_registry_cred_key(server);
    const char *key;
    json_t *v;
    json_object_foreach (json_object_get(root, "credHelpers"), key, v) {
        _cleanup_free_ char *k = kiln_registry_cred_key(key);
        if (strcmp(k, want) == 0 && json_is_string(v))
            return json_string_value(v);
    }
    const char *store = json_string_value(json_object_get(root, "credsStore"));
    return store && store[0] ? store : NULL;
}

static int from_auths(json_t *root, const char *path, const char *server,
                      struct kiln_registry_cred **ret, struct kiln_error **err)
{
    _cleanup_free_ char *want = kiln_registry_cred_key(server);
    const char *key;
    json_t *v;
    json_object_foreach (json_object_get(root, "auths"), key, v) {
        _cleanup_free_ char *k = kiln_registry_cred_key(key);
        if (strcmp(k, want) == 0)
            return kiln_registry_cred_from_json(v, path, ret, err);
    }
    return 0;
}

int kiln_registry_docker_config_get(const char *config_dir, const char *server,
                                    struct kiln_registry_cred **ret, struct kiln_error **err)
{
    const char *env = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
    _cleanup_free_ char *path = NULL;
    if (config_dir || (env && env[0]))
        path = kiln_xasprintf("%s/config.json", config_dir ? config_dir : env);
    else if (home && home[0])
        path = kiln_xasprintf("%s/.docker/config.json", home);
    else
        return 0;
    _cleanup_buf_ struct kiln_buf text = KILN_BUF_INIT(KILN_REGISTRY_CREDENTIALS_MAX);
    int r = kiln_registry_read_file(path, &text, err);
    if (r == -ENOENT)
        return 0;
    json_t *root = NULL;
    if (r >= 0)
        r = kiln_registry_json_parse(path, text.buf, text.len, &root, err);
    explicit_bzero(text.buf, text.len);
    if (r < 0)
        return r;
    const char *helper = helper_for(root, server);
    /* As docker's native store: what the helper does not know, the file may. */
    r = helper ? run_helper(helper, server, ret, err) : 0;
    if (r == 0)
        r = from_auths(root, path, server, ret, err);
    json_decref(root);
    return r;
}
