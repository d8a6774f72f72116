/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ssh-keys.c - ssh-agents of kiln's own for `--ssh ID=KEYFILE`
 * (docs/internals/client.md, "SSH keys").
 */
#include "ssh-keys.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/cleanup.h"

#include "base/banned.h"

extern char **environ;

#define AGENT_START_MS 5000 /* how long an agent may take to make its socket */
#define ADD_SAYS_MAX   512  /* bytes of ssh-add's message kept for an error */

struct kiln_ssh_keys {
    char *dir;     /* private (0700), holding the sockets */
    pid_t *agents; /* one per key file */
    size_t n;
};

/* Runs argv with stdin from /dev/null and stderr into errfd (-1: /dev/null); its pid. */
static int start(const char *const *argv, char *const *envp, int errfd, pid_t *ret_pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (errfd >= 0)
        posix_spawn_file_actions_adddup2(&fa, errfd, 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    int r = posix_spawnp(ret_pid, argv[0], &fa, NULL, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    return -r;
}

static int wait_for(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static bool socket_ready(const char *path)
{
    struct stat st;
    for (int waited = 0; waited < AGENT_START_MS; waited += 10) {
        if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            return true;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    return false;
}

/* The environment of ssh-add: ours with `auth` (SSH_AUTH_SOCK=the agent's) instead of our
 * SSH_AUTH_SOCK, and no askpass helper. The strings stay the caller's and environ's. */
static char **add_env(char *auth)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = kiln_xcalloc(n + 2, sizeof(*env));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SSH_AUTH_SOCK=", 14) != 0 &&
            strncmp(environ[i], "SSH_ASKPASS=", 12) != 0)
            env[k++] = environ[i];
    env[k] = auth;
    return env;
}

static int load_key(struct kiln_ssh_keys *k, struct kiln_build_ssh *s, struct kiln_error **err)
{
    char *sock = kiln_xasprintf("%s/agent-%zu.sock", k->dir, k->n);
    const char *const agent[] = {"ssh-agent", "-D", "-a", sock, NULL};
    pid_t pid;
    int r = start(agent, environ, -1, &pid);
    if (r < 0) {
        free(sock);
        return r == -ENOENT ? kiln_error_set(err, KILN_E_NOTFOUND,
                                             "--ssh %s=%s: ssh-agent not found in PATH; install "
                                             "it (apt-get install openssh-client)",
                                             s->id, s->key_file)
                            : kiln_error_set_errno(err, r, "--ssh %s: start ssh-agent", s->id);
    }
    k->agents[k->n++] = pid;
    if (!socket_ready(sock)) {
        free(sock);
        return kiln_error_set(err, KILN_E_TIMEOUT,
                              "--ssh %s: ssh-agent made no socket within %d ms", s->id,
                              AGENT_START_MS);
    }
    const char *const add[] = {"ssh-add", "-q", s->key_file, NULL};
    _cleanup_free_ char *auth = kiln_xasprintf("SSH_AUTH_SOCK=%s", sock);
    _cleanup_free_ char **env = add_env(auth);
    _cleanup_close_ int errfd = memfd_create("ssh-add", MFD_CLOEXEC);
    r = errfd < 0 ? -errno : start(add, env, errfd, &pid);
    if (r == 0)
        r = wait_for(pid);
    if (r != 0) {
        char msg[ADD_SAYS_MAX];
        kiln_last_line(errfd, msg, sizeof(msg)); /* what ssh-add wrote */
        free(sock);
        return r == -ENOENT
                       ? kiln_error_set(err, KILN_E_NOTFOUND,
                                        "--ssh %s=%s: ssh-add not found in PATH; install "
                                        "it (apt-get install openssh-client)",
                                        s->id, s->key_file)
                       : kiln_error_set(err, KILN_E_INVALID,
                                        "--ssh %s=%s: ssh-add could not load the key: %s; a "
                                        "key with a passphrase needs a terminal, or load it "
                                        "into your ssh-agent and use --ssh %s",
                                        s->id, s->key_file, msg[0] ? msg : "no message", s->id);
    }
    s->socket = sock;
    return 0;
}

int kiln_ssh_keys_start(struct kiln_build_request *req, struct kiln_ssh_keys **ret,
                        struct kiln_error **err)
{
    *ret = NULL;
    size_t keys = 0;
    for (size_t i = 0; i < req->n_ssh; i++)
        keys += req->ssh[i].key_file != NULL;
    if (!keys)
        return 0;
    struct kiln_ssh_keys *k = kiln_xcalloc(1, sizeof(*k));
    k->agents = kiln_xcalloc(keys, sizeof(*k->agents));
    const char *tmp = getenv("TMPDIR");
    k->dir = kiln_xasprintf("%s/kiln-ssh-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(k->dir)) {
        int r = kiln_error_set_errno(err, -errno, "--ssh: cannot create '%s'", k->dir);
        free(k->dir);
        k->dir = NULL;
        kiln_ssh_keys_stop(k);
        return r;
    }
    for (size_t i = 0; i < req->n_ssh; i++) {
        int r = req->ssh[i].key_file ? load_key(k, &req->ssh[i], err) : 0;
        if (r < 0) {
            kiln_ssh_keys_stop(k);
            return r;
        }
    }
    *ret = k;
    return 0;
}

void kiln_ssh_keys_stop(struct kiln_ssh_keys *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++) {
        (void)kill(k->agents[i], SIGTERM);
        (void)wait_for(k->agents[i]);
        _cleanup_free_ char *sock = kiln_xasprintf("%s/agent-%zu.sock", k->dir, i);
        (void)unlink(sock);
    }
    if (k->dir)
        (void)rmdir(k->dir);
    free(k->dir);
    free(k->agents);
    free(k);
}
