/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd-debug.c - `kiln debug parse [--json] FILE`: shows how kiln reads a
 * Dockerfile. Without --json the output is BuildKit's AST dump, byte for byte;
 * with --json it is the typed instructions.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "commands.h"
#include "context/read-dockerfile.h"
#include "df-json.h"
#include "dockerfile/parser.h"

#include "base/banned.h"

void kiln_cmd_debug_help(void)
{
    printf("usage: kiln debug parse [--json] FILE\n\n"
           "Parses the Dockerfile FILE ('-' reads standard input) and prints its syntax tree in\n"
           "the format of BuildKit's parser dump, one (instruction ...) line per instruction.\n\n"
           "options:\n"
           "  --json    print the typed instructions (flags and arguments checked) as JSON\n\n"
           "exit codes: 0 parsed, 1 invalid Dockerfile (the error is on stderr), 2 usage\n");
}

static int report(const char *path, struct kiln_error *e, int r)
{
    if (strcmp(path, "-") == 0)
        path = "<stdin>";
    if (e && e->line)
        fprintf(stderr, "%s:%u: %s\n", path, e->line, kiln_error_message(e, r));
    else
        fprintf(stderr, "%s: %s\n", path, kiln_error_message(e, r));
    return KILN_EXIT_FAILURE;
}

static int debug_parse(int argc, char **argv)
{
    bool json = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            kiln_cmd_debug_help();
            return KILN_EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "kiln debug parse: unknown option '%s'; see 'kiln help debug'\n",
                    argv[i]);
            return KILN_EXIT_USAGE;
        } else if (path) {
            fprintf(stderr, "kiln debug parse: one FILE only; see 'kiln help debug'\n");
            return KILN_EXIT_USAGE;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "kiln debug parse: missing FILE (a Dockerfile, or - for stdin)\n");
        return KILN_EXIT_USAGE;
    }

    _cleanup_buf_ struct kiln_buf text = KILN_BUF_INIT(KILN_DOCKERFILE_MAX + 1);
    _cleanup_(kiln_error_freep) struct kiln_error *e = NULL;
    _cleanup_(kiln_df_ast_freep) struct kiln_df_ast *ast = NULL;
    int r = kiln_context_read_dockerfile(path, &text, &e);
    if (r >= 0)
        r = kiln_df_parse(text.buf, text.len, &ast, &e);
    if (r < 0)
        return report(path, e, r);

    _cleanup_buf_ struct kiln_buf out = KILN_BUF_INIT((size_t)1 << 31);
    r = json ? kiln_client_df_json(ast, &out, &e) : kiln_df_dump(ast, &out);
    if (r < 0)
        return report(path, e, r);
    if (fwrite(out.buf, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        fprintf(stderr, "kiln debug parse: writing the output failed: %s\n", strerror(errno));
        return KILN_EXIT_FAILURE;
    }
    return KILN_EXIT_OK;
}

int kiln_cmd_debug(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        kiln_cmd_debug_help();
        return argc < 2 ? KILN_EXIT_USAGE : KILN_EXIT_OK;
    }
    if (strcmp(argv[1], "parse") == 0)
        return debug_parse(argc - 1, argv + 1);
    fprintf(stderr, "kiln debug: unknown subcommand '%s'; see 'kiln help debug'\n", argv[1]);
    return KILN_EXIT_USAGE;
}
