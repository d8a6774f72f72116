/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.h - a client of the Docker distribution (OCI registry) HTTP API:
 * pull manifests and blobs, push blobs (with cross-repository mount) and
 * manifests, with the registry's Basic or Bearer token authentication.
 *
 *   struct kiln_registry_client *c;
 *   kiln_registry_client_new("127.0.0.1:5000", &opts, &c, &err);
 *   kiln_registry_pull_manifest(c, ref, &platform, &m, &err);
 *   kiln_registry_blob_get_file(c, "app", digest, size, "/store/blob", &err);
 *   kiln_registry_blob_push(c, "app", digest, size, NULL, read, data, &sent, &err);
 *   kiln_registry_manifest_put(c, "app", "1", media_type, json, len, dgst, &err);
 *   kiln_registry_client_free(c);
 *
 * One client talks to one registry host over one reused CURL easy handle;
 * it is not thread-safe (use one client per thread). Every failure message
 * names the request ("GET /v2/app/manifests/1: 401 unauthorized:
 * authentication required"); credentials and tokens never appear in one.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "base/strv.h"
#include "credentials.h"
#include "oci/digest.h"
#include "oci/platform.h"
#include "oci/reference.h"

struct kiln_registry_client;

struct kiln_registry_options {
    /* Credentials for this registry (copied); NULL: anonymous. */
    const struct kiln_registry_cred *cred;
    /*
     * NULL-terminated list of "host[:port]" spoken to over plain HTTP besides
     * localhost, 127.0.0.0/8 and ::1 (which always are, as in Docker).
     */
    const char *const *insecure;
    long connect_timeout_s; /* 0: 30 s */
    /* A transfer slower than 1 KiB/s for this long is aborted. 0: 60 s. */
    long low_speed_time_s;
    /* Whole-request limit for everything but blob bodies (manifests, tokens). 0: 300 s. */
    long request_timeout_s;
    /* Blobs larger than this are uploaded in PATCH chunks of this size; 0: monolithic. */
    size_t chunk_size;
};

/*
 * Appends the hosts of $KILN_INSECURE_REGISTRIES ("host[:port]", separated by
 * commas or spaces) to ret: what kiln_registry_options.insecure lists for a
 * build, in `kiln build` and in kilnd's build workers alike.
 */
void kiln_registry_insecure_from_env(struct kiln_strv *ret);

/*
 * A client for the registry of `domain` as references name it
 * ("docker.io", "ghcr.io", "127.0.0.1:5000"); "docker.io" is served by
 * registry-1.docker.io. HTTPS with certificate verification, except plain
 * HTTP for loopback and opts->insecure hosts. opts may be NULL. *ret is the
 * caller's (kiln_registry_client_free). KILN_E_INVALID for a bad domain or
 * chunk size past KILN_REGISTRY_CHUNK_MAX, -ENOMEM when libcurl cannot start.
 */
int kiln_registry_client_new(const char *domain, const struct kiln_registry_options *opts,
                             struct kiln_registry_client **ret, struct kiln_error **err);

/* Closes the connection and forgets cached tokens (zeroed); NULL is fine. */
void kiln_registry_client_free(struct kiln_registry_client *c);
KILN_DEFINE_CLEANUP(struct kiln_registry_client, kiln_registry_client_free)

/* A manifest or index as the registry served it. */
struct kiln_registry_manifest {
    char *media_type;                 /* the Content-Type, one of the four image types */
    char digest[KILN_OCI_DIGEST_MAX]; /* computed from data (sha256, or the pinned algorithm) */
    char *data;                       /* NUL-terminated for convenience */
    size_t len;
};

void kiln_registry_manifest_free(struct kiln_registry_manifest *m);
KILN_DEFINE_CLEANUP(struct kiln_registry_manifest, kiln_registry_manifest_free)

/*
 * GET /v2/<repo>/manifests/<reference>, reference a tag or a digest,
 * accepting OCI and Docker schema 2 manifests and indexes. The body is
 * capped at KILN_MANIFEST_MAX (KILN_E_LIMIT). Its digest is computed and must
 * equal `reference` when that is a digest, and Docker-Content-Digest when the
 * registry sends one; the document must parse as the type its Content-Type
 * names, with an embedded mediaType equal to it (else KILN_E_UPSTREAM).
 * *ret is the caller's. Errors as the registry answered (KILN_E_AUTH,
 * KILN_E_DENIED, KILN_E_NOTFOUND, KILN_E_UPSTREAM), KILN_E_INVALID for a bad
 * repository or reference.
 */
int kiln_registry_manifest_get(struct kiln_registry_client *c, const char *repo,
                               const char *reference, struct kiln_registry_manifest **ret,
                               struct kiln_error **err);

/*
 * PUT /v2/<repo>/manifests/<reference> with Content-Type `media_type`. When
 * `reference` is a digest it must be the digest of data. Writes the sha256
 * of data to ret_digest. Errors as kiln_registry_manifest_get(); a registry
 * that reports another digest is KILN_E_UPSTREAM.
 */
int kiln_registry_manifest_put(struct kiln_registry_client *c, const char *repo,
                               const char *reference, const char *media_type, const void *data,
                               size_t len, char ret_digest[KILN_OCI_DIGEST_MAX],
                               struct kiln_error **err);

/*
 * Resolves `ref` (its domain must be the client's; no tag means "latest")
 * to a manifest. When it is an index and `platform` is not NULL, the entry
 * kiln_oci_index_select() picks is fetched by digest and its size and media
 * type checked against the index. Errors as kiln_registry_manifest_get(),
 * wrapped "pull 'REF'"; KILN_E_NOTFOUND when no entry fits the platform.
 */
int kiln_registry_pull_manifest(struct kiln_registry_client *c, const struct kiln_oci_ref *ref,
                                const struct kiln_oci_platform *platform,
                                struct kiln_registry_manifest **ret, struct kiln_error **err);

/* Receives blob bytes in order; a negative return aborts the transfer with that code. */
typedef int kiln_registry_write_fn(void *data, const void *buf, size_t len,
                                   struct kiln_error **err);

/*
 * GET /v2/<repo>/blobs/<digest>, following the registry's redirects to blob
 * storage (at most KILN_REGISTRY_REDIRECTS_MAX, http(s) only, credentials
 * only to the registry itself), streaming the bytes to write(). The size must
 * be `size` and the digest `digest`: a longer body is cut at once, a shorter
 * one or a wrong digest is KILN_E_UPSTREAM after the fact. On ANY failure
 * the caller must discard what write() received. Errors as
 * kiln_registry_manifest_get(), and write()'s own.
 */
int kiln_registry_blob_get(struct kiln_registry_client *c, const char *repo, const char *digest,
                           int64_t size, kiln_registry_write_fn *write, void *data,
                           struct kiln_error **err);

/*
 * kiln_registry_blob_get() into the file `path`: written to a temporary file
 * beside it (0600), fsynced and renamed over `path` only once size and digest
 * are verified; on failure nothing is left at `path` or beside it. -errno
 * for file system failures, else as kiln_registry_blob_get().
 */
int kiln_registry_blob_get_file(struct kiln_registry_client *c, const char *repo,
                                const char *digest, int64_t size, const char *path,
                                struct kiln_error **err);

/*
 * HEAD /v2/<repo>/blobs/<digest>: 1 and the size in *ret_size (may be NULL)
 * when the registry has the blob, 0 when it does not. Errors as
 * kiln_registry_manifest_get().
 */
int kiln_registry_blob_stat(struct kiln_registry_client *c, const char *repo, const char *digest,
                            int64_t *ret_size, struct kiln_error **err);

/*
 * Supplies upload bytes: up to `len` into buf; returns the count, 0 at the
 * end, or a negative code (with *err) to abort.
 */
typedef ssize_t kiln_registry_read_fn(void *data, void *buf, size_t len, struct kiln_error **err);

enum kiln_registry_push_result {
    KILN_REGISTRY_PUSHED = 0,  /* uploaded */
    KILN_REGISTRY_EXISTS = 1,  /* the repository had it already: nothing read */
    KILN_REGISTRY_MOUNTED = 2, /* mounted from `mount_from`: nothing read */
};

/*
 * Pushes the blob `digest` of `size` bytes to <repo>: HEAD first (present:
 * KILN_REGISTRY_EXISTS); then, with `mount_from` (a repository of the same
 * registry), a cross-repository mount (KILN_REGISTRY_MOUNTED); else (or when
 * the registry declines the mount) an upload of what read() supplies,
 * monolithic or in chunks (kiln_registry_options.chunk_size). The bytes read
 * must have `digest` and `size`, else KILN_E_INVALID and the upload is not
 * committed. *ret_sent (may be NULL) is the number of bytes sent. Errors as
 * kiln_registry_manifest_get(), and read()'s own.
 */
int kiln_registry_blob_push(struct kiln_registry_client *c, const char *repo, const char *digest,
                            int64_t size, const char *mount_from, kiln_registry_read_fn *read,
                            void *data, uint64_t *ret_sent, struct kiln_error **err);
