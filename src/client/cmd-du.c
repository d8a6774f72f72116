/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd-du.c - `kiln du`: the disk the local build cache takes, as `docker
 * buildx du` shows it (docs/internals/client.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/human.h"
#include "builders.h"
#include "cloud-cache.h"
#include "commands.h"
#include "data-dir.h"
#include "store-open.h"

#include "base/banned.h"

void kiln_cmd_du_help(void)
{
    printf("Usage:  kiln du [OPTIONS]\n"
           "\n"
           "Disk usage of the local build cache ($KILN_DATA_DIR): cache records, snapshots\n"
           "(filesystem layers) and blobs, and what `kiln prune --all` would free.\n"
           "\n"
           "Options:\n"
           "      --builder string   The builder (default: $KILN_BUILDER, $BUILDX_BUILDER, else\n"
           "                         the current one; a cloud builder's cache is measured by "
           "kilnd)\n"
           "      --verbose          Also print where the cache is and exact byte counts\n"
           "\n"
           "Exit status: 0 shown, 1 the cache cannot be read, 2 the command line is wrong.\n");
}

static void row(const char *kind, uint64_t count, uint64_t bytes, bool verbose)
{
    char h[KILN_HUMAN_SIZE_MAX];
    kiln_human_size(bytes, h);
    printf("%-12s %8" PRIu64 " %10s", kind, count, h);
    if (verbose)
        printf(" %20" PRIu64, bytes);
    putchar('\n');
}

static void show(const struct kiln_store_usage *u, bool verbose,
                 const struct kiln_builder_entry *cloud)
{
    if (verbose && cloud) {
        printf("Builder: %s (%s on %s)\n\n", cloud->name, cloud->builder, cloud->endpoint);
    } else if (verbose) {
        _cleanup_free_ char *dir = kiln_data_dir();
        printf("Data directory: %s\n\n", dir);
    }
    printf("%-12s %8s %10s%s\n", "KIND", "COUNT", "SIZE", verbose ? "                BYTES" : "");
    row("records", u->records, u->records_bytes, verbose);
    row("snapshots", u->snapshots, u->snapshots_bytes, verbose);
    row("blobs", u->blobs, u->blobs_bytes, verbose);
    char r[KILN_HUMAN_SIZE_MAX], t[KILN_HUMAN_SIZE_MAX];
    kiln_human_size(u->reclaimable_bytes, r);
    kiln_human_size(u->total_bytes, t);
    printf("Reclaimable: %s\nTotal:       %s\n", r, t);
}

int kiln_cmd_du(int argc, char **argv)
{
    bool verbose = false;
    const char *flag = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--builder") == 0 && i + 1 < argc) {
            flag = argv[++i];
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            kiln_cmd_du_help();
            return KILN_EXIT_OK;
        } else {
            fprintf(stderr, "kiln du: unknown flag or argument '%s' (see kiln du --help)\n",
                    argv[i]);
            return KILN_EXIT_USAGE;
        }
    }
    struct kiln_builder_entry *b = NULL;
    struct kiln_store_usage u;
    struct kiln_error *e = NULL;
    int r = kiln_builder_select(flag, &b, &e);
    bool cloud = r >= 0 && strcmp(b->driver, "cloud") == 0;
    if (cloud) {
        r = kiln_cloud_du(b, &u, &e);
    } else if (r >= 0) {
        struct kiln_store *s = NULL;
        if (kiln_client_store_open("du", &s) < 0) {
            kiln_builder_entry_free(b);
            return KILN_EXIT_FAILURE;
        }
        r = kiln_store_du(s, &u, &e);
        kiln_store_close(s);
    }
    if (r < 0) {
        kiln_builder_entry_free(b);
        fprintf(stderr, "kiln du: %s\n", kiln_error_message(e, r));
        kiln_error_free(e);
        return KILN_EXIT_FAILURE;
    }
    show(&u, verbose, cloud ? b : NULL);
    kiln_builder_entry_free(b);
    return KILN_EXIT_OK;
}
