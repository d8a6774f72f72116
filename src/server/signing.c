/* SPDX-License-Identifier: Apache-2.0 */
/*
 * signing.c - the token service's signing keys: P-256 keys with
 * self-signed certificates in DATA/signing/, the registry's bundle, and
 * two-step rotation (signing.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/cleanup.h"
#include "base/strv.h"
#include "signing.h"

#include "base/banned.h"

static const char *const state_names[] = {"next", "current", "retired"};

const char *kilnd_key_state_name(enum kilnd_key_state s)
{
    return state_names[s];
}

void kilnd_keyring_free(struct kilnd_keyring *kr)
{
    if (!kr)
        return;
    for (size_t i = 0; i < kr->n; i++)
        EVP_PKEY_free(kr->keys[i].pkey);
    free(kr);
}

static char *path_of(const char *data_dir, const char *name)
{
    return kiln_xasprintf("%s/" KILND_SIGNING_DIR "/%s", data_dir, name);
}

static char *key_path(const char *data_dir, unsigned n, const char *ext)
{
    return kiln_xasprintf("%s/" KILND_SIGNING_DIR "/keys/%u.%s", data_dir, n, ext);
}

int kilnd_signing_write_file(const char *path, mode_t mode, const void *data, size_t n,
                             struct kiln_error **err)
{
    _cleanup_free_ char *tmp = kiln_xasprintf("%s.tmp", path);
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", tmp);
    for (size_t done = 0; done < n;) {
        ssize_t k = write(fd, (const char *)data + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int r = -errno;
            (void)unlink(tmp);
            return kiln_error_set_errno(err, r, "cannot write '%s'", tmp);
        }
        done += (size_t)k;
    }
    if (fchmod(fd, mode) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
        int r = -errno;
        (void)unlink(tmp);
        return kiln_error_set_errno(err, r, "cannot write '%s'", path);
    }
    return 0;
}

/* Writes what a PEM writer puts into a memory BIO to path. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, X509 *cert,
                     struct kiln_error **err)
{
    BIO *b = BIO_new(BIO_s_mem());
    int ok = b && (cert ? PEM_write_bio_X509(b, cert)
                        : PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL));
    char *data = NULL;
    long n = ok ? BIO_get_mem_data(b, &data) : 0;
    int r = ok && n > 0 ? kilnd_signing_write_file(path, mode, data, (size_t)n, err)
                        : kiln_error_set(err, KILN_E_INVALID, "cannot encode '%s'", path);
    BIO_free(b);
    return r;
}

static int read_small(const char *path, struct kiln_buf *b, struct kiln_error **err)
{
    kiln_buf_init(b, KILND_SIGNING_FILE_MAX);
    int r = kiln_buf_read_file(b, path);
    if (r == KILN_E_LIMIT)
        return kiln_error_set(err, r, "'%s' is larger than %u bytes", path, KILND_SIGNING_FILE_MAX);
    if (r < 0)
        return kiln_error_set_errno(err, r, "cannot read '%s'", path);
    return 0;
}

static X509 *make_cert(EVP_PKEY *pkey, int64_t now)
{
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *bc = NULL, *ku = NULL;
    X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
    bool ok = x && serial && X509_set_version(x, 2) == 1 && BN_rand(serial, 127, 0, 0) == 1 &&
              BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) &&
              ASN1_TIME_set(X509_getm_notBefore(x), (time_t)now - 60) &&
              ASN1_TIME_set(X509_getm_notAfter(x),
                            (time_t)now + (time_t)KILND_SIGNING_CERT_DAYS * 86400) &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                         (const unsigned char *)"kilnd token signing", -1, -1,
                                         0) == 1 &&
              X509_set_issuer_name(x, name) == 1 && X509_set_pubkey(x, pkey) == 1 &&
              (bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE")) &&
              (ku = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage,
                                        "critical,digitalSignature,keyCertSign")) &&
              X509_add_ext(x, bc, -1) == 1 && X509_add_ext(x, ku, -1) == 1 &&
              X509_sign(x, pkey, EVP_sha256()) > 0;
    X509_EXTENSION_free(bc);
    X509_EXTENSION_free(ku);
    BN_free(serial);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Makes key number n (keys/N.key and keys/N.crt) in state `state`. */
