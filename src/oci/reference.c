/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reference.c - distribution/reference's grammar (regexp.go) as a
 * hand-written matcher that accepts exactly what the anchored regular
 * expression accepts, and can say which part failed.
 *
 * The regular expression has one real ambiguity, whether the first path
 * component is a domain; Go's leftmost-first matching prefers the domain
 * whenever the rest still matches, and so does this code.
 */
#include "reference.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "digest.h"
#include "json.h"

#include "base/banned.h"

#define WHY_MAX 320

static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
    return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool word(char c)
{
    return alnum(c) || c == '_';
}

/* pathComponent: [a-z0-9]+ ((?:[._]|__|[-]+)[a-z0-9]+)* over the n bytes at s. */
static bool path_component(const char *s, size_t n)
{
    size_t i = 0;
    for (;;) {
        size_t start = i;
        while (i < n && lower_alnum(s[i]))
            i++;
        if (i == start)
            return false;
        if (i == n)
            return true;
        if (s[i] == '.')
            i++;
        else if (s[i] == '_')
            i += i + 1 < n && s[i + 1] == '_' ? 2 : 1;
        else if (s[i] == '-')
            while (i < n && s[i] == '-')
                i++;
        else
            return false;
    }
}

/* remoteName: pathComponent ('/' pathComponent)*. On failure *bad is the first bad component. */
static bool remote_name(const char *s, size_t n, const char **bad, size_t *bad_len)
{
    for (size_t i = 0;;) {
        size_t len = 0;
        while (i + len < n && s[i + len] != '/')
            len++;
        if (!path_component(s + i, len)) {
            *bad = s + i;
            *bad_len = len;
            return false;
        }
        i += len;
        if (i == n)
            return true;
        i++;
    }
}

