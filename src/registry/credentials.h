/* SPDX-License-Identifier: Apache-2.0 */
/*
 * credentials.h - registry credentials: kiln's own file, written by
 * `kiln login REGISTRY`, and Docker's config.json with its credential helpers.
 *
 * $XDG_CONFIG_HOME/kiln/credentials.json (default ~/.config/kiln), mode 0600:
 *
 *   {"auths": {"ghcr.io": {"username": "me", "secret": "..."},
 *              "docker.io": {"identitytoken": "..."}}}
 *
 * Secrets are zeroed when freed and never appear in an error message.
 */
#pragma once

#include "base/cleanup.h"
#include "base/error.h"

struct kiln_registry_cred {
    char *username;       /* NULL when none */
    char *secret;         /* password or access token; NULL when none */
    char *identity_token; /* OAuth2 refresh token for the token server; NULL when none */
};

/* Zeroes the strings and frees c; NULL is fine. */
void kiln_registry_cred_free(struct kiln_registry_cred *c);
KILN_DEFINE_CLEANUP(struct kiln_registry_cred, kiln_registry_cred_free)

/* A copy of c (caller frees with kiln_registry_cred_free); NULL for NULL. */
struct kiln_registry_cred *kiln_registry_cred_dup(const struct kiln_registry_cred *c);

/*
 * The key credentials of a registry are kept under: the reference domain
 * with Docker Hub's aliases ("index.docker.io", "registry-1.docker.io",
 * "https://index.docker.io/v1/") folded into "docker.io", and a scheme and
 * path ("https://host/v1/") dropped. Caller frees.
 */
char *kiln_registry_cred_key(const char *server);

/*
 * The path of kiln's credentials file: $XDG_CONFIG_HOME/kiln/credentials.json,
 * or $HOME/.config/kiln/credentials.json. Caller frees. KILN_E_NOTFOUND when
 * neither variable is set.
 */
int kiln_registry_credentials_path(char **ret, struct kiln_error **err);

/*
 * The credentials for `server` in the file at `path` (NULL: the default
 * path). Returns 1 and *ret (caller's) when found, 0 when the file or the
 * entry is missing. KILN_E_INVALID for a malformed file (message names the
 * file, never a value), KILN_E_LIMIT past KILN_REGISTRY_CREDENTIALS_MAX.
 */
int kiln_registry_credentials_get(const char *path, const char *server,
                                  struct kiln_registry_cred **ret, struct kiln_error **err);

/*
 * Stores `cred` for `server` (NULL cred: removes the entry) in the file at
 * `path` (NULL: the default path), keeping the other entries. The directory
 * is created 0700; the file is written 0600 to a temporary file, fsynced and
 * renamed over the old one, so a crash leaves the old or the new file.
 * Errors as kiln_registry_credentials_get(), -errno from the file system.
 */
int kiln_registry_credentials_set(const char *path, const char *server,
                                  const struct kiln_registry_cred *cred, struct kiln_error **err);

/*
 * The credentials Docker would use for `server`, from the config.json in
 * `config_dir` (NULL: $DOCKER_CONFIG, else ~/.docker): credHelpers[server],
 * else credsStore, else auths (base64 "auth" or username/password,
 * "identitytoken"). A helper is run as `docker-credential-NAME get` (found
 * on PATH, no shell) with the server on stdin, for at most 30 s. Returns 1
 * and *ret when found, 0 when not. KILN_E_INVALID for a malformed file or
 * helper answer, KILN_E_UPSTREAM when a helper fails, KILN_E_LIMIT.
 */
int kiln_registry_docker_config_get(const char *config_dir, const char *server,
                                    struct kiln_registry_cred **ret, struct kiln_error **err);

/*
 * Credentials for `server` held in this process's memory only (a kilnd build
 * worker gets them with its build): kiln_registry_credentials_lookup()
 * answers them before any file. The last one given for a server wins.
 */
void kiln_registry_credentials_preset(const char *server, const struct kiln_registry_cred *cred);

/*
 * Preset credentials first, then kiln's file, then Docker's: what `kiln build
 * --push` uses for `server` when the user gave nothing else. Returns 1 and
 * *ret, or 0. Errors as above.
 */
int kiln_registry_credentials_lookup(const char *server, struct kiln_registry_cred **ret,
                                     struct kiln_error **err);
