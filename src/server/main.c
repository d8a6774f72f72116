/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kilnd - the build service. Today it only reports its version; the HTTP
 * API, builders and the queue come with the service work.
 */
#include <stdio.h>
#include <string.h>

#include "kiln-version.h"
#include "server/admin.h"

#include "base/banned.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: kilnd admin [--data DIR] COMMAND ...\n"
               "       kilnd --version\n\n"
               "kilnd is kiln's build service. 'kilnd serve' is not available in this release;\n"
               "use 'kiln' with its local driver meanwhile.\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "admin") == 0)
        return kilnd_admin_main(argc - 1, argv + 1);
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        printf("kilnd version %s\n", KILN_VERSION);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
