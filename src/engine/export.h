/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export.h - the outputs that are files (docs/internals/export.md): an image
 * as an OCI layout tar (type=oci) or a `docker load` tar (type=docker, or
 * --load into the local Docker engine), and a filesystem as a directory
 * (type=local) or a tar (type=tar). Everything is streamed: memory stays
 * bounded whatever the image or tree size.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/strv.h"
#include "oci/compress.h"
#include "store/store.h"

/* Blobs in one exported image: the index, manifests, configs and layers together. */
#define KILN_EXPORT_BLOBS_MAX 65536u
/* Names one exported image may carry (one index.json entry each). */
#define KILN_EXPORT_NAMES_MAX 1024u
/*
 * Directory nesting walked in a filesystem export: each level holds an fd
 * open (two for type=local), so this stays well below the usual 1024.
 */
#define KILN_EXPORT_DEPTH_MAX 256u
/* Inodes with more than one link remembered to write hard links; past it the export fails. */
#define KILN_EXPORT_HARDLINKS_MAX 1048576u

struct kiln_export_image {
    const char *digest; /* manifest or index in the content store; all it references is there */
    const char *media_type;
    uint64_t size;
    const struct kiln_strv *names; /* fully qualified names ("docker.io/library/app:1"); may be
                                      NULL or empty */
    /* index.json's org.opencontainers.image.created: the epoch when set, else now. */
    bool has_epoch;
    int64_t epoch;
    /* type=docker for a load: chain ids of layers the engine has; their blobs are left out */
    const struct kiln_strv *engine_has;
};

/*
 * type=oci: the image as an OCI image layout in a tar stream, as BuildKit's
 * oci exporter writes it: entries sorted by name (blobs/, blobs/sha256/,
 * every blob the image references, index.json, oci-layout), one index.json
 * entry per name annotated with io.containerd.image.name and
 * org.opencontainers.image.ref.name. Blobs are checked against their digest
 * while copied. Errors: KILN_E_NOTFOUND for a blob missing from the store,
 * KILN_E_INVALID for a corrupt blob or document or a bad name, KILN_E_LIMIT,
 * those of out().
 */
int kiln_export_oci_tar(struct kiln_store *s, const struct kiln_export_image *img,
                        kiln_oci_write_fn out, void *userdata, struct kiln_error **err);

/*
 * type=docker: the OCI layout plus manifest.json (Config, RepoTags in
 * docker's short form, Layers), what `docker load` reads. An index is
 * refused (KILN_E_INVALID): docker loads one platform. Errors as above.
 */
int kiln_export_docker_tar(struct kiln_store *s, const struct kiln_export_image *img,
                           kiln_oci_write_fn out, void *userdata, struct kiln_error **err);

struct kiln_export_fs_opts {
    bool has_epoch; /* SOURCE_DATE_EPOCH: every mtime becomes epoch */
    int64_t epoch;
};

/*
 * type=local: the tree `root` copied into directory dest (created when
 * missing; files there are replaced, other files kept), as BuildKit's
 * client writes a local export: owners, modes, mtimes (atime = mtime),
 * xattrs, symlinks, hard links, device nodes and fifos as they are (the
 * epoch, when given, is every entry's mtime). `root` is walked without
 * following a symlink; dest is written without following one either (a
 * symlink in dest where the tree has a directory is replaced). o may be
 * NULL. Errors: -errno naming the path, KILN_E_LIMIT
 * past KILN_EXPORT_DEPTH_MAX.
 */
int kiln_export_local(const char *root, const char *dest, const struct kiln_export_fs_opts *o,
                      struct kiln_error **err);

/*
 * type=tar: the tree `root` as a tar stream, as fsutil's WriteTar does
 * (lexical order, names relative, directories ending in '/', hard links to
 * the first path, every xattr, mtimes rounded to the second, uid/gid
 * numbers; a socket is an empty file, as fsutil clears its type bit). The
 * epoch, when given, is every entry's mtime. o may be NULL. Errors:
 * -errno, KILN_E_LIMIT, those of out().
 */
