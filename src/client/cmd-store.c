/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd-store.c - `kiln du` and `kiln prune`: the local build cache
 * (docs/internals/client.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/human.h"
#include "commands.h"
#include "data-dir.h"
#include "store/store.h"

#include "base/banned.h"

static int open_store(struct kiln_store **s)
{
    _cleanup_free_ char *dir = kiln_data_dir();
    struct kiln_error *e = NULL;
    int r = kiln_store_open(dir, s, &e);
    if (r < 0) {
        fprintf(stderr, "kiln: cannot open the build cache in %s: %s\n", dir,
                kiln_error_message(e, r));
        kiln_error_free(e);
    }
    return r;
}

void kiln_cmd_du_help(void)
{
    printf("usage: kiln du\n\nShows the disk the local build cache takes ($KILN_DATA_DIR): cache "
           "records,\nsnapshots (filesystem layers) and blobs, and what `kiln prune --all` would "
           "free.\n\nexit codes: 0 shown, 1 the cache cannot be read, 2 usage\n");
}

int kiln_cmd_du(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            kiln_cmd_du_help();
            return KILN_EXIT_OK;
        }
        fprintf(stderr, "kiln du: unexpected argument '%s'\n", argv[1]);
        return KILN_EXIT_USAGE;
    }
    struct kiln_store *s = NULL;
    if (open_store(&s) < 0)
        return KILN_EXIT_FAILURE;
    struct kiln_store_usage u;
    struct kiln_error *e = NULL;
    int r = kiln_store_du(s, &u, &e);
    kiln_store_close(s);
    if (r < 0) {
        fprintf(stderr, "kiln du: %s\n", kiln_error_message(e, r));
        kiln_error_free(e);
        return KILN_EXIT_FAILURE;
    }
    char a[KILN_HUMAN_SIZE_MAX], b[KILN_HUMAN_SIZE_MAX], c[KILN_HUMAN_SIZE_MAX],
            d[KILN_HUMAN_SIZE_MAX], t[KILN_HUMAN_SIZE_MAX];
    kiln_human_size(u.records_bytes, a);
    kiln_human_size(u.snapshots_bytes, b);
    kiln_human_size(u.blobs_bytes, c);
    kiln_human_size(u.reclaimable_bytes, d);
    kiln_human_size(u.total_bytes, t);
    printf("%-12s %8s %10s\n", "KIND", "COUNT", "SIZE");
    printf("%-12s %8llu %10s\n", "records", (unsigned long long)u.records, a);
    printf("%-12s %8llu %10s\n", "snapshots", (unsigned long long)u.snapshots, b);
    printf("%-12s %8llu %10s\n", "blobs", (unsigned long long)u.blobs, c);
    printf("Reclaimable: %s\nTotal:       %s\n", d, t);
    return KILN_EXIT_OK;
}

void kiln_cmd_prune_help(void)
{
    printf("usage: kiln prune [--all] [--keep-storage SIZE] [-f]\n\n"
           "Removes build cache ($KILN_DATA_DIR) that no image result pins, least recently\n"
           "used first.\n\noptions:\n"
           "  -a, --all                remove everything that is not pinned\n"
           "      --keep-storage SIZE  remove until the cache is under SIZE (e.g. 10GB)\n"
           "  -f, --force              do not ask (kiln never asks: accepted for buildx's sake)\n\n"
           "exit codes: 0 pruned, 1 the cache cannot be read, 2 usage\n");
}

int kiln_cmd_prune(int argc, char **argv)
{
    struct kiln_prune_opts o = {.all = false};
    bool keep = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--all") == 0 || strcmp(a, "-a") == 0) {
            o.all = true;
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--force") == 0) {
            continue;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            kiln_cmd_prune_help();
            return KILN_EXIT_OK;
        } else if (strncmp(a, "--keep-storage", 14) == 0) {
            const char *v = a[14] == '=' ? a + 15 : i + 1 < argc ? argv[++i] : NULL;
            if (!v || kiln_parse_size(v, &o.keep_bytes) < 0) {
                fprintf(stderr, "kiln prune: --keep-storage needs a size such as 10GB\n");
                return KILN_EXIT_USAGE;
            }
            keep = true;
        } else {
            fprintf(stderr, "kiln prune: unknown flag '%s' (see kiln prune --help)\n", a);
            return KILN_EXIT_USAGE;
        }
    }
    if (!o.all && !keep)
        o.all = true; /* buildx prune without filters removes everything unused */
    struct kiln_store *s = NULL;
    if (open_store(&s) < 0)
        return KILN_EXIT_FAILURE;
    struct kiln_prune_report rep = {0};
    struct kiln_error *e = NULL;
    int r = kiln_store_prune(s, &o, &rep, &e);
    kiln_store_close(s);
    if (r < 0) {
        fprintf(stderr, "kiln prune: %s\n", kiln_error_message(e, r));
        kiln_error_free(e);
        return KILN_EXIT_FAILURE;
    }
    char f[KILN_HUMAN_SIZE_MAX];
    kiln_human_size(rep.freed_bytes, f);
    printf("Deleted %llu cache records, %llu snapshots, %llu blobs\nTotal:\t%s\n",
           (unsigned long long)rep.records, (unsigned long long)rep.snapshots,
           (unsigned long long)rep.blobs, f);
    return KILN_EXIT_OK;
}
