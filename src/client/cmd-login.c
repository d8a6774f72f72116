/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd-login.c - `kiln login` and `kiln logout`: registry credentials in
 * kiln's credentials file, with docker login's flags and messages
 * (docs/internals/client.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "builders.h"
#include "cloud-http.h"
#include "commands.h"
#include "registry/credentials.h"

#include "base/banned.h"

#define DEFAULT_REGISTRY "docker.io"
/* How long `kiln login` waits for a server to say whether it is a kilnd. */
#define PROBE_TIMEOUT 10L

void kiln_cmd_login_help(void)
{
    printf("Usage:  kiln login [OPTIONS] [SERVER]\n"
           "\n"
           "Store credentials for a registry (default docker.io) in kiln's credentials file\n"
           "($XDG_CONFIG_HOME/kiln/credentials.json, mode 0600). Builds use them to pull and "
           "push.\n"
           "\n"
           "When SERVER is a kilnd (it answers GET /v1/whoami), the token is checked first\n"
           "and the server is recorded for kiln create. A bare host[:port] is reached over\n"
           "https, except localhost, 127.0.0.0/8, [::1] and $KILN_INSECURE_REGISTRIES.\n"
           "\n"
           "Options:\n"
           "  -p, --password string   Password or token (insecure: it shows in the process list)\n"
           "      --password-stdin    Take the password or token from stdin\n"
           "  -u, --username string   Username\n"
           "\n"
           "Exit status: 0 stored, 1 a kilnd refused the token or the file cannot be written,\n"
           "2 the command line is wrong.\n");
}

void kiln_cmd_logout_help(void)
{
    printf("Usage:  kiln logout [SERVER]\n"
           "\n"
           "Remove the credentials stored for a registry (default docker.io).\n"
           "\n"
           "Exit status: 0 removed (or none stored), 1 the file cannot be written, 2 the "
           "command line is wrong.\n");
}

/* Reads one line from the terminal, without echo when `secret`. NULL at EOF. */
static char *prompt(const char *what, bool secret)
{
    fprintf(stderr, "%s: ", what);
    fflush(stderr);
    struct termios old, quiet;
    bool hidden = secret && tcgetattr(STDIN_FILENO, &old) == 0;
    if (hidden) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char line[KILN_LOGIN_SECRET_MAX];
    char *r = fgets(line, sizeof(line), stdin);
    if (hidden) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!r)
        return NULL;
    line[strcspn(line, "\r\n")] = '\0';
    char *s = kiln_xstrdup(line);
    explicit_bzero(line, sizeof(line));
    return s;
}

/* All of stdin, without the trailing newline (docker login --password-stdin). */
static char *read_stdin_secret(void)
{
    struct kiln_buf b = KILN_BUF_INIT(KILN_LOGIN_SECRET_MAX);
    char chunk[4096];
    size_t n;
    int r = 0;
    while (r == 0 && (n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        r = kiln_buf_add(&b, chunk, n);
    explicit_bzero(chunk, sizeof(chunk));
    if (r < 0 || ferror(stdin)) {
        explicit_bzero(b.buf, b.len);
        kiln_buf_release(&b);
        return NULL;
    }
    while (b.len && (b.buf[b.len - 1] == '\n' || b.buf[b.len - 1] == '\r'))
        b.buf[--b.len] = '\0';
    return kiln_buf_detach(&b, NULL);
}

static void secret_free(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    free(s);
}

struct login_args {
    const char *server, *username, *password;
    bool password_stdin, help;
};

static int check_args(const struct login_args *a)
{
    if (a->password && a->password_stdin) {
        fprintf(stderr, "kiln login: --password and --password-stdin are mutually exclusive\n");
        return -1;
    }
    if (a->password_stdin && !a->username) {
        fprintf(stderr, "kiln login: --password-stdin needs --username (-u USER)\n");
        return -1;
    }
    return 0;
}

static int parse(int argc, char **argv, struct login_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char **slot = NULL;
        if (strcmp(s, "-u") == 0 || strcmp(s, "--username") == 0)
            slot = &a->username;
        else if (strcmp(s, "-p") == 0 || strcmp(s, "--password") == 0)
            slot = &a->password;
        else if (strncmp(s, "--username=", 11) == 0)
            a->username = s + 11;
        else if (strncmp(s, "--password=", 11) == 0)
            a->password = s + 11;
        else if (strcmp(s, "--password-stdin") == 0)
            a->password_stdin = true;
        else if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0)
            a->help = true;
        else if (s[0] == '-' || a->server) {
            fprintf(stderr, "kiln login: unexpected '%s' (see kiln login --help)\n", s);
            return -1;
        } else
            a->server = s;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kiln login: flag needs an argument: %s\n", s);
                return -1;
            }
            *slot = argv[++i];
        }
    }
    return check_args(a);
}

