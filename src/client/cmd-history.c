/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd-history.c - `kiln history ls|logs|inspect`: a cloud builder's builds,
 * as `docker buildx history` shows them (docs/internals/client-cloud.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/human.h"
#include "builders.h"
#include "cloud-http.h"
#include "commands.h"
#include "engine/progress.h"

#include "base/banned.h"

void kiln_cmd_history_help(void)
{
    printf("Usage:  kiln history [--builder NAME] COMMAND\n"
           "\n"
           "The builds of a cloud builder, kept by kilnd.\n"
           "\n"
           "Commands:\n"
           "  ls [--format json]        List the builder's builds, newest first\n"
           "  logs BUILD_ID             Print a build's complete progress output\n"
           "  inspect BUILD_ID [--format json]\n"
           "                            Show who ran a build, when, its steps and result\n"
           "\n"
           "Options:\n"
           "      --builder string      The builder (default: $KILN_BUILDER, $BUILDX_BUILDER,\n"
           "                            else the current one)\n"
           "\n"
           "Exit status: 0 shown, 1 the builder or build cannot be read, 2 the command line "
           "is wrong.\n");
}

static void when(int64_t ns, char out[32])
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

static const char *tags(json_t *rec)
{
    json_t *t = json_object_get(json_object_get(rec, "summary"), "tags");
    const char *first = json_string_value(json_array_get(t, 0));
    return first ? first : "-";
}

static void print_list(json_t *builds)
{
    printf("%-27s %-40s %-10s %-21s %s\n", "BUILD ID", "NAME", "STATUS", "CREATED AT", "DURATION");
    json_t *b;
    size_t i;
    json_array_foreach (builds, i, b) {
        char created[32], dur[KILN_HUMAN_DURATION_MAX] = "-";
        when(json_integer_value(json_object_get(b, "created_ns")), created);
        json_int_t ms = json_integer_value(json_object_get(b, "duration_ms"));
        if (ms)
            kiln_human_duration((ms + 999) / 1000, dur);
        printf("%-27s %-40s %-10s %-21s %s\n", json_string_value(json_object_get(b, "id")), tags(b),
               json_string_value(json_object_get(b, "state")), created, dur);
    }
}

static void print_inspect(json_t *b)
{
    char created[32], dur[KILN_HUMAN_DURATION_MAX] = "-";
    when(json_integer_value(json_object_get(b, "created_ns")), created);
    json_int_t ms = json_integer_value(json_object_get(b, "duration_ms"));
    if (ms)
        kiln_human_duration((ms + 999) / 1000, dur);
    const char *digest = json_string_value(json_object_get(b, "image_digest"));
    const char *error = json_string_value(json_object_get(b, "error"));
    printf("ID:           %s\n", json_string_value(json_object_get(b, "id")));
    printf("Builder:      %s\n", json_string_value(json_object_get(b, "builder")));
    printf("Started by:   %s\n", json_string_value(json_object_get(b, "principal")));
    printf("Name:         %s\n", tags(b));
    printf("Status:       %s\n", json_string_value(json_object_get(b, "state")));
    printf("Created at:   %s UTC\n", created);
    printf("Duration:     %s\n", dur);
    printf("Steps:        %" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT " cached)\n",
           json_integer_value(json_object_get(b, "steps_total")),
           json_integer_value(json_object_get(b, "steps_cached")));
    if (digest && *digest)
        printf("Image:        %s\n", digest);
    if (error && *error)
        printf("Error:        %s\n", error);
}

static int replay_line(void *ud, const char *line, size_t len, struct kiln_error **err)
{
    json_t *j = len ? json_loadb(line, len, 0, NULL) : NULL;
    if (j && !json_object_get(j, "kiln"))
        kiln_progress_replay(ud, j);
    json_decref(j);
    return 0;
}

static int run(const struct kiln_builder_entry *b, int argc, char **argv, struct kiln_error **e)
{
    bool json = argc >= 3 && strcmp(argv[argc - 2], "--format") == 0 &&
                strcmp(argv[argc - 1], "json") == 0;
    if (json)
        argc -= 2;
    struct kiln_cloud *c = NULL;
    int r = kiln_cloud_open(b->endpoint, &c, e);
    if (r < 0)
        return r;
    json_t *answer = NULL;
    _cleanup_free_ char *path = NULL;
    if (strcmp(argv[0], "ls") == 0 && argc == 1) {
        path = kiln_xasprintf("/v1/builders/%s/builds", b->builder);
        if ((r = kiln_cloud_json(c, "GET", path, NULL, &answer, e)) >= 0 && !json)
            print_list(json_object_get(answer, "builds"));
    } else if (strcmp(argv[0], "inspect") == 0 && argc == 2) {
        path = kiln_xasprintf("/v1/builds/%s", argv[1]);
        if ((r = kiln_cloud_json(c, "GET", path, NULL, &answer, e)) >= 0 && !json)
            print_inspect(answer);
    } else if (strcmp(argv[0], "logs") == 0 && argc == 2 && !json) {
        path = kiln_xasprintf("/v1/builds/%s/logs", argv[1]);
        struct kiln_progress *p = kiln_progress_new(KILN_PROGRESS_PLAIN, stdout);
        r = kiln_cloud_stream_lines(c, path, replay_line, p, e);
        kiln_progress_free(p);
    } else {
        r = KILN_E_INVALID;
    }
    if (r >= 0 && json) {
        char *text =
                json_dumps(strcmp(argv[0], "ls") == 0 ? json_object_get(answer, "builds") : answer,
                           JSON_INDENT(2));
        printf("%s\n", text ? text : "null");
        free(text);
    }
    json_decref(answer);
    kiln_cloud_free(c);
    return r;
}

int kiln_cmd_history(int argc, char **argv)
{
    const char *flag = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            kiln_cmd_history_help();
            return KILN_EXIT_OK;
        }
        if (strcmp(argv[i], "--builder") == 0 && i + 1 < argc) {
            flag = argv[++i];
            continue;
        }
        fprintf(stderr, "kiln history: unknown flag '%s' (see kiln history --help)\n", argv[i]);
        return KILN_EXIT_USAGE;
    }
    if (i >= argc) {
        fprintf(stderr, "kiln history: name a command: ls, logs or inspect (see kiln history "
                        "--help)\n");
        return KILN_EXIT_USAGE;
    }
    struct kiln_builder_entry *b = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_builder_select(flag, &b, &e);
    if (r >= 0 && strcmp(b->driver, "cloud") != 0)
        r = kiln_error_set(&e, KILN_E_INVALID,
                           "builder %s uses the local driver, which keeps no history: select a "
                           "cloud builder (kiln use NAME, or --builder NAME)",
                           b->name);
    if (r >= 0)
        r = run(b, argc - i, argv + i, &e);
    kiln_builder_entry_free(b);
    if (r == KILN_E_INVALID && !e) {
        fprintf(stderr,
                "kiln history: '%s' with these arguments is not a command (see kiln "
                "history --help)\n",
                argv[i]);
        return KILN_EXIT_USAGE;
    }
    if (r < 0) {
        fprintf(stderr, "kiln history: %s\n", kiln_error_message(e, r));
        kiln_error_free(e);
        return KILN_EXIT_FAILURE;
    }
    return KILN_EXIT_OK;
}