static int new_key(const char *data_dir, unsigned n, enum kilnd_key_state state, int64_t now,
                   struct kilnd_signing_key *ret, struct kiln_error **err)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *cert = pkey ? make_cert(pkey, now) : NULL;
    _cleanup_free_ char *kpath = key_path(data_dir, n, "key"),
                        *cpath = key_path(data_dir, n, "crt");
    struct kilnd_signing_key k = {.n = n, .state = state, .created = now, .pkey = pkey};
    int r = cert ? kilnd_jwt_key_id(pkey, k.kid, err)
                 : kiln_error_set(err, KILN_E_INVALID, "cannot make a P-256 signing key");
    if (r >= 0)
        r = write_pem(kpath, 0600, pkey, NULL, err);
    if (r >= 0)
        r = write_pem(cpath, 0644, NULL, cert, err);
    X509_free(cert);
    if (r < 0) {
        EVP_PKEY_free(pkey);
        return r;
    }
    if (state == KILND_KEY_CURRENT)
        k.activated = now;
    *ret = k;
    return 0;
}

/* Loads key k's EVP_PKEY: the private key, or the certificate's public key once retired. */
static int load_pkey(const char *data_dir, struct kilnd_signing_key *k, struct kiln_error **err)
{
    bool private = k->state != KILND_KEY_RETIRED;
    _cleanup_free_ char *path = key_path(data_dir, k->n, private ? "key" : "crt");
    _cleanup_(kiln_buf_releasep) struct kiln_buf b = KILN_BUF_INIT(0);
    int r = read_small(path, &b, err);
    if (r < 0)
        return r;
    BIO *bio = BIO_new_mem_buf(b.buf, (int)b.len);
    X509 *cert = NULL;
    if (private) {
        k->pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    } else if ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        k->pkey = X509_get_pubkey(cert);
        X509_free(cert);
    }
    BIO_free(bio);
    char kid[KILND_JWT_KID_LEN + 1];
    if (!k->pkey || kilnd_jwt_key_id(k->pkey, kid, NULL) < 0 || strcmp(kid, k->kid) != 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "'%s' does not hold key '%s': restore it from a backup or rotate "
                              "the signing key",
                              path, k->kid);
    return 0;
}

static int parse_key(json_t *j, struct kilnd_signing_key *k)
{
    const char *kid = json_string_value(json_object_get(j, "kid"));
    const char *state = json_string_value(json_object_get(j, "state"));
    json_int_t n = json_integer_value(json_object_get(j, "n"));
    if (!kid || strlen(kid) != KILND_JWT_KID_LEN || !state || n <= 0 || n > INT_MAX)
        return -1;
    memcpy(k->kid, kid, sizeof(k->kid));
    k->n = (unsigned)n;
    for (size_t s = 0; s < ELEMENTSOF(state_names); s++)
        if (strcmp(state, state_names[s]) == 0) {
            k->state = (enum kilnd_key_state)s;
            k->created = json_integer_value(json_object_get(j, "created"));
            k->activated = json_integer_value(json_object_get(j, "activated"));
            k->retired = json_integer_value(json_object_get(j, "retired"));
            return 0;
        }
    return -1;
}

