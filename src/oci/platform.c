/* SPDX-License-Identifier: Apache-2.0 */
/*
 * platform.c - containerd's platforms package (v1.0.0-rc.1/rc.2, vendored by
 * BuildKit): Parse, Normalize, Format, FormatAll, NewMatcher and the
 * ordering of Only().
 */
#include "platform.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "json.h"

#include "base/banned.h"

/* The host as Go's runtime.GOOS and runtime.GOARCH name it. */
#if defined(__linux__)
#    define HOST_OS "linux"
#else
#    error "kiln: add this OS's Go name (GOOS) to src/oci/platform.c"
#endif

#if defined(__x86_64__)
#    define HOST_ARCH "amd64"
#elif defined(__i386__)
#    define HOST_ARCH "386"
#elif defined(__aarch64__)
#    define HOST_ARCH "arm64"
#elif defined(__arm__)
#    define HOST_ARCH "arm"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#    define HOST_ARCH "ppc64le"
#elif defined(__powerpc64__)
#    define HOST_ARCH "ppc64"
#elif defined(__s390x__)
#    define HOST_ARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#    define HOST_ARCH "riscv64"
#elif defined(__loongarch64)
#    define HOST_ARCH "loong64"
#else
#    error "kiln: add this architecture's Go name (GOARCH) to src/oci/platform.c"
#endif

/* containerd reads the ARM variant from /proc/cpuinfo; the compiler's target stands in. */
#if defined(__arm__) && defined(__ARM_ARCH)
#    define STR_(x)      #    x
#    define STR(x)       STR_(x)
#    define HOST_VARIANT "v" STR(__ARM_ARCH)
#else
#    define HOST_VARIANT NULL
#endif

static const char *const known_os[] = {
        "aix",   "android", "darwin", "dragonfly", "freebsd", "hurd",    "illumos", "ios", "js",
        "linux", "nacl",    "netbsd", "openbsd",   "plan9",   "solaris", "windows", "zos"};

static const char *const known_arch[] = {
        "386",     "amd64",    "amd64p32",  "arm",         "armbe",   "arm64",
        "arm64be", "ppc64",    "ppc64le",   "loong64",     "mips",    "mipsle",
        "mips64",  "mips64le", "mips64p32", "mips64p32le", "ppc",     "riscv",
        "riscv64", "s390",     "s390x",     "sparc",       "sparc64", "wasm"};

