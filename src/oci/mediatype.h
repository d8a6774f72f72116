/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mediatype.h - the media types of OCI and Docker images, and what kind of
 * document a media type names.
 */
#pragma once

#include <stdbool.h>

#define KILN_OCI_MT_DESCRIPTOR    "application/vnd.oci.descriptor.v1+json"
#define KILN_OCI_MT_LAYOUT_HEADER "application/vnd.oci.layout.header.v1+json"
#define KILN_OCI_MT_MANIFEST      "application/vnd.oci.image.manifest.v1+json"
#define KILN_OCI_MT_INDEX         "application/vnd.oci.image.index.v1+json"
#define KILN_OCI_MT_CONFIG        "application/vnd.oci.image.config.v1+json"
#define KILN_OCI_MT_EMPTY         "application/vnd.oci.empty.v1+json"
#define KILN_OCI_MT_LAYER         "application/vnd.oci.image.layer.v1.tar"
#define KILN_OCI_MT_LAYER_GZIP    "application/vnd.oci.image.layer.v1.tar+gzip"
#define KILN_OCI_MT_LAYER_ZSTD    "application/vnd.oci.image.layer.v1.tar+zstd"

#define KILN_DOCKER_MT_MANIFEST      "application/vnd.docker.distribution.manifest.v2+json"
#define KILN_DOCKER_MT_MANIFEST_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define KILN_DOCKER_MT_CONFIG        "application/vnd.docker.container.image.v1+json"
#define KILN_DOCKER_MT_LAYER_GZIP    "application/vnd.docker.image.rootfs.diff.tar.gzip"

/*
 * Is s a media type by the image-spec's grammar (RFC 6838 names):
 * [A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126} "/" the same again?
 */
bool kiln_oci_mediatype_valid(const char *s);
/* An OCI image manifest or a Docker schema 2 manifest. */
bool kiln_oci_mediatype_is_manifest(const char *s);
/* An OCI image index or a Docker manifest list. */
bool kiln_oci_mediatype_is_index(const char *s);
/* An OCI or Docker image config. */
bool kiln_oci_mediatype_is_config(const char *s);
