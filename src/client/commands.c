/* SPDX-License-Identifier: Apache-2.0 */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"

#include "base/banned.h"

static const struct kiln_command commands[] = {
        {"build", "build an image from a Dockerfile", kiln_cmd_build, kiln_cmd_build_help},
        {"du", "show the disk the build cache takes", kiln_cmd_du, kiln_cmd_du_help},
        {"login", "log in to a registry or a kilnd (token on stdin)", kiln_cmd_login,
         kiln_cmd_login_help},
        {"logout", "remove the credentials of a registry", kiln_cmd_logout, kiln_cmd_logout_help},
        {"prune", "remove build cache", kiln_cmd_prune, kiln_cmd_prune_help},
        {"debug", "inspect how kiln reads a Dockerfile", kiln_cmd_debug, kiln_cmd_debug_help},
        {"create", "create a builder for a kilnd cloud builder", kiln_cmd_create,
         kiln_cmd_create_help},
        {"use", "set the current builder", kiln_cmd_use, kiln_cmd_use_help},
        {"ls", "list builders", kiln_cmd_ls, kiln_cmd_ls_help},
        {"rm", "remove a builder", kiln_cmd_rm, kiln_cmd_rm_help},
        {"inspect", "show a builder", kiln_cmd_inspect, kiln_cmd_inspect_help},
        {"history", "list a cloud builder's builds, their logs and results", kiln_cmd_history,
         kiln_cmd_history_help},
};

const struct kiln_command *kiln_command_find(const char *name)
{
    for (size_t i = 0; i < ELEMENTSOF(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

void kiln_commands_usage(void)
{
    printf("usage: kiln [--version] [--help] COMMAND [ARGS...]\n\n"
           "kiln builds container images from Dockerfiles, locally or on a shared kilnd "
           "builder.\n\n"
           "commands:\n");
    for (size_t i = 0; i < ELEMENTSOF(commands); i++)
        printf("  %-10s %s\n", commands[i].name, commands[i].summary);
    printf("\nrun 'kiln help COMMAND' or 'kiln COMMAND --help' for a command's options\n");
}
