/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export-fs.c - a state's filesystem as a directory (type=local) or a tar
 * (type=tar) (docs/internals/engine.md, "Outputs").
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "copy.h"
#include "export.h"
#include "oci/diff.h"
#include "oci/layer.h"

#include "base/banned.h"

int kiln_export_local(const char *root, const char *dest, const struct kiln_export_fs_opts *o,
                      struct kiln_error **err)
{
    (void)o;
    if (mkdir(dest, 0755) < 0 && errno != EEXIST)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", dest);
    struct kiln_vertex_copy op = {
            .sources = KILN_STRV_INIT, .excludes = KILN_STRV_INIT, .dest = (char *)"/"};
    kiln_strv_push(&op.sources, "/");
    struct kiln_copy_src src = {.root = root};
    int r = kiln_copy_apply(&op, &src, dest, NULL, err);
    kiln_strv_release(&op.sources);
    return r < 0 ? kiln_error_wrap(err, r, "export to '%s'", dest) : 0;
}

int kiln_export_tar(const char *root, const struct kiln_export_fs_opts *o, kiln_oci_write_fn out,
                    void *userdata, struct kiln_error **err)
{
    _cleanup_(kiln_oci_changes_releasep) struct kiln_oci_changes ch = KILN_OCI_CHANGES_INIT;
    int r = kiln_oci_diff_trees(NULL, root, &ch, err);
    struct kiln_oci_layer_opts lo = {.compression = KILN_OCI_COMPRESSION_NONE,
                                     .level = KILN_OCI_LEVEL_DEFAULT,
                                     .has_epoch = o && o->has_epoch,
                                     .epoch = o ? o->epoch : 0};
    struct kiln_oci_layer l;
    if (r >= 0)
        r = kiln_oci_layer_write(root, &ch, &lo, out, userdata, &l, err);
    return r;
}
