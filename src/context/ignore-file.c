/* SPDX-License-Identifier: Apache-2.0 */
#include "ignore-file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "dockerfile/dockerignore.h"

#include "base/banned.h"

/* Reads path into out; 0 when it does not exist, 1 when read. */
static int slurp(const char *path, struct kiln_buf *out, struct kiln_error **err)
{
    int r = kiln_buf_read_file(out, path);
    if (r == -ENOENT)
        return 0;
    if (r == KILN_E_LIMIT)
        return kiln_error_set(err, r, "'%s' is larger than %u MiB", path,
                              KILN_DOCKERIGNORE_MAX / (1024 * 1024));
    return r < 0 ? kiln_error_set_errno(err, r, "read '%s'", path) : 1;
}

int kiln_context_read_ignore(const char *context, const char *dockerfile, struct kiln_strv *ret,
                             char **ret_used, struct kiln_error **err)
{
    char *candidates[2] = {
            kiln_xasprintf("%s.dockerignore", dockerfile),
            kiln_xasprintf("%s/.dockerignore", context),
    };
    int r = 0;
    size_t i;
    struct kiln_buf text = KILN_BUF_INIT(KILN_DOCKERIGNORE_MAX);
    for (i = 0; i < 2 && r == 0; i++)
        r = slurp(candidates[i], &text, err);
    if (r > 0) {
        const char *used = candidates[i - 1];
        r = kiln_dockerignore_read(text.buf, text.len, ret, err);
        if (r < 0) {
            r = err && *err && (*err)->line ? kiln_error_wrap(err, r, "%s:%u", used, (*err)->line)
                                            : kiln_error_wrap(err, r, "%s", used);
        } else if (ret_used) {
            *ret_used = kiln_xstrdup(used);
        }
    }
    kiln_buf_release(&text);
    free(candidates[0]);
    free(candidates[1]);
    return r < 0 ? r : 0;
}
