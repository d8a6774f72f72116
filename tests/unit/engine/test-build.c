/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-build.c - the multi-platform parts of a build: the graphs of several
 * platforms merged into one solve (shared steps once), the binfmt_misc
 * check for foreign RUN steps, and the image index over the platforms'
 * manifests in a real content store.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "convert-test.h"
#include "engine/binfmt.h"
#include "engine/graph-merge.h"
#include "engine/image-export.h"
#include "expect.h"
#include "oci/index.h"
#include "oci/mediatype.h"
#include "oci/whiteout.h"
#include "store/content.h"
#include "store/store.h"

#include "base/banned.h"

static struct kiln_oci_platform arm64 = {.architecture = "arm64", .os = "linux"};

/* A cross-compiling Dockerfile: a build stage on the build platform, a final stage per target. */
static const char cross_dockerfile[] = "FROM --platform=$BUILDPLATFORM busybox AS build\n"
                                       "RUN echo shared > /s\n"
                                       "COPY hello /h\n"
                                       "FROM busybox\n"
                                       "ARG TARGETARCH\n"
                                       "COPY --from=build /s /s\n"
                                       "RUN echo $TARGETARCH > /arch\n";

struct platforms {
    struct kiln_df_instructions *df[2];
    struct kiln_graph *g[2];
    struct kiln_graph merged;
};

static void convert_two(const char *text, struct platforms *p)
{
    const struct kiln_oci_platform *targets[2] = {&test_amd64, &arm64};
    for (size_t i = 0; i < 2; i++) {
        struct kiln_convert_opts o = test_opts();
        o.platform = targets[i];
        o.multi_platform = true;
        p->g[i] = test_convert_with(text, &o, &p->df[i]);
    }
    kiln_graph_merge(p->g, 2, &p->merged);
}

static void release_two(struct platforms *p)
{
    kiln_graph_merge_release(&p->merged);
    for (size_t i = 0; i < 2; i++) {
        kiln_graph_free(p->g[i]);
        kiln_df_instructions_free(p->df[i]);
    }
}

/* Every merged vertex knows its place, and its inputs come before it. */
static void expect_well_formed(const struct kiln_graph *m)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct kiln_vertex *v = m->v[i];
        if (v->index != i)
            fail_msg("merged vertex %zu '%s' has index %zu", i, v->name, v->index);
        if (v->base && (v->base->index >= i || m->v[v->base->index] != v->base))
            fail_msg("'%s': its base is not an earlier merged vertex", v->name);
        const struct kiln_vertex *from =
                v->kind == KILN_VERTEX_COPY && v->copy.from_kind == KILN_COPY_FROM_STATE
                        ? v->copy.from
                        : NULL;
        if (from && (from->index >= i || m->v[from->index] != from))
            fail_msg("'%s': its --from is not an earlier merged vertex", v->name);
    }
}

static size_t count_named(const struct kiln_graph *m, const char *part)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += strstr(m->v[i]->name, part) != NULL;
    return n;
}

static void test_build__merge_shares_build_platform_stage(void **state)
{
    (void)state;
    struct platforms p;
    convert_two(cross_dockerfile, &p);
    /* build stage: FROM, RUN, COPY once; amd64: COPY --from, RUN (its FROM is the build
     * stage's image); arm64: FROM, COPY --from, RUN. */
    if (p.g[0]->n != 6 || p.g[1]->n != 6 || p.merged.n != 8)
        fail_msg("graphs of %zu and %zu vertices merged into %zu, want 6, 6 and 8", p.g[0]->n,
                 p.g[1]->n, p.merged.n);
    expect_well_formed(&p.merged);
    if (count_named(&p.merged, "RUN echo shared") != 1)
        fail_msg("the build stage's RUN is listed %zu times, want once",
                 count_named(&p.merged, "RUN echo shared"));
    if (count_named(&p.merged, "> /arch") != 2)
        fail_msg("the per-platform RUN is listed %zu times, want twice",
                 count_named(&p.merged, "> /arch"));
    if (count_named(&p.merged, "[linux/amd64 build 2/3] RUN") != 1 ||
        count_named(&p.merged, "[linux/arm64 stage-1 3/3] RUN") != 1)
        fail_msg("steps are not named with their platform as BuildKit names them");
    const struct kiln_vertex *r0 = p.g[0]->result, *r1 = p.g[1]->result;
    if (!r0 || !r1 || r0 == r1 || p.merged.v[r0->index] != r0 || p.merged.v[r1->index] != r1)
        fail_msg("each platform's result must be its own merged vertex");
    if (strcmp(r1->exec.platform.architecture, "arm64") != 0)
        fail_msg("arm64's last RUN runs for '%s'", r1->exec.platform.architecture);
    /* Both final stages copy from the one shared build stage. */
    if (r0->base->copy.from != r1->base->copy.from)
        fail_msg("the COPY --from of the two platforms read different build stages");
    release_two(&p);
}

