/* SPDX-License-Identifier: Apache-2.0 */
/*
 * docker-host.h - the Docker engine --load talks to, as the docker CLI
 * finds it: DOCKER_HOST (unix://PATH, or tcp://HOST:PORT with TLS when
 * DOCKER_TLS_VERIFY is set), else /var/run/docker.sock
 * (docs/internals/export.md).
 */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>

#include "base/error.h"

#define KILN_DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"

/* $DOCKER_HOST when set and not empty, else KILN_DOCKER_DEFAULT_SOCKET (not to be freed). */
const char *kiln_docker_host(void);

/* The socket of a unix `host` (unix://PATH or an absolute path; a pointer into host), else NULL. */
const char *kiln_docker_host_socket(const char *host);

/*
 * Points c at `path` ("/images/load") of the engine `host`: unix://PATH or
 * an absolute socket path, tcp://HOST:PORT (https with DOCKER_TLS_VERIFY,
 * the certificates ca.pem, cert.pem and key.pem of DOCKER_CERT_PATH, else
 * ~/.docker). *ret_url is the URL set (caller frees). KILN_E_INVALID for a
 * host kiln does not speak to (ssh://, npipe://), naming it.
 */
int kiln_docker_curl_target(CURL *c, const char *host, const char *path, char **ret_url,
                            struct kiln_error **err);

/* Whether an engine answers GET /_ping at `host` (within a few seconds). */
bool kiln_docker_ping(const char *host);
