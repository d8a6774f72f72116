/* SPDX-License-Identifier: Apache-2.0 */
#include "mediatype.h"

#include <string.h>

#include "base/banned.h"

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* One RFC 6838 restricted-name: a letter or digit, then up to 126 more name characters. */
static size_t restricted_name(const char *s)
{
    if (!alnum(*s))
        return 0;
    size_t n = 1 + strspn(s + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                 "!#$&^_.+-");
    return n <= 127 ? n : 0;
}

bool kiln_oci_mediatype_valid(const char *s)
{
    size_t n = restricted_name(s);
    if (n == 0 || s[n] != '/')
        return false;
    s += n + 1;
    n = restricted_name(s);
    return n > 0 && s[n] == '\0';
}

bool kiln_oci_mediatype_is_manifest(const char *s)
{
    return s && (!strcmp(s, KILN_OCI_MT_MANIFEST) || !strcmp(s, KILN_DOCKER_MT_MANIFEST));
}

bool kiln_oci_mediatype_is_index(const char *s)
{
    return s && (!strcmp(s, KILN_OCI_MT_INDEX) || !strcmp(s, KILN_DOCKER_MT_MANIFEST_LIST));
}

bool kiln_oci_mediatype_is_config(const char *s)
{
    return s && (!strcmp(s, KILN_OCI_MT_CONFIG) || !strcmp(s, KILN_DOCKER_MT_CONFIG));
}