static void test_build__merge_keeps_what_differs(void **state)
{
    (void)state;
    struct platforms p;
    convert_two("FROM busybox\nRUN uname -m > /arch\n", &p);
    if (p.merged.n != 4)
        fail_msg("two platforms' FROM and RUN merged into %zu vertices, want 4", p.merged.n);
    expect_well_formed(&p.merged);
    release_two(&p);
}

static void test_build__merge_one_graph(void **state)
{
    (void)state;
    struct kiln_df_instructions *df;
    struct kiln_convert_opts o = test_opts();
    struct kiln_graph *g = test_convert_with(cross_dockerfile, &o, &df);
    size_t n = g->n;
    const struct kiln_vertex *result = g->result;
    struct kiln_graph m;
    kiln_graph_merge(&g, 1, &m);
    /* One platform: the FROMs of both stages are the same image, so one vertex. */
    if (m.n != n - 1 || g->result != result)
        fail_msg("one graph of %zu merged into %zu vertices, want %zu and the same result", n, m.n,
                 n - 1);
    expect_well_formed(&m);
    kiln_graph_merge_release(&m);
    kiln_graph_free(g);
    kiln_df_instructions_free(df);
}

/* ---- binfmt ---- */

struct dir {
    char path[64];
};

static void make_dir(struct dir *d)
{
    snprintf(d->path, sizeof(d->path), "/tmp/kiln-build-test-XXXXXX");
    if (!mkdtemp(d->path))
        fail_msg("mkdtemp: %s", strerror(errno));
}

static void write_text(const struct dir *d, const char *name, const char *text)
{
    char *p = kiln_xasprintf("%s/%s", d->path, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        fail_msg("cannot write '%s'", p);
    close(fd);
    free(p);
}

static void remove_dir(const struct dir *d, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        char *p = kiln_xasprintf("%s/%s", d->path, names[i]);
        unlink(p);
        free(p);
    }
    rmdir(d->path);
}

static void test_build__binfmt(void **state)
{
    (void)state;
    struct dir d;
    make_dir(&d);
    struct kiln_error *err = NULL;
    struct kiln_oci_platform i386 = {.architecture = "386", .os = "linux"};
    struct kiln_oci_platform ppc = {.architecture = "ppc64le", .os = "linux"};
    struct kiln_oci_platform win = {.architecture = "amd64", .os = "windows"};
    /* Native: no handler needed, even with binfmt_misc empty. */
    expect_ok(kiln_binfmt_check(d.path, &test_amd64, &test_amd64, &err), &err);
    expect_ok(kiln_binfmt_check(d.path, &test_amd64, &i386, &err), &err);
    expect_fail(kiln_binfmt_check(d.path, &test_amd64, &arm64, &err), &err, KILN_E_INVALID,
                "cannot run linux/arm64 RUN steps: no binfmt_misc handler for aarch64; install "
                "qemu-user-static (apt-get install qemu-user-static)");
    write_text(&d, "status", "enabled\n");
    write_text(&d, "qemu-aarch64", "disabled\ninterpreter /usr/libexec/qemu-binfmt/x\n");
    expect_fail(kiln_binfmt_check(d.path, &test_amd64, &arm64, &err), &err, KILN_E_INVALID,
                "no binfmt_misc handler for aarch64");
    write_text(&d, "qemu-aarch64", "enabled\ninterpreter /usr/libexec/qemu-binfmt/x\n");
    expect_ok(kiln_binfmt_check(d.path, &test_amd64, &arm64, &err), &err);
    /* binfmt_misc switched off as a whole. */
    write_text(&d, "status", "disabled\n");
    expect_fail(kiln_binfmt_check(d.path, &test_amd64, &arm64, &err), &err, KILN_E_INVALID,
                "aarch64");
    expect_fail(kiln_binfmt_check(d.path, &test_amd64, &ppc, &err), &err, KILN_E_INVALID,
                "no binfmt_misc handler for ppc64le");
    expect_fail(kiln_binfmt_check(d.path, &test_amd64, &win, &err), &err, KILN_E_INVALID,
                "cannot run windows/amd64 RUN steps on a linux host");
    if (strcmp(kiln_binfmt_qemu_arch(&arm64), "aarch64") != 0 ||
        strcmp(kiln_binfmt_qemu_arch(&test_amd64), "x86_64") != 0)
        fail_msg("qemu names: arm64 '%s', amd64 '%s'", kiln_binfmt_qemu_arch(&arm64),
                 kiln_binfmt_qemu_arch(&test_amd64));
    remove_dir(&d, (const char *const[]){"status", "qemu-aarch64", NULL});
}