/* The password from -p, stdin or the terminal; NULL (after a message) when there is none. */
static char *password(const struct login_args *a)
{
    if (a->password) {
        fprintf(stderr,
                "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
        return kiln_xstrdup(a->password);
    }
    char *p = NULL;
    if (a->password_stdin) {
        if (!(p = read_stdin_secret()))
            fprintf(stderr, "kiln login: cannot read the password from stdin (at most %u bytes)\n",
                    KILN_LOGIN_SECRET_MAX);
    } else if (isatty(STDIN_FILENO)) {
        p = prompt("Password", true);
    } else {
        fprintf(stderr, "kiln login: cannot ask for a password: stdin is not a terminal; use "
                        "--password-stdin\n");
    }
    if (p && !*p) {
        fprintf(stderr, "kiln login: the password is empty\n");
        secret_free(p);
        p = NULL;
    }
    return p;
}

enum probe { NOT_KILND, KILND, REFUSED, UNTRUSTED };

/*
 * Whether `server` is a kilnd that accepts `secret`: GET /v1/whoami answered
 * with a "principal" (KILND), or refused with kilnd's {"error"} form
 * (REFUSED). A server whose TLS certificate cannot be verified is UNTRUSTED
 * (*err says so): the token is not handed to it. Anything else (a registry,
 * no answer) is NOT_KILND.
 */
static enum probe probe(const char *endpoint, const char *secret, struct kiln_error **err)
{
    _cleanup_(kiln_cloud_freep) struct kiln_cloud *c = NULL;
    if (kiln_cloud_open_token(endpoint, secret, &c, NULL) < 0)
        return NOT_KILND;
    kiln_cloud_set_timeout(c, PROBE_TIMEOUT);
    json_t *who = NULL;
    int r = kiln_cloud_json(c, "GET", "/v1/whoami", NULL, &who, err);
    bool principal = r >= 0 && json_is_string(json_object_get(who, "principal"));
    json_decref(who);
    bool kilnd_error = false;
    if (r < 0 && kiln_cloud_last_status(c, &kilnd_error) == 401 && kilnd_error)
        return REFUSED;
    if (r < 0 && strstr(kiln_error_message(*err, r), "certificate"))
        return UNTRUSTED;
    return principal ? KILND : NOT_KILND;
}

/* Records a kilnd server in builders.json for kiln create. */
static int record_server(const char *endpoint)
{
    _cleanup_(kiln_builders_freep) struct kiln_builders *bs = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_builders_load(NULL, &bs, &e);
    if (r >= 0)
        r = kiln_builders_add_server(bs, endpoint, (long long)time(NULL), &e);
    if (r >= 0)
        r = kiln_builders_save(bs, &e);
    if (r < 0) {
        fprintf(stderr, "kiln login: %s\n", kiln_error_message(e, r));
        kiln_error_free(e);
        return KILN_EXIT_FAILURE;
    }
    return KILN_EXIT_OK;
}

static int store(const char *server, const struct kiln_registry_cred *cred, const char *verb)
{
    _cleanup_free_ char *path = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_registry_credentials_path(&path, &e);
    if (r >= 0)
        r = kiln_registry_credentials_set(path, server, cred, &e);
    if (r < 0) {
        fprintf(stderr, "kiln %s: %s\n", verb, kiln_error_message(e, r));
        kiln_error_free(e);
        return KILN_EXIT_FAILURE;
    }
    if (cred)
        fprintf(stderr, "WARNING! Your credentials are stored unencrypted in '%s' (mode 0600).\n",
                path);
    return KILN_EXIT_OK;
}

int kiln_cmd_login(int argc, char **argv)
{
    struct login_args a = {0};
    if (parse(argc, argv, &a) < 0)
        return KILN_EXIT_USAGE;
    if (a.help) {
        kiln_cmd_login_help();
        return KILN_EXIT_OK;
    }
    const char *server = a.server ? a.server : DEFAULT_REGISTRY;
    _cleanup_free_ char *asked = NULL;
    if (!a.username) {
        if (!isatty(STDIN_FILENO)) {
            fprintf(stderr, "kiln login: cannot ask for a username: stdin is not a terminal; "
                            "use -u USER --password-stdin\n");
            return KILN_EXIT_USAGE;
        }
        if (!(asked = prompt("Username", false)) || !*asked) {
            fprintf(stderr, "kiln login: the username is empty\n");
            return KILN_EXIT_USAGE;
        }
    }
    char *secret = password(&a);
    if (!secret)
        return KILN_EXIT_USAGE;
    struct kiln_registry_cred cred = {.username = (char *)(a.username ? a.username : asked),
                                      .secret = secret};
    _cleanup_free_ char *endpoint = kiln_cloud_endpoint_for(server);
    struct kiln_error *e = NULL;
    enum probe p = probe(endpoint, secret, &e);
    int r = KILN_EXIT_FAILURE;
    if (p == REFUSED)
        fprintf(stderr, "kiln login: login to %s failed: the server refused the token\n", server);
    else if (p == UNTRUSTED)
        fprintf(stderr, "kiln login: login to %s failed: %s\n", server, kiln_error_message(e, r));
    else
        r = store(server, &cred, "login");
    secret_free(secret);
    kiln_error_free(e);
    if (r == KILN_EXIT_OK && p == KILND)
        r = record_server(endpoint);
    if (r == KILN_EXIT_OK)
        printf("Login Succeeded\n");
    return r;
}

int kiln_cmd_logout(int argc, char **argv)
{
    const char *server = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            kiln_cmd_logout_help();
            return KILN_EXIT_OK;
        }
        if (argv[i][0] == '-' || server) {
            fprintf(stderr, "kiln logout: unexpected '%s' (see kiln logout --help)\n", argv[i]);
            return KILN_EXIT_USAGE;
        }
        server = argv[i];
    }
    if (!server)
        server = DEFAULT_REGISTRY;
    _cleanup_free_ char *path = NULL;
    struct kiln_registry_cred *have = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_registry_credentials_path(&path, &e);
    if (r >= 0)
        r = kiln_registry_credentials_get(path, server, &have, &e);
    kiln_registry_cred_free(have);
    if (r == 0) {
        printf("Not logged in to %s\n", server);
        return KILN_EXIT_OK;
    }
    if (r < 0) {
        fprintf(stderr, "kiln logout: %s\n", kiln_error_message(e, r));
        kiln_error_free(e);
        return KILN_EXIT_FAILURE;
    }
    printf("Removing login credentials for %s\n", server);
    return store(server, NULL, "logout");
}
