/* SPDX-License-Identifier: Apache-2.0 */
/*
 * data-dir.c - the local driver's data directory (docs/internals/client.md).
 */
#include "data-dir.h"

#include <stdlib.h>
#include <unistd.h>

#include "base/alloc.h"

#include "base/banned.h"

char *kiln_data_dir(void)
{
    const char *d = getenv("KILN_DATA_DIR");
    if (d && *d)
        return kiln_xstrdup(d);
    if (geteuid() == 0)
        return kiln_xstrdup("/var/lib/kiln");
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && *xdg)
        return kiln_xasprintf("%s/kiln", xdg);
    const char *home = getenv("HOME");
    return kiln_xasprintf("%s/.local/share/kiln", home ? home : ".");
}