/* ---- the index ---- */

static void put(struct kiln_store *s, const char *text, struct kiln_image *img)
{
    struct kiln_error *err = NULL;
    struct kiln_content_expect e = {.size = (int64_t)strlen(text)};
    expect_ok(kiln_content_put(s, &e, NULL, text, strlen(text), img->digest, &err), &err);
    img->size = strlen(text);
    img->media_type = KILN_OCI_MT_MANIFEST;
}

static struct kiln_oci_index *read_index(struct kiln_store *s, const struct kiln_image_index *idx)
{
    struct kiln_error *err = NULL;
    int fd = -1;
    expect_ok(kiln_content_open(s, idx->digest, &fd, &err), &err);
    char *buf = kiln_xcalloc(1, idx->size + 1);
    if (read(fd, buf, idx->size) != (ssize_t)idx->size)
        fail_msg("cannot read the index %s", idx->digest);
    close(fd);
    if (!strstr(buf, "{\n  \"schemaVersion\": 2,\n  \"mediaType\": "))
        fail_msg("the index is not indented as BuildKit writes it: %s", buf);
    struct kiln_oci_index *i = NULL;
    expect_ok(kiln_oci_index_parse(buf, idx->size, 0, &i, &err), &err);
    free(buf);
    return i;
}

static void test_build__index(void **state)
{
    (void)state;
    struct dir d;
    make_dir(&d);
    char *dir = kiln_xasprintf("%s/store", d.path);
    struct kiln_store *s = NULL;
    struct kiln_error *err = NULL;
    expect_ok(kiln_store_open(dir, &s, &err), &err);
    struct kiln_image imgs[2] = {0};
    put(s, "{\"schemaVersion\":2,\"n\":1}", &imgs[0]);
    put(s, "{\"schemaVersion\":2,\"n\":2}", &imgs[1]);
    struct kiln_oci_platform armv7 = {.architecture = "arm", .os = "linux", .variant = "v7"};
    const struct kiln_oci_platform *pf[2] = {&test_amd64, &armv7};
    for (int docker = 0; docker < 2; docker++) {
        struct kiln_image_index idx;
        expect_ok(kiln_image_index_export(s, NULL, imgs, pf, 2, docker, NULL, NULL, &idx, &err),
                  &err);
        const char *want = docker ? KILN_DOCKER_MT_MANIFEST_LIST : KILN_OCI_MT_INDEX;
        struct kiln_oci_index *i = read_index(s, &idx);
        if (strcmp(idx.media_type, want) != 0 || !i->media_type ||
            strcmp(i->media_type, want) != 0 || i->n_manifests != 2)
            fail_msg("index %s: media type %s, %zu manifests; want %s and 2", idx.digest,
                     i->media_type, i->n_manifests, want);
        for (size_t k = 0; k < 2; k++) {
            const struct kiln_oci_descriptor *m = &i->manifests[k];
            if (strcmp(m->digest, imgs[k].digest) != 0 || m->size != (int64_t)imgs[k].size ||
                !m->platform || !kiln_oci_platform_match(pf[k], m->platform))
                fail_msg("index entry %zu: %s (%lld bytes) is not manifest %s with its platform", k,
                         m->digest, (long long)m->size, imgs[k].digest);
        }
        if (strcmp(i->manifests[1].platform->variant, "v7") != 0)
            fail_msg("arm's variant is '%s', want v7", i->manifests[1].platform->variant);
        kiln_oci_index_free(i);
        json_t *desc = kiln_image_index_descriptor(&idx);
        if (strcmp(json_string_value(json_object_get(desc, "digest")), idx.digest) != 0)
            fail_msg("the descriptor does not name the index");
        json_decref(desc);
    }
    kiln_store_close(s);
    kiln_oci_remove_at(AT_FDCWD, d.path, NULL);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_build__merge_shares_build_platform_stage),
            cmocka_unit_test(test_build__merge_keeps_what_differs),
            cmocka_unit_test(test_build__merge_one_graph),
            cmocka_unit_test(test_build__binfmt),
            cmocka_unit_test(test_build__index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
