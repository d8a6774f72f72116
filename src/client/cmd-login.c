/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd-login.c - `kiln login` and `kiln logout`: registry credentials in
 * kiln's credentials file (docs/internals/client.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "commands.h"
#include "registry/credentials.h"

#include "base/banned.h"

/* A password read from stdin is at most this long. */
#define PASSWORD_MAX 65536u

void kiln_cmd_login_help(void)
{
    printf("usage: kiln login [-u USER] [--password-stdin | -p PASSWORD] REGISTRY\n\n"
           "Stores credentials for REGISTRY (host[:port]) in kiln's credentials file\n"
           "($XDG_CONFIG_HOME/kiln/credentials.json, mode 0600). Builds use them to pull and\n"
           "push, before Docker's ~/.docker/config.json. They are checked at the first pull\n"
           "or push.\n\noptions:\n"
           "  -u, --username USER   the account (default: the one stored, else asked)\n"
           "      --password-stdin  read the password or token from standard input\n"
           "  -p, --password PASS   the password (visible to other users: prefer stdin)\n\n"
           "exit codes: 0 stored, 1 not stored, 2 usage\n");
}

void kiln_cmd_logout_help(void)
{
    printf("usage: kiln logout REGISTRY\n\nRemoves the credentials kiln stores for REGISTRY.\n\n"
           "exit codes: 0 removed (or none were stored), 1 failure, 2 usage\n");
}

static int read_stdin(char **ret)
{
    struct kiln_buf b = KILN_BUF_INIT(PASSWORD_MAX);
    char chunk[4096];
    ssize_t n;
    while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0)
        if (kiln_buf_add(&b, chunk, (size_t)n) < 0) {
            kiln_buf_release(&b);
            return -1;
        }
    while (b.len && (b.buf[b.len - 1] == '\n' || b.buf[b.len - 1] == '\r'))
        b.buf[--b.len] = '\0';
    *ret = kiln_buf_detach(&b, NULL);
    return 0;
}

static int store(const char *server, const struct kiln_registry_cred *cred, const char *what)
{
    struct kiln_error *e = NULL;
    int r = kiln_registry_credentials_set(NULL, server, cred, &e);
    if (r < 0) {
        fprintf(stderr, "kiln %s: %s\n", what, kiln_error_message(e, r));
        kiln_error_free(e);
        return KILN_EXIT_FAILURE;
    }
    return KILN_EXIT_OK;
}

int kiln_cmd_login(int argc, char **argv)
{
    const char *user = NULL, *server = NULL, *password = NULL;
    bool from_stdin = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            kiln_cmd_login_help();
            return KILN_EXIT_OK;
        } else if ((strcmp(a, "-u") == 0 || strcmp(a, "--username") == 0) && i + 1 < argc) {
            user = argv[++i];
        } else if (strncmp(a, "--username=", 11) == 0) {
            user = a + 11;
        } else if (strcmp(a, "--password-stdin") == 0) {
            from_stdin = true;
        } else if ((strcmp(a, "-p") == 0 || strcmp(a, "--password") == 0) && i + 1 < argc) {
            password = argv[++i];
        } else if (a[0] != '-' && !server) {
            server = a;
        } else {
            fprintf(stderr, "kiln login: unexpected argument '%s' (see kiln login --help)\n", a);
            return KILN_EXIT_USAGE;
        }
    }
    if (!server || !user || (!from_stdin && !password) || (from_stdin && password)) {
        fprintf(stderr, "kiln login: give REGISTRY, -u USER and the password with "
                        "--password-stdin (e.g. echo \"$TOKEN\" | kiln login -u me "
                        "--password-stdin registry.example.com)\n");
        return KILN_EXIT_USAGE;
    }
    if (password)
        fprintf(stderr,
                "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
    _cleanup_free_ char *secret = NULL;
    if (from_stdin && read_stdin(&secret) < 0) {
        fprintf(stderr, "kiln login: the password on standard input is longer than %u bytes\n",
                PASSWORD_MAX);
        return KILN_EXIT_FAILURE;
    }
    struct kiln_registry_cred cred = {.username = (char *)user,
                                      .secret = secret ? secret : (char *)password};
    if (!cred.secret || !*cred.secret) {
        fprintf(stderr, "kiln login: the password is empty\n");
        return KILN_EXIT_USAGE;
    }
    int r = store(server, &cred, "login");
    if (r == KILN_EXIT_OK)
        printf("Login Succeeded\n");
    return r;
}

int kiln_cmd_logout(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        kiln_cmd_logout_help();
        return KILN_EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "kiln logout: give the registry (kiln logout REGISTRY)\n");
        return KILN_EXIT_USAGE;
    }
    int r = store(argv[1], NULL, "logout");
    if (r == KILN_EXIT_OK)
        printf("Removing login credentials for %s\n", argv[1]);
    return r;
}
