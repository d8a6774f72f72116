/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-platform.c - the facts of containerd's platforms_test.go and
 * compare_test.go (v1.0.0-rc), checked against kiln_oci_platform_*.
 */

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "oci/platform.h"

/* A platform from "os/arch/variant" without any normalising ("" fields are NULL). */
static struct kiln_oci_platform raw(const char *os, const char *arch, const char *variant)
{
    struct kiln_oci_platform p = {0};
    p.os = os && *os ? kiln_xstrdup(os) : NULL;
    p.architecture = arch && *arch ? kiln_xstrdup(arch) : NULL;
    p.variant = variant && *variant ? kiln_xstrdup(variant) : NULL;
    return p;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static void expect_fields(const char *what, const struct kiln_oci_platform *p, const char *os,
                          const char *arch, const char *variant)
{
    if (strcmp(or_empty(p->os), os) || strcmp(or_empty(p->architecture), arch) ||
        strcmp(or_empty(p->variant), variant))
        fail_msg("%s: got %s/%s/%s, want %s/%s/%s", what, or_empty(p->os),
                 or_empty(p->architecture), or_empty(p->variant), os, arch, variant);
}

static void test_platform__parse_and_format(void **state)
{
    struct kiln_oci_platform host;
    kiln_oci_platform_host(&host);
    const char *ha = host.architecture, *hv = or_empty(host.variant);
    const struct {
        const char *in, *os, *arch, *variant, *formatted;
    } cases[] = {
            {"linux/arm64", "linux", "arm64", "", "linux/arm64"},
            {"linux/arm64/v8", "linux", "arm64", "v8", "linux/arm64/v8"},
            {"linux/arm64/8", "linux", "arm64", "v8", "linux/arm64/v8"},
            {"linux/aarch64", "linux", "arm64", "", "linux/arm64"},
            {"linux/arm", "linux", "arm", "", "linux/arm"},
            {"linux/arm/v6", "linux", "arm", "v6", "linux/arm/v6"},
            {"linux/arm/v7", "linux", "arm", "v7", "linux/arm/v7"},
            {"linux/arm/7", "linux", "arm", "v7", "linux/arm/v7"},
            {"linux/amd64", "linux", "amd64", "", "linux/amd64"},
            {"linux/amd64/v3", "linux", "amd64", "v3", "linux/amd64/v3"},
            {"Linux/x86_64", "linux", "amd64", "", "linux/amd64"},
            {"linux/s390x", "linux", "s390x", "", "linux/s390x"},
            {"linux/riscv64", "linux", "riscv64", "", "linux/riscv64"},
            {"arm", "linux", "arm", "", "linux/arm"},
            {"armel", "linux", "arm", "v6", "linux/arm/v6"},
            {"armhf", "linux", "arm", "", "linux/arm"},
            {"Aarch64", "linux", "arm64", "", "linux/arm64"},
            {"x86_64", "linux", "amd64", "", "linux/amd64"},
            {"i386", "linux", "386", "", "linux/386"},
            {"s390x", "linux", "s390x", "", "linux/s390x"},
            {"linux", "linux", ha, hv, NULL},
            {"macOS", "darwin", ha, hv, NULL},
            {"windows", "windows", ha, hv, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kiln_oci_platform p;
        struct kiln_error *err = NULL;
        if (kiln_oci_platform_parse(cases[i].in, &p, &err) < 0)
            fail_msg("'%s': %s", cases[i].in, err->message);
        expect_fields(cases[i].in, &p, cases[i].os, cases[i].arch, cases[i].variant);
        _cleanup_free_ char *f = kiln_oci_platform_format(&p);
        if (cases[i].formatted && strcmp(f, cases[i].formatted))
            fail_msg("'%s' formatted as '%s'", cases[i].in, f);
        /* Parsing the formatted form is stable. */
        struct kiln_oci_platform again;
        assert_int_equal(kiln_oci_platform_parse(f, &again, NULL), 0);
        expect_fields(f, &again, cases[i].os, cases[i].arch, cases[i].variant);
        kiln_oci_platform_release(&again);
        kiln_oci_platform_release(&p);
    }
    kiln_oci_platform_release(&host);
}

static void test_platform__os_version(void **state)
{
    struct kiln_oci_platform p;
    assert_int_equal(kiln_oci_platform_parse("windows(10.0.17763)/amd64", &p, NULL), 0);
    assert_string_equal(p.os, "windows");
    assert_string_equal(p.os_version, "10.0.17763");
    _cleanup_free_ char *all = kiln_oci_platform_format_all(&p);
    _cleanup_free_ char *plain = kiln_oci_platform_format(&p);
    assert_string_equal(all, "windows(10.0.17763)/amd64");
    assert_string_equal(plain, "windows/amd64");
    kiln_oci_platform_release(&p);
    assert_int_equal(kiln_oci_platform_parse("windows()/amd64", &p, NULL), 0);
    assert_null(p.os_version);
    _cleanup_free_ char *empty = kiln_oci_platform_format_all(&p);
    assert_string_equal(empty, "windows/amd64");
    kiln_oci_platform_release(&p);
}

static void test_platform__parse_errors(void **state)
{
    static const struct {
        const char *in, *reason;
    } cases[] = {
            {"*", "wildcards"},
            {"linux/*", "wildcards"},
            {"", "is not an OS"},
            {"linux/arm/v7/extra", "more than three components"},
            {"linux/arm/v7/ex/tra", "'ex/tra' is not a platform component"},
            {"foo", "neither a known OS nor a known architecture"},
            {"linux//amd64", "'' is not a platform component"},
            {"linux/amd64 ", "'amd64 ' is not a platform component"},
            {"lin ux/amd64", "'lin ux' is not an OS"},
            {"windows(10.0/amd64", "is not an OS"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kiln_oci_platform p = {0};
        struct kiln_error *err = NULL;
        if (kiln_oci_platform_parse(cases[i].in, &p, &err) >= 0)
            fail_msg("'%s' parsed", cases[i].in);
        if (!strstr(err->message, cases[i].reason))
            fail_msg("'%s': '%s' lacks '%s'", cases[i].in, err->message, cases[i].reason);
        assert_null(p.os);
        kiln_error_free(err);
    }
}

static void test_platform__normalize(void **state)
{
    static const struct {
        const char *os, *arch, *variant, *want_os, *want_arch, *want_variant;
    } cases[] = {
            {"linux", "aarch64", "8", "linux", "arm64", ""},
            {"linux", "arm64", "v8.0", "linux", "arm64", ""},
            {"linux", "arm64", "9.0", "linux", "arm64", "v9"},
            {"linux", "arm64", "v8.2", "linux", "arm64", "v8.2"},
            {"linux", "x86_64", "v1", "linux", "amd64", ""},
            {"linux", "x86-64", "v2", "linux", "amd64", "v2"},
            {"linux", "arm", "", "linux", "arm", "v7"},
            {"linux", "arm", "5", "linux", "arm", "v5"},
            {"linux", "armhf", "", "linux", "arm", "v7"},
            {"linux", "armel", "v7", "linux", "arm", "v6"},
            {"linux", "i386", "x", "linux", "386", ""},
            {"MacOS", "AMD64", "", "darwin", "amd64", ""},
            {"", "ppc64le", "", "linux", "ppc64le", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kiln_oci_platform p = raw(cases[i].os, cases[i].arch, cases[i].variant);
        kiln_oci_platform_normalize(&p);
        expect_fields(cases[i].arch, &p, cases[i].want_os, cases[i].want_arch,
                      cases[i].want_variant);
        kiln_oci_platform_release(&p);
    }
}

static void test_platform__format_as_path_join(void **state)
{
    static const struct {
        const char *os, *arch, *variant, *want;
    } cases[] = {
            {"linux", "arm64", "v8", "linux/arm64/v8"},
            {"", "arm64", "", "unknown"},
            {"linux", "", "", "linux"},
            {"linux", "", "v7", "linux/v7"},
            {"linux", ".", "v7", "linux/v7"},
            {"linux", "..", "v7", "v7"},
            {"linux", "../..", "", ".."},
            {"/linux", "../..", "x", "/x"},
            {"linux", "a//b/", "", "linux/a/b"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kiln_oci_platform p = raw(cases[i].os, cases[i].arch, cases[i].variant);
        _cleanup_free_ char *f = kiln_oci_platform_format(&p);
        if (strcmp(f, cases[i].want))
            fail_msg("%s/%s/%s: '%s', want '%s'", cases[i].os, cases[i].arch, cases[i].variant, f,
                     cases[i].want);
        kiln_oci_platform_release(&p);
    }
}

static void test_platform__match_is_exact_after_normalising(void **state)
{
    static const struct {
        const char *want, *have;
        bool match;
    } cases[] = {
            {"linux/arm64", "linux/aarch64", true},  {"linux/arm64", "linux/aarch64/v8", true},
            {"linux/arm64", "linux/arm64/v8", true}, {"linux/arm64/v8", "linux/arm64", true},
            {"linux/arm", "linux/arm/v7", true},     {"linux/arm", "linux/armhf", true},
            {"linux/arm/v7", "linux/arm", true},     {"linux/arm/v6", "linux/armel", true},
            {"linux/amd64", "linux/386", false},     {"linux/amd64", "windows/amd64", false},
            {"linux/arm/v7", "linux/arm/v6", false}, {"linux/arm64/v8", "linux/arm64/v8.1", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kiln_oci_platform w, h;
        assert_int_equal(kiln_oci_platform_parse(cases[i].want, &w, NULL), 0);
        assert_int_equal(kiln_oci_platform_parse(cases[i].have, &h, NULL), 0);
        if (kiln_oci_platform_match(&w, &h) != cases[i].match)
            fail_msg("%s ~ %s: want %d", cases[i].want, cases[i].have, cases[i].match);
        kiln_oci_platform_release(&w);
        kiln_oci_platform_release(&h);
    }
}

/* platforms.Only(want): the order of the fallbacks, -1 for no match. */
static void test_platform__rank_as_only(void **state)
{
    static const struct {
        const char *want, *have;
        long rank;
    } cases[] = {
            {"linux/amd64", "linux/amd64", 0},
            {"linux/amd64", "linux/386", 1},
            {"linux/amd64", "linux/arm64", -1},
            {"linux/amd64", "windows/amd64", -1},
            {"linux/amd64/v3", "linux/amd64/v3", 0},
            {"linux/amd64/v3", "linux/amd64/v2", 1},
            {"linux/amd64/v3", "linux/amd64", 2},
            {"linux/amd64/v3", "linux/amd64/v1", 2},
            {"linux/amd64/v3", "linux/386", 3},
            {"linux/amd64/v3", "linux/amd64/v4", -1},
            {"linux/amd64/v2", "linux/amd64/v02", -1},
            {"linux/arm64", "linux/arm64", 0},
            {"linux/arm64", "linux/arm64/v8", 0},
            {"linux/arm64", "linux/arm/v8", 1},
            {"linux/arm64", "linux/arm/v7", 2},
            {"linux/arm64", "linux/arm", 2},
            {"linux/arm64", "linux/arm/v6", 3},
            {"linux/arm64", "linux/arm/v5", 4},
            {"linux/arm64", "linux/arm/v4", -1},
            {"linux/arm64", "linux/arm64/v8.1", -1},
            {"linux/arm64/v8.2", "linux/arm64/v8.2", 0},
            {"linux/arm64/v8.2", "linux/arm64/v8.1", 1},
            {"linux/arm64/v8.2", "linux/arm64", 2},
            {"linux/arm64/v8.2", "linux/arm/v8", 3},
            {"linux/arm64/v9.1", "linux/arm64/v9", 1},
            {"linux/arm64/v9.1", "linux/arm64/v8.6", 2},
            {"linux/arm64/v9.1", "linux/arm64/v8.7", -1},
            {"linux/arm64/v9.1", "linux/arm64", 8},
            {"linux/arm64/v9.1", "linux/arm/v8", 9},
            {"linux/arm/v7", "linux/arm/v7", 0},
            {"linux/arm/v7", "linux/arm", 0},
            {"linux/arm/v7", "linux/arm/v6", 1},
            {"linux/arm/v7", "linux/arm/v5", 2},
            {"linux/arm/v7", "linux/arm/v8", -1},
            {"linux/arm/v7", "linux/arm64", -1},
            {"linux/arm/v5", "linux/arm/v5", 0},
            {"linux/arm/v5", "linux/arm/v4", -1},
            {"linux/ppc64le", "linux/ppc64le", 0},
            {"linux/ppc64le", "linux/ppc64", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kiln_oci_platform w, h;
        assert_int_equal(kiln_oci_platform_parse(cases[i].want, &w, NULL), 0);
        assert_int_equal(kiln_oci_platform_parse(cases[i].have, &h, NULL), 0);
        long got = kiln_oci_platform_rank(&w, &h);
        if (got != cases[i].rank)
            fail_msg("%s for %s: rank %ld, want %ld", cases[i].have, cases[i].want, got,
                     cases[i].rank);
        kiln_oci_platform_release(&w);
        kiln_oci_platform_release(&h);
    }
}

static void test_platform__huge_variant_is_cheap(void **state)
{
    struct kiln_oci_platform w = raw("linux", "amd64", "v9223372036854775807");
    struct kiln_oci_platform h = raw("linux", "amd64", "v2");
    assert_int_equal(kiln_oci_platform_rank(&w, &h), 9223372036854775805L);
    kiln_oci_platform_release(&h);
    h = raw("linux", "386", NULL);
    assert_int_equal(kiln_oci_platform_rank(&w, &h), 9223372036854775807L);
    kiln_oci_platform_release(&h);
    kiln_oci_platform_release(&w);
}

static void test_platform__host_is_normalised(void **state)
{
    struct kiln_oci_platform host;
    kiln_oci_platform_host(&host);
    assert_string_equal(host.os, "linux");
    assert_non_null(host.architecture);
#if defined(__x86_64__)
    assert_string_equal(host.architecture, "amd64");
    assert_null(host.variant);
#elif defined(__aarch64__)
    assert_string_equal(host.architecture, "arm64");
    assert_null(host.variant);
#endif
    struct kiln_oci_platform copy = raw(host.os, host.architecture, host.variant);
    kiln_oci_platform_normalize(&copy);
    assert_true(kiln_oci_platform_match(&host, &copy));
    kiln_oci_platform_release(&copy);
    kiln_oci_platform_release(&host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_platform__parse_and_format),
            cmocka_unit_test(test_platform__os_version),
            cmocka_unit_test(test_platform__parse_errors),
            cmocka_unit_test(test_platform__normalize),
            cmocka_unit_test(test_platform__format_as_path_join),
            cmocka_unit_test(test_platform__match_is_exact_after_normalising),
            cmocka_unit_test(test_platform__rank_as_only),
            cmocka_unit_test(test_platform__huge_variant_is_cheap),
            cmocka_unit_test(test_platform__host_is_normalised),
    };
    return cmocka_run_group_tests_name("oci/platform", tests, NULL, NULL);
}