int kiln_export_tar(const char *root, const struct kiln_export_fs_opts *o, kiln_oci_write_fn out,
                    void *userdata, struct kiln_error **err);

/*
 * --load: the docker tar written to a nameless file in tmp_dir, then posted
 * to the Docker engine at `host` (docker-host.h: a unix socket or
 * tcp://HOST:PORT; POST /images/load), so the engine never sees part of an
 * image. KILN_E_NOTFOUND when nothing listens there ("no Docker engine
 * ..."; write the image to a file instead), KILN_E_UPSTREAM with the
 * engine's message when it refuses the image.
 */
int kiln_docker_load(const char *host, struct kiln_store *s, const struct kiln_export_image *img,
                     const char *tmp_dir, struct kiln_error **err);

/* Posts the docker tar that fd holds (read from its start) to the engine; errors as above. */
int kiln_docker_load_tar(const char *host, int fd, struct kiln_error **err);

/* ---- Shared by the image exporters (oci-layout.c, export-oci.c, export-docker.c) ---- */

/* Reads blob `digest` (at most `max` bytes) into out. Errors: those of the store, KILN_E_LIMIT. */
int kiln_export_read_blob(struct kiln_store *s, const char *digest, size_t max,
                          struct kiln_buf *out, struct kiln_error **err);

/* reference.TagNameOnly(ParseNormalizedNamed(name)), full or familiar: caller frees; NULL on error.
 */
char *kiln_export_normalize_name(const char *name, bool familiar, struct kiln_error **err);

/* index.json for img, as containerd's archive exporter writes it. */
int kiln_export_index_json(struct kiln_store *s, const struct kiln_export_image *img,
                           struct kiln_buf *out, struct kiln_error **err);

/*
 * Writes the layout tar: blobs/, blobs/sha256/, every blob reachable from
 * img (sorted) but those in `skip` (may be NULL), index.json, manifest.json
 * when not NULL, oci-layout.
 */
int kiln_export_layout_write(struct kiln_store *s, const struct kiln_export_image *img,
                             const struct kiln_buf *index_json,
                             const struct kiln_buf *manifest_json, const struct kiln_strv *skip,
                             kiln_oci_write_fn out, void *userdata, struct kiln_error **err);

/* ---- Shared by the filesystem exporters (export-rootfs.c, export-tar.c) ---- */

struct kiln_export_entry {
    int dirfd;        /* the directory of the tree that holds it */
    const char *name; /* its name there */
    const char *path; /* relative to the root: "etc/passwd" */
    const struct stat *st;
    const char *link_to; /* a hard link: the path first seen with the inode; else NULL */
};

struct kiln_export_walker {
    int (*enter)(void *userdata, const struct kiln_export_entry *e, struct kiln_error **err);
    /* After a directory's contents; may be NULL. */
    int (*leave)(void *userdata, const struct kiln_export_entry *e, struct kiln_error **err);
    void *userdata;
};

/*
 * Walks the tree `root` as fsutil does: each directory's names in byte
 * order, parents first, the root itself left out; no symlink followed (every
 * directory opened O_NOFOLLOW relative to its parent); an entry that
 * vanishes is skipped. Hard links (not directories or symlinks) name the
 * first path. Errors: -errno, KILN_E_LIMIT, those of the walker.
 */
int kiln_export_walk(const char *root, const struct kiln_export_walker *w, struct kiln_error **err);

struct kiln_oci_xattr;
/* e's xattrs but Apple's (com.apple.*), as fsutil reads them; free with kiln_export_xattrs_free. */
int kiln_export_xattrs(const struct kiln_export_entry *e, struct kiln_oci_xattr **ret,
                       size_t *ret_n, struct kiln_error **err);
void kiln_export_xattrs_free(struct kiln_oci_xattr *x, size_t n);
