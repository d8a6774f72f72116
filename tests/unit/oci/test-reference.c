/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-reference.c - the facts of distribution/reference's reference_test.go
 * and normalize_test.go (v0.6), checked against kiln_oci_ref_*.
 */

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "oci/reference.h"

#define FF64 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

struct ref_case {
    const char *in;
    const char *name;   /* NULL: the parse fails */
    const char *domain; /* NULL: none */
    const char *tag;
    const char *digest;
    const char *err; /* part of the message when failing */
};

#define OK(in, name, domain, tag, digest)   \
    {                                       \
        in, name, domain, tag, digest, NULL \
    }
#define BAD(in, err)                    \
    {                                   \
        in, NULL, NULL, NULL, NULL, err \
    }

static void check_case(const struct ref_case *c, bool normalized)
{
    struct kiln_oci_ref *r = NULL;
    struct kiln_error *err = NULL;
    int rc = normalized ? kiln_oci_ref_parse_normalized(c->in, &r, &err)
                        : kiln_oci_ref_parse(c->in, &r, &err);
    if (!c->name) {
        if (rc >= 0)
            fail_msg("'%s' parsed, want an error", c->in);
        assert_int_equal(rc, KILN_E_INVALID);
        if (c->err && !strstr(err->message, c->err))
            fail_msg("'%s': message '%s' lacks '%s'", c->in, err->message, c->err);
        kiln_error_free(err);
        return;
    }
    if (rc < 0)
        fail_msg("'%s': %s", c->in, err->message);
    _cleanup_free_ char *name = kiln_oci_ref_name(r, false);
    _cleanup_free_ char *full = kiln_oci_ref_string(r, false);
    if (strcmp(name, c->name) != 0)
        fail_msg("'%s': name '%s', want '%s'", c->in, name, c->name);
    if ((r->domain == NULL) != (c->domain == NULL) ||
        (c->domain && strcmp(r->domain, c->domain) != 0))
        fail_msg("'%s': domain '%s', want '%s'", c->in, r->domain ? r->domain : "(none)",
                 c->domain ? c->domain : "(none)");
    if ((r->tag == NULL) != (c->tag == NULL) || (c->tag && strcmp(r->tag, c->tag) != 0))
        fail_msg("'%s': tag '%s', want '%s'", c->in, r->tag ? r->tag : "", c->tag ? c->tag : "");
    if ((r->digest == NULL) != (c->digest == NULL) ||
        (c->digest && strcmp(r->digest, c->digest) != 0))
        fail_msg("'%s': digest '%s'", c->in, r->digest ? r->digest : "");
    if (!normalized && strcmp(full, c->in) != 0)
        fail_msg("'%s' printed as '%s'", c->in, full);
    kiln_oci_ref_free(r);
}

