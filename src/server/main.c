/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kilnd - kiln's build service: `serve` runs the API, `admin` manages
 * accounts, builders and tokens on the same data directory, `worker` runs
 * one build for `serve` (docs/internals/server.md).
 */
#include <stdio.h>
#include <string.h>

#include "kiln-version.h"
#include "server/admin.h"
#include "server/serve.h"
#include "server/worker.h"

#include "base/banned.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
        {"serve", kilnd_serve_main},
        {"admin", kilnd_admin_main},
        {"worker", kilnd_worker_main},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage:  kilnd COMMAND [OPTIONS]\n"
               "\n"
               "kiln's build service.\n"
               "\n"
               "Commands:\n"
               "  serve     Serve the build API (kilnd serve --help)\n"
               "  admin     Manage organisations, users, builders and tokens (kilnd admin --help)\n"
               "  version   Show the version\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        printf("kilnd version %s\n", KILN_VERSION);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; argc >= 2 && i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    if (argc >= 2)
        fprintf(stderr, "kilnd: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