static bool in(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static bool streq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Replaces *field with a copy of v (NULL when v is NULL or empty). */
static void set(char **field, const char *v)
{
    char *copy = v && *v ? kiln_xstrdup(v) : NULL;
    free(*field);
    *field = copy;
}

static void lower(char *s)
{
    for (; s && *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s += 'a' - 'A';
}

static bool one_of(const char *s, const char *a, const char *b, const char *c)
{
    return !strcmp(s, a) || !strcmp(s, b) || (c && !strcmp(s, c));
}

/* containerd's normalizeArch, in place. */
static void normalize_arch(char **arch, char **variant)
{
    lower(*arch);
    lower(*variant);
    const char *a = *arch ? *arch : "", *v = *variant ? *variant : "";
    if (!strcmp(a, "i386")) {
        set(arch, "386");
        set(variant, NULL);
    } else if (one_of(a, "x86_64", "x86-64", "amd64")) {
        set(arch, "amd64");
        if (!strcmp(v, "v1"))
            set(variant, NULL);
    } else if (one_of(a, "aarch64", "arm64", NULL)) {
        set(arch, "arm64");
        if (one_of(v, "8", "v8", "v8.0"))
            set(variant, NULL);
        else if (one_of(v, "9", "9.0", "v9.0"))
            set(variant, "v9");
    } else if (one_of(a, "armhf", "armel", NULL)) {
        set(variant, !strcmp(a, "armhf") ? "v7" : "v6");
        set(arch, "arm");
    } else if (!strcmp(a, "arm")) {
        if (one_of(v, "", "7", NULL))
            set(variant, "v7");
        else if (one_of(v, "5", "6", "8")) {
            char buf[3] = {'v', v[0], '\0'};
            set(variant, buf);
        }
    }
}

static void normalize_os(char **os)
{
    if (!*os) {
        *os = kiln_xstrdup(HOST_OS);
        return;
    }
    lower(*os);
    if (!strcmp(*os, "macos"))
        set(os, "darwin");
}

void kiln_oci_platform_normalize(struct kiln_oci_platform *p)
{
    normalize_os(&p->os);
    normalize_arch(&p->architecture, &p->variant);
}

static int invalid(struct kiln_error **err, const char *spec, const char *fmt, const char *part)
{
    _cleanup_free_ char *why = kiln_xasprintf(fmt, part);
    return kiln_error_set(err, KILN_E_INVALID, "invalid platform '%.*s%s': %s",
                          KILN_OCI_QUOTE(spec), why);
}

/* The OS component: ^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.-]*)\))?$ */
static bool parse_os(const char *part, char **os, char **os_version)
{
    static const char name[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
    size_t n = strspn(part, name);
    if (n == 0)
        return false;
    if (part[n] == '(') {
        size_t v = strspn(part + n + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_.-");
        if (part[n + 1 + v] != ')' || part[n + 2 + v] != '\0')
            return false;
        *os_version = v ? kiln_xstrndup(part + n + 1, v) : NULL;
    } else if (part[n] != '\0') {
        return false;
    }
    *os = kiln_xstrndup(part, n);
    normalize_os(os);
    return true;
}

static int parse_parts(const char *spec, char **parts, size_t n, struct kiln_oci_platform *p,
                       struct kiln_error **err)
{
    static const char comp[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
    if (!parse_os(parts[0], &p->os, &p->os_version))
        return invalid(err, spec,
                       "'%s' is not an OS (letters, digits, '_' and '-', then an optional "
                       "\"(os.version)\")",
                       parts[0]);
    for (size_t i = 1; i < n; i++)
        if (!parts[i][0] || strspn(parts[i], comp) != strlen(parts[i]))
            return invalid(err, spec,
                           "'%s' is not a platform component (letters, digits, '_', '.' and '-')",
                           parts[i]);
    if (n == 1 && in(p->os, known_os, ELEMENTSOF(known_os))) {
        set(&p->architecture, HOST_ARCH);
        if (HOST_VARIANT && strcmp(HOST_ARCH, "arm") == 0 && !streq(HOST_VARIANT, "v7"))
            set(&p->variant, HOST_VARIANT);
        return 0;
    }
    if (n == 1) {
        set(&p->architecture, parts[0]);
        normalize_arch(&p->architecture, &p->variant);
        if (!in(p->architecture, known_arch, ELEMENTSOF(known_arch)))
            return invalid(err, spec, "'%s' is neither a known OS nor a known architecture",
                           parts[0]);
        set(&p->os, HOST_OS);
    } else if (n <= 3) {
        set(&p->architecture, parts[1]);
        set(&p->variant, n == 3 ? parts[2] : NULL);
        normalize_arch(&p->architecture, &p->variant);
        if (n == 3 && !strcmp(p->architecture, "arm64") && !p->variant)
            set(&p->variant, "v8");
    } else {
        return invalid(err, spec, "%s", "more than three components (os/arch/variant)");
    }
    if (n < 3 && !strcmp(p->architecture, "arm") && streq(p->variant, "v7"))
        set(&p->variant, NULL);
    return 0;
}

int kiln_oci_platform_parse(const char *spec, struct kiln_oci_platform *ret,
                            struct kiln_error **err)
{
    if (strchr(spec, '*'))
        return invalid(err, spec, "%s", "wildcards are not supported");
    /* strings.SplitN(spec, "/", 4) */
    _cleanup_free_ char *copy = kiln_xstrdup(spec);
    char *parts[4] = {copy};
    size_t n = 1;
    for (char *p = copy; n < 4 && (p = strchr(p, '/')); n++) {
        *p++ = '\0';
        parts[n] = p;
    }
    struct kiln_oci_platform p = {0};
    int r = parse_parts(spec, parts, n, &p, err);
    if (r < 0) {
        kiln_oci_platform_release(&p);
        return r;
    }
    *ret = p;
    return 0;
}

/* Go's path.Clean: drops empty and "." elements, resolves "..", never returns "". */
static char *path_clean(const char *path)
{
    bool rooted = path[0] == '/';
    struct kiln_buf out = KILN_BUF_INIT(SIZE_MAX / 2);
    size_t dotdot = rooted; /* out[0:dotdot] is not backed over */
    if (rooted)
        (void)kiln_buf_addch(&out, '/');
    for (const char *s = path; *s; s += *s == '/') {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            size_t w = out.len;
            if (w > dotdot) {
                for (w--; w > dotdot && out.buf[w] != '/'; w--)
                    ;
                kiln_buf_truncate(&out, w);
            } else if (!rooted) {
                (void)kiln_buf_adds(&out, out.len ? "/.." : "..");
                dotdot = out.len;
            }
        } else if (n > 0 && !(n == 1 && s[0] == '.')) {
            if (out.len != (size_t)rooted)
                (void)kiln_buf_addch(&out, '/');
            (void)kiln_buf_add(&out, s, n);
        }
        s += n;
    }
    if (out.len == 0)
        (void)kiln_buf_addch(&out, '.');
    return kiln_buf_detach(&out, NULL);
}

/* Go's path.Join: the non-empty elements joined by '/', then cleaned. */
static char *path_join(const char *const *elems, size_t n)
{
    struct kiln_buf b = KILN_BUF_INIT(SIZE_MAX / 2);
    for (size_t i = 0; i < n; i++)
        if (elems[i] && elems[i][0])
            (void)kiln_buf_addf(&b, "%s%s", b.len ? "/" : "", elems[i]);
    if (b.len == 0)
        return kiln_xstrdup("");
    _cleanup_buf_ struct kiln_buf joined = b;
    return path_clean(joined.buf);
}

char *kiln_oci_platform_format(const struct kiln_oci_platform *p)
{
    if (!p->os)
        return kiln_xstrdup("unknown");
    const char *elems[] = {p->os, p->architecture, p->variant};
    return path_join(elems, ELEMENTSOF(elems));
}

char *kiln_oci_platform_format_all(const struct kiln_oci_platform *p)
{
    if (!p->os || !p->os_version)
        return kiln_oci_platform_format(p);
    _cleanup_free_ char *os = kiln_xasprintf("%s(%s)", p->os, p->os_version);
    const char *elems[] = {os, p->architecture, p->variant};
    return path_join(elems, ELEMENTSOF(elems));
}

/* A normalised copy of the fields a matcher compares. */
static void normalized(const struct kiln_oci_platform *p, struct kiln_oci_platform *out)
{
    *out = (struct kiln_oci_platform){0};
    set(&out->os, p->os);
    set(&out->architecture, p->architecture);
    set(&out->variant, p->variant);
    kiln_oci_platform_normalize(out);
}

bool kiln_oci_platform_match(const struct kiln_oci_platform *want,
                             const struct kiln_oci_platform *have)
{
    struct kiln_oci_platform w, h;
    normalized(want, &w);
    normalized(have, &h);
    bool ok = streq(w.os, h.os) && streq(w.architecture, h.architecture) &&
              streq(w.variant, h.variant);
    kiln_oci_platform_release(&w);
    kiln_oci_platform_release(&h);
    return ok;
}

/* Go's strconv.Atoi(strings.TrimPrefix(variant, "v")): a sign, digits, no overflow. */
static bool variant_number(const char *variant, long long *ret)
{
    const char *s = variant ? variant : "";
    s += *s == 'v';
    bool neg = *s == '-';
    s += *s == '-' || *s == '+';
    if (!*s)
        return false;
    long long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (LLONG_MAX - (*s - '0')) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    *ret = neg ? -v : v;
    return true;
}

/* k when variant is "v" + strconv.Itoa(k) for some k >= 1, else -1. */
static long long canonical_v(const char *variant)
{
    long long k;
    if (!variant || variant[0] != 'v' || variant[1] < '1' || variant[1] > '9' ||
        strspn(variant + 1, "0123456789") != strlen(variant + 1) || !variant_number(variant, &k))
        return -1;
    return k;
}

/*
 * platformVector for arm with variant v (rank of h among: arm v, then for
 * v = "vN", N > 5: arm vN-1 down to v5), after `base` earlier entries.
 */
static long arm_rank(const char *v, const struct kiln_oci_platform *h, long base)
{
    _cleanup_free_ char *arch = kiln_xstrdup("arm");
    _cleanup_free_ char *first = v ? kiln_xstrdup(v) : NULL;
    normalize_arch(&arch, &first);
    if (strcmp(h->architecture ? h->architecture : "", "arm"))
        return -1;
    if (streq(first, h->variant))
        return base;
    long long n, k = canonical_v(h->variant);
    if (variant_number(v, &n) && n > 5 && k >= 5 && k < n)
        return base + (long)(n - k);
    return -1;
}

static long amd64_rank(const char *v, const struct kiln_oci_platform *h)
{
    long long n = 0;
    bool steps = variant_number(v, &n) && n > 1;
    if (streq(h->architecture, "amd64")) {
        if (streq(v, h->variant))
            return 0;
        long long k = h->variant ? canonical_v(h->variant) : 1;
        if (steps && k >= 1 && k < n)
            return (long)(n - k);
    }
    if (streq(h->architecture, "386") && !h->variant)
        return steps ? (long)n : 1;
    return -1;
}

/* arm64: v8.M and v9.M down to their base, v9.M continuing at v8.min(M+5, 9); then arm. */
static long arm64_rank(const char *v, const struct kiln_oci_platform *h)
{
    const char *w = v ? v : "v8";
    int major = 0, minor = 0;
    long base = 0;
    if ((w[0] == 'v' && (w[1] == '8' || w[1] == '9')) &&
        (w[2] == '\0' || (w[2] == '.' && w[3] >= '0' && w[3] <= '9' && !w[4])) &&
        !(w[1] == '9' && w[2] && w[3] > '7')) {
        major = w[1] - '0';
        minor = w[2] ? w[3] - '0' : 0;
    }
    for (int m = major; m >= 8 && major; m--) {
        int top = m == major ? minor : (minor + 5 < 9 ? minor + 5 : 9);
        for (int k = top; k >= 0; k--, base++) {
            char cand[8];
            snprintf(cand, sizeof(cand), k ? "v%d.%d" : "v%d", m, k);
            if (streq(h->architecture, "arm64") &&
                streq(strcmp(cand, "v8") ? cand : NULL, h->variant))
                return base;
        }
    }
    bool v8_or_v9 = !strncmp(w, "v8", 2) || !strncmp(w, "v9", 2);
    return arm_rank(v8_or_v9 ? "v8" : w, h, base);
}

long kiln_oci_platform_rank(const struct kiln_oci_platform *want,
                            const struct kiln_oci_platform *have)
{
    struct kiln_oci_platform w, h;
    long rank = -1;
    normalized(want, &w);
    normalized(have, &h);
    if (!streq(w.os, h.os))
        rank = -1;
    else if (streq(w.architecture, "amd64"))
        rank = amd64_rank(w.variant, &h);
    else if (streq(w.architecture, "arm"))
        rank = arm_rank(w.variant, &h, 0);
    else if (streq(w.architecture, "arm64"))
        rank = arm64_rank(w.variant, &h);
    else
        rank = streq(w.architecture, h.architecture) && streq(w.variant, h.variant) ? 0 : -1;
    kiln_oci_platform_release(&w);
    kiln_oci_platform_release(&h);
    return rank;
}

void kiln_oci_platform_host(struct kiln_oci_platform *ret)
{
    *ret = (struct kiln_oci_platform){0};
    set(&ret->os, HOST_OS);
    set(&ret->architecture, HOST_ARCH);
    set(&ret->variant, HOST_VARIANT);
    kiln_oci_platform_normalize(ret);
}

void kiln_oci_platform_release(struct kiln_oci_platform *p)
{
    kiln_oci_release(&kiln_oci_platform_type, p);
}