/* Reads keys.json and each key's file; KILN_E_NOTFOUND when there is none. */
static int load(const char *data_dir, struct kilnd_keyring **ret, struct kiln_error **err)
{
    _cleanup_free_ char *path = path_of(data_dir, "keys.json");
    if (access(path, F_OK) < 0 && errno == ENOENT)
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "no token signing key in '%s': run kilnd admin --data %s "
                              "registry-config first",
                              data_dir, data_dir);
    _cleanup_(kiln_buf_releasep) struct kiln_buf b = KILN_BUF_INIT(0);
    int r = read_small(path, &b, err);
    if (r < 0)
        return r;
    json_t *j = json_loadb(b.buf, b.len, JSON_REJECT_DUPLICATES, NULL);
    json_t *keys = json_object_get(j, "keys");
    _cleanup_(kilnd_keyring_freep) struct kilnd_keyring *kr = kiln_xcalloc(1, sizeof(*kr));
    size_t i, currents = 0;
    json_t *k;
    r = json_array_size(keys) == 0 || json_array_size(keys) > KILND_SIGNING_KEYS_MAX ? -1 : 0;
    json_array_foreach (keys, i, k) {
        if (r < 0 || (r = parse_key(k, &kr->keys[i])) < 0)
            break;
        currents += kr->keys[i].state == KILND_KEY_CURRENT;
        kr->n++;
    }
    json_decref(j);
    if (r < 0 || currents != 1)
        return kiln_error_set(
                err, KILN_E_INVALID,
                "'%s' is damaged: restore it from a backup, or move DATA/" KILND_SIGNING_DIR
                " away and run registry-config again",
                path);
    for (i = 0; i < kr->n; i++)
        if ((r = load_pkey(data_dir, &kr->keys[i], err)) < 0)
            return r;
    *ret = TAKE_PTR(kr);
    return 0;
}

/* Writes every certificate of kr, newest first, to bundle.pem. */
static int save_bundle(const char *data_dir, const struct kilnd_keyring *kr,
                       struct kiln_error **err)
{
    _cleanup_(kiln_buf_releasep) struct kiln_buf all =
            KILN_BUF_INIT(KILND_SIGNING_KEYS_MAX * KILND_SIGNING_FILE_MAX);
    for (size_t i = 0; i < kr->n; i++) {
        _cleanup_free_ char *path = key_path(data_dir, kr->keys[i].n, "crt");
        _cleanup_(kiln_buf_releasep) struct kiln_buf b = KILN_BUF_INIT(0);
        int r = read_small(path, &b, err);
        if (r < 0 || (r = kiln_buf_add(&all, b.buf, b.len)) < 0)
            return r;
    }
    _cleanup_free_ char *path = path_of(data_dir, KILND_SIGNING_BUNDLE);
    return kilnd_signing_write_file(path, 0644, all.buf, all.len, err);
}

/* Writes keys.json, then the bundle. */
static int save(const char *data_dir, const struct kilnd_keyring *kr, struct kiln_error **err)
{
    json_t *keys = json_array();
    for (size_t i = 0; i < kr->n; i++) {
        const struct kilnd_signing_key *k = &kr->keys[i];
        json_array_append_new(keys, json_pack("{s:i, s:s, s:s, s:I, s:I, s:I}", "n", (int)k->n,
                                              "kid", k->kid, "state", state_names[k->state],
                                              "created", (json_int_t)k->created, "activated",
                                              (json_int_t)k->activated, "retired",
                                              (json_int_t)k->retired));
    }
    json_t *j = json_pack("{s:o}", "keys", keys);
    _cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    _cleanup_free_ char *path = path_of(data_dir, "keys.json");
    int r = save_bundle(data_dir, kr, err);
    if (r >= 0)
        r = kilnd_signing_write_file(path, 0600, text, strlen(text), err);
    return r;
}

/* Drops the retired keys no valid token can name any more. */
static void prune(const char *data_dir, struct kilnd_keyring *kr, int64_t now)
{
    size_t o = 0;
    for (size_t i = 0; i < kr->n; i++) {
        struct kilnd_signing_key *k = &kr->keys[i];
        if (k->state == KILND_KEY_RETIRED && k->retired + KILND_SIGNING_KEEP_S <= now) {
            _cleanup_free_ char *crt = key_path(data_dir, k->n, "crt");
            (void)unlink(crt);
            EVP_PKEY_free(k->pkey);
            continue;
        }
        kr->keys[o++] = *k;
    }
    kr->n = o;
}

