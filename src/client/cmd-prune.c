/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd-prune.c - `kiln prune`: remove local build cache, as `docker buildx
 * prune` does (docs/internals/client.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/human.h"
#include "builders.h"
#include "cloud-cache.h"
#include "commands.h"
#include "store-open.h"

#include "base/banned.h"

void kiln_cmd_prune_help(void)
{
    printf("Usage:  kiln prune [OPTIONS]\n"
           "\n"
           "Remove build cache ($KILN_DATA_DIR) that no running build holds, least recently\n"
           "used first.\n"
           "\n"
           "Options:\n"
           "  -a, --all                  Remove all unused build cache, not just dangling ones\n"
           "      --builder string       The builder (default: $KILN_BUILDER, $BUILDX_BUILDER,\n"
           "                             else the current one; a cloud builder's cache is\n"
           "                             pruned by kilnd)\n"
           "      --keep-storage bytes   Amount of disk space to keep for cache (e.g. 10GB)\n"
           "  -f, --force                Do not prompt for confirmation\n"
           "\n"
           "Exit status: 0 pruned (or not confirmed), 1 the cache cannot be read, 2 the command\n"
           "line is wrong.\n");
}

/* buildx's prompt: yes only for "y" or "yes"; no answer (stdin closed) is no. */
static bool confirm(bool all)
{
    printf("WARNING! This will remove all %sbuild cache. Are you sure you want to continue? "
           "[y/N] ",
           all ? "" : "dangling ");
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof(line), stdin)) {
        putchar('\n');
        return false;
    }
    line[strcspn(line, "\r\n")] = '\0';
    return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

static int parse(int argc, char **argv, struct kiln_prune_opts *o, bool *force, bool *help,
                 const char **builder)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--builder") == 0 && i + 1 < argc) {
            *builder = argv[++i];
        } else if (strcmp(a, "--all") == 0 || strcmp(a, "-a") == 0) {
            o->all = true;
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--force") == 0) {
            *force = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
        } else if (strncmp(a, "--keep-storage", 14) == 0 && (a[14] == '=' || !a[14])) {
            v = a[14] == '=' ? a + 15 : i + 1 < argc ? argv[++i] : NULL;
            if (!v || kiln_parse_size(v, &o->keep_bytes) < 0) {
                fprintf(stderr,
                        "kiln prune: --keep-storage '%s': use a size such as 10GB or 512MB\n",
                        v ? v : "");
                return -1;
            }
        } else {
            fprintf(stderr, "kiln prune: unknown flag or argument '%s' (see kiln prune --help)\n",
                    a);
            return -1;
        }
    }
    return 0;
}

int kiln_cmd_prune(int argc, char **argv)
{
    struct kiln_prune_opts o = {0};
    bool force = false, help = false;
    const char *flag = NULL;
    if (parse(argc, argv, &o, &force, &help, &flag) < 0)
        return KILN_EXIT_USAGE;
    if (help) {
        kiln_cmd_prune_help();
        return KILN_EXIT_OK;
    }
    if (!force && !confirm(o.all))
        return KILN_EXIT_OK;
    struct kiln_builder_entry *b = NULL;
    struct kiln_prune_report rep = {0};
    struct kiln_error *e = NULL;
    int r = kiln_builder_select(flag, &b, &e);
    if (r >= 0 && strcmp(b->driver, "cloud") == 0) {
        r = kiln_cloud_prune(b, &o, &rep, &e);
    } else if (r >= 0) {
        struct kiln_store *s = NULL;
        if (kiln_client_store_open("prune", &s) < 0) {
            kiln_builder_entry_free(b);
            return KILN_EXIT_FAILURE;
        }
        r = kiln_store_prune(s, &o, &rep, &e);
        kiln_store_close(s);
    }
    kiln_builder_entry_free(b);
    if (r < 0) {
        fprintf(stderr, "kiln prune: %s\n", kiln_error_message(e, r));
        kiln_error_free(e);
        return KILN_EXIT_FAILURE;
    }
    char f[KILN_HUMAN_SIZE_MAX];
    kiln_human_size(rep.freed_bytes, f);
    printf("Deleted: %" PRIu64 " cache records, %" PRIu64 " snapshots, %" PRIu64 " blobs\n"
           "Total:   %s\n",
           rep.records, rep.snapshots, rep.blobs, f);
    return KILN_EXIT_OK;
}
