/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry-config.h - how a distribution registry trusts this kilnd
 * (docs/internals/token-service.md): the values kept in
 * DATA/signing/config.json and the `auth:` section of the registry's
 * configuration that `kilnd admin registry-config` prints.
 */
#pragma once

#include "base/error.h"

#define KILND_REGISTRY_CONFIG_FILE "config.json"
#define KILND_REGISTRY_VALUE_MAX   512 /* bytes of one value (service, realm, issuer, registry) */
#define KILND_ISSUER_DEFAULT       "kilnd"
#define KILND_REFRESH_AUDIENCE     "kilnd-refresh" /* refresh tokens' aud: never a service */

struct kilnd_registry_config {
    char *service;  /* the registry's name: tokens' aud, the ?service= of /token */
    char *realm;    /* the URL of kilnd's /token, as clients reach it */
    char *issuer;   /* tokens' iss */
    char *registry; /* HOST[:PORT] of the registry that trusts this kilnd, or NULL */
};
void kilnd_registry_config_release(struct kilnd_registry_config *c);

/*
 * Checks c: printable ASCII without quotes or backslashes, at most
 * KILND_REGISTRY_VALUE_MAX bytes each; realm an http:// or https:// URL;
 * service not KILND_REFRESH_AUDIENCE; registry a HOST[:PORT].
 * KILN_E_INVALID naming the value.
 */
int kilnd_registry_config_check(const struct kilnd_registry_config *c, struct kiln_error **err);

/* Writes c (checked) to DATA/signing/config.json, creating DATA/signing when missing. */
int kilnd_registry_config_save(const char *data_dir, const struct kilnd_registry_config *c,
                               struct kiln_error **err);

/*
 * Reads DATA/signing/config.json into ret (the caller releases it):
 * KILN_E_NOTFOUND when registry-config never ran, KILN_E_INVALID when damaged.
 */
int kilnd_registry_config_load(const char *data_dir, struct kilnd_registry_config *ret,
                               struct kiln_error **err);

/* The registry's `auth:` section for c and the bundle's absolute path (the caller frees it). */
char *kilnd_registry_config_yaml(const struct kilnd_registry_config *c, const char *bundle_path);