/*
 * Takes DATA/signing/lock, with `create` making the directories first; without
 * it, a data directory that has no keys is load()'s KILN_E_NOTFOUND.
 */
static int lock_dir(const char *data_dir, bool create, int *ret_fd, struct kiln_error **err)
{
    _cleanup_free_ char *dir = kiln_xasprintf("%s/" KILND_SIGNING_DIR, data_dir);
    _cleanup_free_ char *keys = path_of(data_dir, "keys");
    if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", dir);
    if (create && mkdir(keys, 0700) < 0 && errno != EEXIST)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", keys);
    _cleanup_free_ char *path = path_of(data_dir, "lock");
    _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == ENOENT && !create) {
        struct kilnd_keyring *none = NULL;
        return load(data_dir, &none, err);
    }
    if (fd < 0 || flock(fd, LOCK_EX) < 0)
        return kiln_error_set_errno(err, -errno, "cannot lock '%s'", path);
    *ret_fd = TAKE_FD(fd);
    return 0;
}

static unsigned next_number(const struct kilnd_keyring *kr)
{
    return kr->n ? kr->keys[0].n + 1 : 1;
}

/* Puts k first (newest). */
static int push_key(struct kilnd_keyring *kr, const struct kilnd_signing_key *k,
                    struct kiln_error **err)
{
    if (kr->n == KILND_SIGNING_KEYS_MAX)
        return kiln_error_set(err, KILN_E_LIMIT,
                              "%u signing keys are kept already: wait %d s for retired keys to "
                              "expire, then rotate",
                              KILND_SIGNING_KEYS_MAX, KILND_SIGNING_KEEP_S);
    memmove(&kr->keys[1], &kr->keys[0], kr->n * sizeof(kr->keys[0]));
    kr->keys[0] = *k;
    kr->n++;
    return 0;
}

/* Retires the current key and makes next (kr->keys[0]) current, its private key file gone. */
static void promote(const char *data_dir, struct kilnd_keyring *kr, int64_t now)
{
    for (size_t i = 1; i < kr->n; i++) {
        struct kilnd_signing_key *k = &kr->keys[i];
        if (k->state != KILND_KEY_CURRENT)
            continue;
        k->state = KILND_KEY_RETIRED;
        k->retired = now;
        _cleanup_free_ char *path = key_path(data_dir, k->n, "key");
        (void)unlink(path);
    }
    kr->keys[0].state = KILND_KEY_CURRENT;
    kr->keys[0].activated = now;
}

enum change { CHANGE_NONE, CHANGE_ROTATE, CHANGE_ROTATE_ACTIVATE, CHANGE_ACTIVATE };