static void test_reference__parse_grammar(void **state)
{
    static const struct ref_case cases[] = {
            OK("test_com", "test_com", NULL, NULL, NULL),
            OK("test.com:tag", "test.com", NULL, "tag", NULL),
            OK("test.com:5000", "test.com", NULL, "5000", NULL),
            OK("test.com/repo:tag", "test.com/repo", "test.com", "tag", NULL),
            OK("test:5000/repo", "test:5000/repo", "test:5000", NULL, NULL),
            OK("test:5000/repo:tag", "test:5000/repo", "test:5000", "tag", NULL),
            OK("test:5000/repo@sha256:" FF64, "test:5000/repo", "test:5000", NULL, "sha256:" FF64),
            OK("test:5000/repo:tag@sha256:" FF64, "test:5000/repo", "test:5000", "tag",
               "sha256:" FF64),
            BAD("", "repository name must have at least one component"),
            BAD(":justtag", "invalid reference format"),
            BAD("@sha256:" FF64, "invalid reference format"),
            BAD("repo@sha256:ffffffffffffffffffffffffffffffffff", "invalid checksum digest length"),
            BAD("validname@invaliddigest:" FF64, "unsupported digest algorithm"),
            BAD("Uppercase:tag", "invalid reference format: repository name must be lowercase"),
            BAD("test:5000/Uppercase/lowercase:tag", "must be lowercase"),
            OK("lowercase:Uppercase", "lowercase", NULL, "Uppercase", NULL),
            BAD("aa/asdf$$^/aa", "component 'asdf$$^'"),
            OK("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com",
               NULL, NULL),
            OK("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com/bar/baz/quux",
               "sub-dom1.foo.com", "some-long-tag", NULL),
            OK("b.gcr.io/test.example.com/my-app:test.example.com",
               "b.gcr.io/test.example.com/my-app", "b.gcr.io", "test.example.com", NULL),
            OK("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com/myimage", "xn--n3h.com",
               "xn--n3h.com", NULL),
            OK("xn--7o8h.com/myimage:xn--7o8h.com@sha256:" FF64, "xn--7o8h.com/myimage",
               "xn--7o8h.com", "xn--7o8h.com", "sha256:" FF64),
            OK("foo_bar.com:8080", "foo_bar.com", NULL, "8080", NULL),
            OK("foo/foo_bar.com:8080", "foo/foo_bar.com", "foo", "8080", NULL),
            OK("192.168.1.1", "192.168.1.1", NULL, NULL, NULL),
            OK("192.168.1.1:tag", "192.168.1.1", NULL, "tag", NULL),
            OK("192.168.1.1:5000", "192.168.1.1", NULL, "5000", NULL),
            OK("192.168.1.1/repo", "192.168.1.1/repo", "192.168.1.1", NULL, NULL),
            OK("192.168.1.1:5000/repo", "192.168.1.1:5000/repo", "192.168.1.1:5000", NULL, NULL),
            OK("192.168.1.1:5000/repo:5050", "192.168.1.1:5000/repo", "192.168.1.1:5000", "5050",
               NULL),
            BAD("[2001:db8::1]", "invalid reference format"),
            BAD("[2001:db8::1]:5000", "invalid reference format"),
            BAD("[2001:db8::1]:tag", "invalid reference format"),
            OK("[2001:db8::1]/repo", "[2001:db8::1]/repo", "[2001:db8::1]", NULL, NULL),
            OK("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]/repo",
               "[2001:db8:1:2:3:4:5:6]", "tag", NULL),
            OK("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", NULL,
               NULL),
            OK("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000",
               "tag", NULL),
            OK("[2001:db8::1]:5000/repo@sha256:" FF64, "[2001:db8::1]:5000/repo",
               "[2001:db8::1]:5000", NULL, "sha256:" FF64),
            OK("[2001:db8::1]:5000/repo:tag@sha256:" FF64, "[2001:db8::1]:5000/repo",
               "[2001:db8::1]:5000", "tag", "sha256:" FF64),
            OK("[2001:db8::]:5000/repo", "[2001:db8::]:5000/repo", "[2001:db8::]:5000", NULL, NULL),
            OK("[::1]:5000/repo", "[::1]:5000/repo", "[::1]:5000", NULL, NULL),
            BAD("[fe80::1%eth0]:5000/repo", "domain '[fe80::1%eth0]:5000'"),
            BAD("[fe80::1%@invalidzone]:5000/repo", "invalid reference format"),
            BAD("a/b:" /* a 129-character tag */
                "tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt"
                "ttttt"
                "tttttttttttttttttttttttttttttttttttttttttt",
                "tag 'tttt"),
            BAD("a/b:.tag", "not starting with '.' or '-'"),
            BAD("docker///docker", "empty component"),
            BAD("dock..er/docker", "'dock..er' is not HOST[:PORT]"),
            OK("dock__er/doc_ker", "dock__er/doc_ker", NULL, NULL, NULL),
            BAD("a@sha256:abc", "32 or more hex digits"),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i], false);
}

static void test_reference__path_length_limit(void **state)
{
    char path[300], in[400];
    memset(path, 'a', 256);
    path[256] = '\0';
    snprintf(in, sizeof(in), "domain/%s:tag", path);
    struct ref_case too_long = BAD(in, "not be more than 255 characters");
    check_case(&too_long, false);
    path[255] = '\0';
    snprintf(in, sizeof(in), "example.com/%s:tag", path);
    _cleanup_free_ char *name = kiln_xasprintf("example.com/%s", path);
    struct ref_case longest = OK(in, name, "example.com", "tag", NULL);
    check_case(&longest, false);
    /* 127 times "a/" and "a": the domain does not count. */
    char many[300];
    for (int i = 0; i < 127; i++)
        memcpy(many + 2 * i, "a/", 2);
    memcpy(many + 254, "a", 2);
    snprintf(in, sizeof(in), "%s:tag-puts-this-over-max", many);
    struct ref_case domain_free = OK(in, many, "a", "tag-puts-this-over-max", NULL);
    check_case(&domain_free, false);
}

