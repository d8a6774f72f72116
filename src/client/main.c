/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln - the client. Dispatches to the command table in commands.c.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "kiln-version.h"

#include "base/banned.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        kiln_commands_usage();
        return KILN_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("kiln version %s\n", KILN_VERSION);
        return KILN_EXIT_OK;
    }
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        kiln_commands_usage();
        return KILN_EXIT_OK;
    }
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            kiln_commands_usage();
            return KILN_EXIT_OK;
        }
        const struct kiln_command *c = kiln_command_find(argv[2]);
        if (!c) {
            fprintf(stderr, "kiln: unknown command '%s'; see 'kiln --help'\n", argv[2]);
            return KILN_EXIT_USAGE;
        }
        c->help();
        return KILN_EXIT_OK;
    }
    const struct kiln_command *c = kiln_command_find(name);
    if (!c) {
        fprintf(stderr, "kiln: unknown command '%s'; see 'kiln --help'\n", name);
        return KILN_EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