/* Under the lock: loads (or starts) the keys, applies `change`, prunes and saves. */
static int update(const char *data_dir, enum change change, int64_t now, struct kilnd_keyring **ret,
                  struct kiln_error **err)
{
    _cleanup_close_ int lock = -1;
    int r = lock_dir(data_dir, change == CHANGE_NONE, &lock, err);
    if (r < 0)
        return r;
    _cleanup_(kilnd_keyring_freep) struct kilnd_keyring *kr = NULL;
    r = load(data_dir, &kr, NULL);
    if (r < 0 && (r != KILN_E_NOTFOUND || change != CHANGE_NONE))
        return load(data_dir, &kr, err); /* again, for the message */
    if (r == KILN_E_NOTFOUND) {
        kr = kiln_xcalloc(1, sizeof(*kr));
        change = CHANGE_ROTATE_ACTIVATE; /* the first key signs at once */
    }
    bool waiting = kr->n && kr->keys[0].state == KILND_KEY_NEXT;
    if (change == CHANGE_ACTIVATE && !waiting)
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "no new signing key waits: run signing-key rotate first");
    if ((change == CHANGE_ROTATE || change == CHANGE_ROTATE_ACTIVATE) && waiting)
        return kiln_error_set(err, KILN_E_CONFLICT,
                              "key %u waits to be activated: restart the registry, then run "
                              "signing-key activate",
                              kr->keys[0].n);
    prune(data_dir, kr, now);
    if (change == CHANGE_ROTATE || change == CHANGE_ROTATE_ACTIVATE) {
        struct kilnd_signing_key k;
        if ((r = new_key(data_dir, next_number(kr), KILND_KEY_NEXT, now, &k, err)) < 0)
            return r;
        if ((r = push_key(kr, &k, err)) < 0) {
            EVP_PKEY_free(k.pkey);
            return r;
        }
    }
    if (change == CHANGE_ACTIVATE || change == CHANGE_ROTATE_ACTIVATE)
        promote(data_dir, kr, now);
    if ((r = save(data_dir, kr, err)) < 0)
        return r;
    if (ret)
        *ret = TAKE_PTR(kr);
    return 0;
}

int kilnd_keyring_open(const char *data_dir, bool create, int64_t now, struct kilnd_keyring **ret,
                       struct kiln_error **err)
{
    if (create)
        return update(data_dir, CHANGE_NONE, now, ret, err);
    return load(data_dir, ret, err);
}

int kilnd_keyring_rotate(const char *data_dir, bool activate, int64_t now,
                         struct kilnd_keyring **ret, struct kiln_error **err)
{
    return update(data_dir, activate ? CHANGE_ROTATE_ACTIVATE : CHANGE_ROTATE, now, ret, err);
}

int kilnd_keyring_activate(const char *data_dir, int64_t now, struct kilnd_keyring **ret,
                           struct kiln_error **err)
{
    return update(data_dir, CHANGE_ACTIVATE, now, ret, err);
}

const struct kilnd_signing_key *kilnd_keyring_signer(const struct kilnd_keyring *kr)
{
    for (size_t i = 0; i < kr->n; i++)
        if (kr->keys[i].state == KILND_KEY_CURRENT)
            return &kr->keys[i];
    return NULL; /* load() refuses a keyring without one */
}

size_t kilnd_keyring_trusted(const struct kilnd_keyring *kr, struct kilnd_jwt_key *out)
{
    for (size_t i = 0; i < kr->n; i++)
        out[i] = (struct kilnd_jwt_key){kr->keys[i].kid, kr->keys[i].pkey};
    return kr->n;
}

int kilnd_signing_bundle_path(const char *data_dir, char **ret, struct kiln_error **err)
{
    char *abs = realpath(data_dir, NULL);
    if (!abs)
        return kiln_error_set_errno(err, -errno, "cannot resolve data directory '%s'", data_dir);
    *ret = kiln_xasprintf("%s/" KILND_SIGNING_DIR "/" KILND_SIGNING_BUNDLE, abs);
    free(abs);
    return 0;
}

/* `kilnd admin signing-key ...` */

static void format_time(int64_t t, char out[32])
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t == 0)
        snprintf(out, 32, "-");
    else
        strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&tt, &tm));
}

static void list_keys(const struct kilnd_keyring *kr)
{
    _cleanup_strv_ struct kiln_strv cells = KILN_STRV_INIT;
    static const char *const header[] = {"KEY",     "KID",       "STATE",
                                         "CREATED", "ACTIVATED", "IN BUNDLE UNTIL"};
    for (size_t i = 0; i < ELEMENTSOF(header); i++)
        kiln_strv_push(&cells, header[i]);
    for (size_t i = 0; i < kr->n; i++) {
        const struct kilnd_signing_key *k = &kr->keys[i];
        char created[32], activated[32], until[32];
        format_time(k->created, created);
        format_time(k->activated, activated);
        format_time(k->retired ? k->retired + KILND_SIGNING_KEEP_S : 0, until);
        kiln_strv_take(&cells, kiln_xasprintf("%u", k->n));
        kiln_strv_push(&cells, k->kid);
        kiln_strv_push(&cells, state_names[k->state]);
        kiln_strv_push(&cells, created);
        kiln_strv_push(&cells, activated);
        kiln_strv_push(&cells, until);
    }
    kilnd_admin_table(&cells, ELEMENTSOF(header));
}