static void test_reference__normalized_split(void **state)
{
    static const struct ref_case cases[] = {
            OK("test.com/foo", "test.com/foo", "test.com", NULL, NULL),
            OK("test_com/foo", "docker.io/test_com/foo", "docker.io", NULL, NULL),
            OK("docker/migrator", "docker.io/docker/migrator", "docker.io", NULL, NULL),
            OK("test.com:8080/foo", "test.com:8080/foo", "test.com:8080", NULL, NULL),
            OK("test-com:8080/foo", "test-com:8080/foo", "test-com:8080", NULL, NULL),
            OK("foo", "docker.io/library/foo", "docker.io", NULL, NULL),
            OK("xn--n3h.com/foo", "xn--n3h.com/foo", "xn--n3h.com", NULL, NULL),
            OK("xn--n3h.com:18080/foo", "xn--n3h.com:18080/foo", "xn--n3h.com:18080", NULL, NULL),
            OK("docker.io/foo", "docker.io/library/foo", "docker.io", NULL, NULL),
            OK("docker.io/library/foo", "docker.io/library/foo", "docker.io", NULL, NULL),
            OK("docker.io/library/foo/bar", "docker.io/library/foo/bar", "docker.io", NULL, NULL),
            OK("index.docker.io/debian", "docker.io/library/debian", "docker.io", NULL, NULL),
            OK("localhost/debian", "localhost/debian", "localhost", NULL, NULL),
            OK("LOCALDOMAIN/debian", "LOCALDOMAIN/debian", "LOCALDOMAIN", NULL, NULL),
            OK("Docker/docker", "Docker/docker", "Docker", NULL, NULL),
            OK("192.168.0.1", "docker.io/library/192.168.0.1", "docker.io", NULL, NULL),
            OK("192.168.0.1:80", "docker.io/library/192.168.0.1", "docker.io", "80", NULL),
            OK("[fc00::1]:5000/docker", "[fc00::1]:5000/docker", "[fc00::1]:5000", NULL, NULL),
            OK("docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
               "docker.io/library/"
               "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
               "docker.io", NULL, NULL),
            OK("busybox:latest@sha256:"
               "86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa",
               "docker.io/library/busybox", "docker.io", "latest",
               "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"),
            OK("docker---rules/docker", "docker.io/docker---rules/docker", "docker.io", NULL, NULL),
            OK("d/docker", "docker.io/d/docker", "docker.io", NULL, NULL),
            OK("jess/t", "docker.io/jess/t", "docker.io", NULL, NULL),
            OK("thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
               "docker.io/library/"
               "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
               "docker.io", NULL, NULL),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i], true);
}

static void test_reference__normalized_rejects(void **state)
{
    static const struct ref_case cases[] = {
            BAD("https://github.com/docker/docker", NULL),
            BAD("docker/Docker",
                "invalid reference format: repository name (docker/Docker) must be lowercase"),
            BAD("MyImage", "repository name (library/MyImage) must be"),
            BAD("-docker", NULL),
            BAD("-docker/docker", NULL),
            BAD("-docker.io/docker/docker", "domain '-docker.io'"),
            BAD("docker///docker", NULL),
            BAD("docker.io/docker/Docker", NULL),
            BAD("docker.io/docker///docker", NULL),
            BAD("[fc00::1]", NULL),
            BAD("[fc00::1]:5000", NULL),
            BAD("fc00::1:5000/debian", NULL),
            BAD("[fe80::1%eth0]:5000/debian", NULL),
            BAD("[2001:db8:3:4::192.0.2.33]:5000/debian", NULL),
            BAD("1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
                "cannot specify 64-byte hexadecimal strings"),
            BAD("docker-/docker", NULL),
            BAD("-docker-/docker", NULL),
            BAD("____/____", NULL),
            BAD("_docker/_docker", NULL),
            BAD("dock..er/docker", NULL),
            BAD("dock_.er/docker", NULL),
            BAD("dock-.er/docker", NULL),
            BAD("docker/", NULL),
            BAD("this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_"
                "valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_"
                "namespace_"
                "because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_"
                "lenth_is_greater_than_255/docker",
                "255"),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i], true);
}

