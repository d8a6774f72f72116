/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export.h - the outputs that are files: an image as an OCI layout tar or a
 * docker-load tar (or loaded into the local Docker engine), and a filesystem
 * as a directory or a tar.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strv.h"
#include "oci/compress.h"
#include "store/store.h"

struct kiln_export_image {
    const char *digest; /* the manifest in the content store, with all it references */
    const char *media_type;
    uint64_t size;
    const struct kiln_strv *names; /* fully qualified names; may be empty */
};

/* type=oci: oci-layout, index.json (names as org.opencontainers.image.ref.name), blobs/. */
int kiln_export_oci_tar(struct kiln_store *s, const struct kiln_export_image *img,
                        kiln_oci_write_fn out, void *userdata, struct kiln_error **err);

/* type=docker: the OCI layout plus manifest.json for `docker load`. */
int kiln_export_docker_tar(struct kiln_store *s, const struct kiln_export_image *img,
                           kiln_oci_write_fn out, void *userdata, struct kiln_error **err);

struct kiln_export_fs_opts {
    bool has_epoch;
    int64_t epoch;
};

/* type=local: the tree `root` copied into dest (created when missing). */
int kiln_export_local(const char *root, const char *dest, const struct kiln_export_fs_opts *o,
                      struct kiln_error **err);

/* type=tar: the tree `root` as a tar stream. */
int kiln_export_tar(const char *root, const struct kiln_export_fs_opts *o, kiln_oci_write_fn out,
                    void *userdata, struct kiln_error **err);

/*
 * --load: the docker tar posted to the Docker engine at unix socket `socket`
 * (POST /images/load). KILN_E_NOTFOUND when no engine listens there.
 */
int kiln_docker_load(const char *socket, struct kiln_store *s, const struct kiln_export_image *img,
                     const char *tmp_dir, struct kiln_error **err);
