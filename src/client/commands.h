/* SPDX-License-Identifier: Apache-2.0 */
/*
 * commands.h - the kiln command table (git's builtin/ style): each command is
 * one function taking its own argv (argv[0] is the command's name) and
 * returning the process exit code.
 */
#pragma once

/* Exit codes. */
enum {
    KILN_EXIT_OK = 0,
    KILN_EXIT_FAILURE = 1, /* the operation failed (e.g. an invalid Dockerfile) */
    KILN_EXIT_USAGE = 2,   /* the command line was wrong */
};

struct kiln_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*help)(void);
};

const struct kiln_command *kiln_command_find(const char *name);
void kiln_commands_usage(void);

/* The longest password or token `kiln login` takes. */
#define KILN_LOGIN_SECRET_MAX (64u * 1024)

int kiln_cmd_build(int argc, char **argv);
void kiln_cmd_build_help(void);
int kiln_cmd_du(int argc, char **argv);
void kiln_cmd_du_help(void);
int kiln_cmd_login(int argc, char **argv);
void kiln_cmd_login_help(void);
int kiln_cmd_logout(int argc, char **argv);
void kiln_cmd_logout_help(void);
int kiln_cmd_prune(int argc, char **argv);
void kiln_cmd_prune_help(void);
int kiln_cmd_debug(int argc, char **argv);
void kiln_cmd_debug_help(void);
int kiln_cmd_history(int argc, char **argv);
void kiln_cmd_history_help(void);
/* Builders (cmd-builder.c). */
int kiln_cmd_create(int argc, char **argv);
void kiln_cmd_create_help(void);
int kiln_cmd_use(int argc, char **argv);
void kiln_cmd_use_help(void);
int kiln_cmd_ls(int argc, char **argv);
void kiln_cmd_ls_help(void);
int kiln_cmd_rm(int argc, char **argv);
void kiln_cmd_rm_help(void);
int kiln_cmd_inspect(int argc, char **argv);
void kiln_cmd_inspect_help(void);