/* TestParseRepositoryInfo: each spelling gives the same familiar and full names. */
static void test_reference__familiar_and_full_names(void **state)
{
    static const struct {
        const char *spellings[3], *familiar, *full, *path;
    } cases[] = {
            {{"localhost/fooo"}, "localhost/fooo", "localhost/fooo", "fooo"},
            {{"LOCALDOMAIN/fooo/bar"}, "LOCALDOMAIN/fooo/bar", "LOCALDOMAIN/fooo/bar", "fooo/bar"},
            {{"fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar"},
             "fooo/bar",
             "docker.io/fooo/bar",
             "fooo/bar"},
            {{"ubuntu", "docker.io/library/ubuntu", "library/ubuntu"},
             "ubuntu",
             "docker.io/library/ubuntu",
             "library/ubuntu"},
            {{"nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu"},
             "nonlibrary/ubuntu",
             "docker.io/nonlibrary/ubuntu",
             "nonlibrary/ubuntu"},
            {{"other/library"}, "other/library", "docker.io/other/library", "other/library"},
            {{"127.0.0.1:8000/private/moonbase"},
             "127.0.0.1:8000/private/moonbase",
             "127.0.0.1:8000/private/moonbase",
             "private/moonbase"},
            {{"example.com:8000/privatebasee"},
             "example.com:8000/privatebasee",
             "example.com:8000/privatebasee",
             "privatebasee"},
            {{"ubuntu-12.04-base", "index.docker.io/library/ubuntu-12.04-base"},
             "ubuntu-12.04-base",
             "docker.io/library/ubuntu-12.04-base",
             "library/ubuntu-12.04-base"},
            {{"foo", "docker.io/foo"}, "foo", "docker.io/library/foo", "library/foo"},
            {{"library/foo/bar"},
             "library/foo/bar",
             "docker.io/library/foo/bar",
             "library/foo/bar"},
            {{"store/foo/bar"}, "store/foo/bar", "docker.io/store/foo/bar", "store/foo/bar"},
            {{"FOO/bar"}, "FOO/bar", "FOO/bar", "bar"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t k = 0; k < 3 && cases[i].spellings[k]; k++) {
            const char *in = cases[i].spellings[k];
            struct kiln_oci_ref *r = NULL;
            if (kiln_oci_ref_parse_normalized(in, &r, NULL) < 0)
                fail_msg("'%s' did not parse", in);
            _cleanup_free_ char *familiar = kiln_oci_ref_name(r, true);
            _cleanup_free_ char *full = kiln_oci_ref_string(r, false);
            if (strcmp(familiar, cases[i].familiar) || strcmp(full, cases[i].full) ||
                strcmp(r->path, cases[i].path))
                fail_msg("'%s': familiar '%s', full '%s', path '%s'", in, familiar, full, r->path);
            kiln_oci_ref_free(r);
        }
    }
}

static void test_reference__tag_name_only(void **state)
{
    static const struct {
        const char *in, *want, *familiar;
    } cases[] = {
            {"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
            {"busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"},
            {"busybox@sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582",
             "docker.io/library/busybox@sha256:"
             "e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582",
             "busybox@sha256:"
             "e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582"},
            {"library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
            {"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
            {"library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"},
            {"gcr.io/library/busybox", "gcr.io/library/busybox:latest",
             "gcr.io/library/busybox:latest"},
            {"localhost:5000/app:1.0", "localhost:5000/app:1.0", "localhost:5000/app:1.0"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kiln_oci_ref *r = NULL;
        assert_int_equal(kiln_oci_ref_parse_normalized(cases[i].in, &r, NULL), 0);
        kiln_oci_ref_tag_name_only(r);
        _cleanup_free_ char *full = kiln_oci_ref_string(r, false);
        _cleanup_free_ char *familiar = kiln_oci_ref_string(r, true);
        assert_string_equal(full, cases[i].want);
        assert_string_equal(familiar, cases[i].familiar);
        /* What it prints parses back to the same. */
        struct kiln_oci_ref *again = NULL;
        assert_int_equal(kiln_oci_ref_parse(full, &again, NULL), 0);
        _cleanup_free_ char *full2 = kiln_oci_ref_string(again, false);
        assert_string_equal(full2, full);
        kiln_oci_ref_free(again);
        kiln_oci_ref_free(r);
    }
}

static void test_reference__plain_http_registries(void **state)
{
    static const struct {
        const char *domain;
        bool plain;
    } cases[] = {
            {"localhost", true},
            {"localhost:5000", true},
            {"127.0.0.1", true},
            {"127.0.0.1:5000", true},
            {"127.200.3.4:443", true},
            {"::1", true},
            {"[::1]", true},
            {"[::1]:5000", true},
            {"[::ffff:127.0.0.1]:5000", true},
            {"docker.io", false},
            {"registry.example.com:5000", false},
            {"10.0.0.1:5000", false},
            {"128.0.0.1", false},
            {"[::2]:5000", false},
            {"localhost:", false},
            {"localhost.localdomain", false},
            {"127.0.0.01", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (kiln_oci_ref_plain_http(cases[i].domain) != cases[i].plain)
            fail_msg("'%s': want %s", cases[i].domain, cases[i].plain ? "plain HTTP" : "HTTPS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_reference__parse_grammar),
            cmocka_unit_test(test_reference__path_length_limit),
            cmocka_unit_test(test_reference__normalized_split),
            cmocka_unit_test(test_reference__normalized_rejects),
            cmocka_unit_test(test_reference__familiar_and_full_names),
            cmocka_unit_test(test_reference__tag_name_only),
            cmocka_unit_test(test_reference__plain_http_registries),
    };
    return cmocka_run_group_tests_name("oci/reference", tests, NULL, NULL);
}