/* What rotate or activate changed, and what the operator does next. */
static void report_change(const char *data_dir, const struct kilnd_keyring *kr)
{
    const struct kilnd_signing_key *k = &kr->keys[0];
    if (k->state == KILND_KEY_NEXT) {
        printf("key %u (%s) added to %s/" KILND_SIGNING_DIR "/" KILND_SIGNING_BUNDLE
               "; key %u still signs\n"
               "restart the registry so that it trusts the new key, then run: kilnd admin "
               "--data %s signing-key activate\n",
               k->n, k->kid, data_dir, kilnd_keyring_signer(kr)->n, data_dir);
        return;
    }
    printf("key %u (%s) signs new tokens from now on\n", k->n, k->kid);
    if (kr->n > 1 && kr->keys[1].state == KILND_KEY_RETIRED) {
        char until[32];
        format_time(kr->keys[1].retired + KILND_SIGNING_KEEP_S, until);
        printf("key %u stays in the bundle until %s: the tokens it signed are valid until "
               "they expire\n",
               kr->keys[1].n, until);
    }
    printf("a registry started before key %u was in its bundle refuses the new tokens: restart "
           "it if it was\n",
           k->n);
}

static int signing_usage(FILE *f)
{
    fprintf(f,
            "usage: kilnd admin [--data DIR] signing-key ls\n"
            "       kilnd admin [--data DIR] signing-key rotate [--activate]\n"
            "       kilnd admin [--data DIR] signing-key activate\n\n"
            "The registry token service's signing keys (DIR/" KILND_SIGNING_DIR "/).\n"
            "rotate adds a new key to the registry's certificate bundle while the\n"
            "current key goes on signing; once the registry has been restarted on the\n"
            "new bundle, activate makes the new key sign. --activate does both at once\n"
            "(for a registry restarted at the same time). A retired key stays in the\n"
            "bundle for %d s, until no token it signed can be valid.\n",
            KILND_SIGNING_KEEP_S);
    return f == stdout ? 0 : 2;
}

int kilnd_admin_signing_key(const char *data_dir, int argc, char **argv)
{
    if (argc < 2)
        return signing_usage(stderr);
    const char *verb = argv[1];
    bool activate = argc == 3 && strcmp(argv[2], "--activate") == 0;
    if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0)
        return signing_usage(stdout);
    if (argc > 3 || (argc == 3 && (!activate || strcmp(verb, "rotate") != 0)))
        return signing_usage(stderr);
    struct kiln_error *e = NULL;
    _cleanup_(kilnd_keyring_freep) struct kilnd_keyring *kr = NULL;
    int r;
    int64_t now = (int64_t)time(NULL);
    if (strcmp(verb, "ls") == 0)
        r = kilnd_keyring_open(data_dir, false, now, &kr, &e);
    else if (strcmp(verb, "rotate") == 0)
        r = kilnd_keyring_rotate(data_dir, activate, now, &kr, &e);
    else if (strcmp(verb, "activate") == 0)
        r = kilnd_keyring_activate(data_dir, now, &kr, &e);
    else
        return signing_usage(stderr);
    if (r < 0) {
        int code = kilnd_admin_fail(r, e);
        kiln_error_free(e);
        return code;
    }
    if (strcmp(verb, "ls") == 0)
        list_keys(kr);
    else
        report_change(data_dir, kr);
    return 0;
}
