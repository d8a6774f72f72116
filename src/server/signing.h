/* SPDX-License-Identifier: Apache-2.0 */
/*
 * signing.h - the token service's signing keys in DATA/signing/
 * (docs/internals/token-service.md):
 *
 *   keys.json   every key kilnd still knows: its number, libtrust key ID,
 *               state and times
 *   keys/N.key  key N's P-256 private key (PEM, 0600), kept while it is
 *               "next" or "current"
 *   keys/N.crt  key N's self-signed certificate
 *   bundle.pem  the certificates the registry trusts (its rootcertbundle):
 *               next, current and the retired keys whose tokens may still be
 *               valid, newest first
 *
 * Rotation has two steps so that it never breaks a running registry, which
 * reads its rootcertbundle only when it starts: `rotate` makes a "next" key
 * and puts its certificate in the bundle while the current key goes on
 * signing; once the registry has been restarted on the new bundle,
 * `activate` makes next the current key (the old one is retired). A retired
 * key's certificate stays in the bundle for KILND_SIGNING_KEEP_S after it
 * stopped signing (no token it signed can be valid after that), and is then
 * dropped by the next change. `rotate --activate` does both at once, for a
 * registry that is restarted at the same time (or not running).
 */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "jwt.h"

#define KILND_SIGNING_DIR        "signing"
#define KILND_SIGNING_BUNDLE     "bundle.pem"
#define KILND_TOKEN_LIFETIME_S   300 /* a registry token's lifetime (expires_in) */
#define KILND_SIGNING_KEEP_S     (2 * KILND_TOKEN_LIFETIME_S)
#define KILND_SIGNING_KEYS_MAX   16          /* keys kept at once */
#define KILND_SIGNING_CERT_DAYS  3650        /* a signing certificate's validity */
#define KILND_SIGNING_FILE_MAX   (64 * 1024) /* bytes of keys.json or of one PEM file */
#define KILND_SIGNING_STATE_NAME 8           /* "current" and its NUL */

enum kilnd_key_state { KILND_KEY_NEXT, KILND_KEY_CURRENT, KILND_KEY_RETIRED };

struct kilnd_signing_key {
    unsigned n; /* its number: keys/N.key, keys/N.crt */
    char kid[KILND_JWT_KID_LEN + 1];
    enum kilnd_key_state state;
    int64_t created, activated, retired; /* seconds since the epoch; 0: not yet */
    EVP_PKEY *pkey; /* private for next and current, the certificate's public key when retired */
};

/* The keys of one data directory, newest first. */
struct kilnd_keyring {
    struct kilnd_signing_key keys[KILND_SIGNING_KEYS_MAX];
    size_t n;
};

/*
 * Loads DATA/signing/. With `create`, makes the directory, a first current
 * key and the bundle when there is no key yet, and drops the retired keys
 * past KILND_SIGNING_KEEP_S at `now` (seconds since the epoch); without it
 * a missing keys.json is KILN_E_NOTFOUND saying to run registry-config.
 * KILN_E_INVALID names a damaged file. The caller frees *ret.
 */
int kilnd_keyring_open(const char *data_dir, bool create, int64_t now, struct kilnd_keyring **ret,
                       struct kiln_error **err);
void kilnd_keyring_free(struct kilnd_keyring *kr);
KILN_DEFINE_CLEANUP(struct kilnd_keyring, kilnd_keyring_free)

/*
 * `signing-key rotate`: makes a next key (KILN_E_CONFLICT when one waits
 * already: activate it first), or with `activate` a new current key at
 * once. Holds DATA/signing/lock throughout. ret, when not NULL, gets the
 * keys afterwards. KILN_E_NOTFOUND when there is no key yet (registry-config
 * makes the first).
 */
int kilnd_keyring_rotate(const char *data_dir, bool activate, int64_t now,
                         struct kilnd_keyring **ret, struct kiln_error **err);

/* `signing-key activate`: the next key signs from now on. KILN_E_NOTFOUND when none waits. */
int kilnd_keyring_activate(const char *data_dir, int64_t now, struct kilnd_keyring **ret,
                           struct kiln_error **err);

/* The key that signs (there is always one). */
const struct kilnd_signing_key *kilnd_keyring_signer(const struct kilnd_keyring *kr);

/* The keys of the bundle as JWT verification keys (out has room for KILND_SIGNING_KEYS_MAX). */
size_t kilnd_keyring_trusted(const struct kilnd_keyring *kr, struct kilnd_jwt_key *out);

/* "next", "current" or "retired". */
const char *kilnd_key_state_name(enum kilnd_key_state s);

/*
 * Writes path (mode `mode`) through a temporary file, fsync and a rename:
 * readers see the old file or the new one, never a part.
 */
int kilnd_signing_write_file(const char *path, mode_t mode, const void *data, size_t n,
                             struct kiln_error **err);

/* The absolute path of DATA/signing/bundle.pem (the caller frees it); DATA must exist. */
int kilnd_signing_bundle_path(const char *data_dir, char **ret, struct kiln_error **err);
