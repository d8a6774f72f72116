/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.c - the checks every name passes before it goes into a URL
 * (CVE-2024-3727: a digest "sha256:../../x" must never reach a path), and
 * token scopes.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "internal.h"
#include "oci/digest.h"
#include "oci/reference.h"

#include "base/banned.h"

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A path component: [a-z0-9]+ joined by '.', '_', '__' or any number of '-'. */
static const char *component(const char *p)
{
    if (!alnum(*p))
        return NULL;
    while (alnum(*p))
        p++;
    while (*p == '.' || *p == '_' || *p == '-') {
        const char *sep = p;
        if (*p == '.')
            p++;
        else if (*p == '_')
            p += p[1] == '_' ? 2 : 1;
        else
            while (*p == '-')
                p++;
        if (sep == p || !alnum(*p))
            return NULL;
        while (alnum(*p))
            p++;
    }
    return p;
}

int kiln_registry_check_repo(const char *repo, struct kiln_error **err)
{
    const char *p = repo;
    if (strlen(repo) > KILN_OCI_REF_PATH_MAX)
        return kiln_error_set(err, KILN_E_INVALID, "repository name longer than %d characters",
                              KILN_OCI_REF_PATH_MAX);
    for (;;) {
        p = component(p);
        if (!p)
            break;
        if (*p == '\0')
            return 0;
        if (*p++ != '/')
            break;
    }
    return kiln_error_set(err, KILN_E_INVALID, "invalid repository name '%.255s'", repo);
}

int kiln_registry_check_reference(const char *s, struct kiln_error **err)
{
    if (strchr(s, ':')) {
        int r = kiln_oci_digest_validate(s, err);
        if (r == 1)
            r = kiln_error_set(err, KILN_E_INVALID, "unsupported digest algorithm in '%.200s'", s);
        return r < 0 ? r : 1;
    }
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-' ||
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
        return kiln_error_set(err, KILN_E_INVALID, "invalid tag '%.200s'", s);
    return 0;
}

int kiln_registry_check_digest(const char *s, struct kiln_error **err)
{
    int r = kiln_registry_check_reference(s, err);
    if (r == 0)
        return kiln_error_set(err, KILN_E_INVALID, "'%.128s' is not a digest", s);
    return r < 0 ? r : 0;
}

enum kiln_oci_digest_algo kiln_registry_digest_algo(const char *digest)
{
    if (strncmp(digest, "sha384:", 7) == 0)
        return KILN_OCI_SHA384;
    return strncmp(digest, "sha512:", 7) == 0 ? KILN_OCI_SHA512 : KILN_OCI_SHA256;
}

char *kiln_registry_scope(const char *repo, const char *actions)
{
    return kiln_xasprintf("repository:%s:%s", repo, actions);
}

void kiln_registry_insecure_from_env(struct kiln_strv *ret)
{
    _cleanup_free_ char *list = kiln_xstrdup(getenv("KILN_INSECURE_REGISTRIES") ?: "");
    char *save = NULL;
    for (char *h = strtok_r(list, ", ", &save); h; h = strtok_r(NULL, ", ", &save))
        kiln_strv_push(ret, h);
}