/* domainNameComponent: [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool domain_component(const char *s, size_t n)
{
    if (n == 0 || !alnum(s[0]) || !alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

/* domainAndPort: (domainName | \[[a-fA-F0-9:]+\]) (:[0-9]+)? */
static bool domain(const char *s, size_t n)
{
    size_t host;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        size_t in = close ? (size_t)(close - s) - 1 : 0;
        if (in == 0 || strspn(s + 1, "0123456789abcdefABCDEF:") < in)
            return false;
        host = in + 2;
    } else {
        const char *colon = memchr(s, ':', n);
        host = colon ? (size_t)(colon - s) : n;
        for (size_t i = 0, len; i <= host; i += len + 1) {
            for (len = 0; i + len < host && s[i + len] != '.'; len++)
                ;
            if (!domain_component(s + i, len))
                return false;
        }
    }
    if (host == n)
        return true;
    if (s[host] != ':' || host + 1 == n)
        return false;
    for (size_t i = host + 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* tag: [\w][\w.-]{0,127} */
static bool tag_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || !word(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!word(s[i]) && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

/* digestPat: [A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,} */
static bool digest_ok(const char *s)
{
    for (;;) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return false;
        while (alnum(*s))
            s++;
        if (*s == ':')
            break;
        if (!*s || !strchr("-_+.", *s))
            return false;
        s++;
    }
    s++;
    size_t n = strspn(s, "0123456789abcdefABCDEF");
    return n >= 32 && s[n] == '\0';
}

/* Splits s by the reference grammar into r, or says why it does not match. */
static bool split(const char *s, struct kiln_oci_ref *r, char why[WHY_MAX])
{
    const char *at = strchr(s, '@');
    size_t name_end = at ? (size_t)(at - s) : strlen(s);
    if (at && !digest_ok(at + 1)) {
        snprintf(why, WHY_MAX, "digest '%.*s%s' is not ALGORITHM:HEX with 32 or more hex digits",
                 KILN_OCI_QUOTE(at + 1));
        return false;
    }
    /* A tag is after the last ':' if no '/' follows it: a name has ':' only in its domain. */
    const char *colon = memrchr(s, ':', name_end), *slash = memrchr(s, '/', name_end);
    _cleanup_free_ char *tag = NULL;
    if (colon && (!slash || colon > slash)) {
        tag = kiln_xstrndup(colon + 1, name_end - (size_t)(colon + 1 - s));
        if (!tag_ok(tag)) {
            snprintf(why, WHY_MAX,
                     "tag '%.*s%s' must be 1 to 128 letters, digits, '_', '.' or '-', "
                     "not starting with '.' or '-'",
                     KILN_OCI_QUOTE(tag));
            return false;
        }
        name_end = (size_t)(colon - s);
    }
    const char *first_slash = memchr(s, '/', name_end), *bad = NULL, *bad_rest = NULL;
    size_t first = first_slash ? (size_t)(first_slash - s) : 0, bad_len = 0, bad_rest_len = 0;
    bool dom = first_slash && domain(s, first);
    if (dom && remote_name(s + first + 1, name_end - first - 1, &bad_rest, &bad_rest_len)) {
        r->domain = kiln_xstrndup(s, first);
        r->path = kiln_xstrndup(s + first + 1, name_end - first - 1);
    } else if (remote_name(s, name_end, &bad, &bad_len)) {
        r->path = kiln_xstrndup(s, name_end);
    } else {
        if (dom) {
            bad = bad_rest;
            bad_len = bad_rest_len;
        } else if (bad == s && first_slash && strcspn(s, ".:[") < first) {
            snprintf(why, WHY_MAX, "domain '%.*s' is not HOST[:PORT] (a DNS name, IPv4 or [IPv6])",
                     (int)(first < 80 ? first : 80), s);
            return false;
        }
        if (bad_len == 0)
            snprintf(why, WHY_MAX, "repository name has an empty component");
        else
            snprintf(why, WHY_MAX,
                     "repository name component '%.*s' must be lower-case letters and digits, "
                     "separated by '.', '_', '__' or dashes",
                     (int)(bad_len < 80 ? bad_len : 80), bad);
        return false;
    }
    r->tag = TAKE_PTR(tag);
    r->digest = at ? kiln_xstrdup(at + 1) : NULL;
    return true;
}

static void ref_release(struct kiln_oci_ref *r)
{
    free(r->domain);
    free(r->path);
    free(r->tag);
    free(r->digest);
    *r = (struct kiln_oci_ref){0};
}

static char *lower_dup(const char *s)
{
    char *l = kiln_xstrdup(s);
    for (char *p = l; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p += 'a' - 'A';
    return l;
}

/* reference.Parse without its final checks: the grammar, or the reason it fails. */
static int match(const char *s, struct kiln_oci_ref *r, struct kiln_error **err)
{
    char why[WHY_MAX], why_lower[WHY_MAX];
    if (!*s)
        return kiln_error_set(err, KILN_E_INVALID,
                              "repository name must have at least one component");
    if (split(s, r, why))
        return 0;
    ref_release(r);
    _cleanup_free_ char *low = lower_dup(s);
    struct kiln_oci_ref l = {0};
    bool upper = strcmp(low, s) != 0 && split(low, &l, why_lower);
    ref_release(&l);
    if (upper)
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid reference format: repository name must be lowercase");
    return kiln_error_set(err, KILN_E_INVALID, "invalid reference format: %s", why);
}

int kiln_oci_ref_parse(const char *s, struct kiln_oci_ref **ret, struct kiln_error **err)
{
    struct kiln_oci_ref r = {0};
    _cleanup_(kiln_error_freep) struct kiln_error *e = NULL;
    int k = match(s, &r, err);
    if (k < 0)
        return k;
    if (strlen(r.path) > KILN_OCI_REF_PATH_MAX)
        k = kiln_error_set(err, KILN_E_INVALID,
                           "invalid reference format: repository name must not be more than %d "
                           "characters (it has %zu)",
                           KILN_OCI_REF_PATH_MAX, strlen(r.path));
    else if (r.digest && (k = kiln_oci_digest_validate(r.digest, &e)) != 0)
        k = kiln_error_set(err, KILN_E_INVALID, "%s",
                           k > 0 ? "unsupported digest algorithm: use sha256, sha384 or sha512"
                                 : e->message);
    if (k < 0) {
        ref_release(&r);
        return k;
    }
    *ret = kiln_xmalloc(sizeof(r));
    **ret = r;
    return 0;
}

int kiln_oci_ref_parse_normalized(const char *s, struct kiln_oci_ref **ret, struct kiln_error **err)
{
    if (strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64)
        return kiln_error_set(
                err, KILN_E_INVALID,
                "invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s);
    /* splitDockerDomain */
    const char *slash = strchr(s, '/'), *rest = s;
    _cleanup_free_ char *domain = kiln_xstrdup("docker.io");
    if (slash) {
        _cleanup_free_ char *first = kiln_xstrndup(s, (size_t)(slash - s));
        _cleanup_free_ char *low = lower_dup(first);
        if (!strcmp(first, "localhost") || strpbrk(first, ".:") || strcmp(low, first)) {
            if (strcmp(first, "index.docker.io") != 0) {
                free(domain);
                domain = TAKE_PTR(first);
            }
            rest = slash + 1;
        }
    }
    bool library = !strcmp(domain, "docker.io") && !strchr(rest, '/');
    _cleanup_free_ char *full = kiln_xasprintf("%s/%s%s", domain, library ? "library/" : "", rest);
    /* The remote name (up to the first ':') must be lower case. */
    const char *remainder = strchr(full, '/') + 1;
    size_t remote = strcspn(remainder, ":");
    for (size_t i = 0; i < remote; i++)
        if (remainder[i] >= 'A' && remainder[i] <= 'Z')
            return kiln_error_set(
                    err, KILN_E_INVALID,
                    "invalid reference format: repository name (%.*s) must be lowercase",
                    (int)remote, remainder);
    return kiln_oci_ref_parse(full, ret, err);
}

void kiln_oci_ref_tag_name_only(struct kiln_oci_ref *r)
{
    if (!r->tag && !r->digest)
        r->tag = kiln_xstrdup("latest");
}

char *kiln_oci_ref_name(const struct kiln_oci_ref *r, bool familiar)
{
    if (familiar && r->domain && !strcmp(r->domain, "docker.io")) {
        const char *p = r->path;
        if (!strncmp(p, "library/", 8) && !strchr(p + 8, '/'))
            p += 8;
        return kiln_xstrdup(p);
    }
    if (!r->domain)
        return kiln_xstrdup(r->path);
    return kiln_xasprintf("%s/%s", r->domain, r->path);
}

char *kiln_oci_ref_string(const struct kiln_oci_ref *r, bool familiar)
{
    _cleanup_free_ char *name = kiln_oci_ref_name(r, familiar);
    return kiln_xasprintf("%s%s%s%s%s", name, r->tag ? ":" : "", r->tag ? r->tag : "",
                          r->digest ? "@" : "", r->digest ? r->digest : "");
}

/* containerd's MatchLocalhost: net.SplitHostPort, then "localhost" or a loopback IP. */
bool kiln_oci_ref_plain_http(const char *domain)
{
    if (!strcmp(domain, "::1") || !strcmp(domain, "[::1]"))
        return true;
    _cleanup_free_ char *host = NULL;
    const char *colon = strrchr(domain, ':');
    if (domain[0] == '[') {
        const char *close = strchr(domain, ']');
        if (!close || close[1] != ':' || !close[2])
            return false;
        host = kiln_xstrndup(domain + 1, (size_t)(close - domain - 1));
    } else if (colon) {
        if (strchr(domain, ':') != colon || !colon[1])
            return false;
        host = kiln_xstrndup(domain, (size_t)(colon - domain));
    } else {
        host = kiln_xstrdup(domain);
    }
    if (!strcmp(host, "localhost"))
        return true;
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char loopback[16] = {[15] = 1};
    if (inet_pton(AF_INET6, host, a) != 1)
        return false;
    return !memcmp(a, loopback, 16) || (!memcmp(a, v4mapped, 12) && a[12] == 127);
}

void kiln_oci_ref_free(struct kiln_oci_ref *r)
{
    if (!r)
        return;
    ref_release(r);
    free(r);
}
