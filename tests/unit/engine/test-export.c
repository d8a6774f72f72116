/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-export.c - the file outputs: an image built into a real content store
 * exported as an OCI layout (checked with tar, skopeo, umoci and the OCI
 * schemas) and as a docker tar (and loaded into a Docker engine when one
 * runs); a real tree exported as a tar and into a directory.
 */
#include "../oci/layer-test.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "engine/export.h"
#include "oci/mediatype.h"
#include "oci/validate.h"
#include "store/content.h"
#include "store/store.h"

#include "base/banned.h"

#define EPOCH         1700000000
#define EPOCH_RFC3339 "2023-11-14T22:13:20Z"

/* An image put into a store: its blobs and what the exporters are given. */
struct image {
    struct kiln_store *s;
    struct kiln_strv names;
    char layer[KILN_OCI_DIGEST_MAX], config[KILN_OCI_DIGEST_MAX], manifest[KILN_OCI_DIGEST_MAX];
    char index[KILN_OCI_DIGEST_MAX], diff_id[KILN_OCI_DIGEST_MAX];
    size_t manifest_size, index_size;
    struct kiln_export_image img;
};

static void put_blob(struct kiln_store *s, const char *data, size_t len,
                     char ret[KILN_OCI_DIGEST_MAX])
{
    struct kiln_error *err = NULL;
    struct kiln_content_expect e = {.size = (int64_t)len};
    expect_ok(kiln_content_put(s, &e, NULL, data, len, ret, &err), &err);
}

/* The tree every image holds: a directory, a file, an executable. */
static void image_tree(const char *tree)
{
    put_dir(tree, "", 0755);
    put_dir(tree, "etc", 0755);
    put_file(tree, "etc/hello", "hi\n", 0644);
    put_dir(tree, "bin", 0755);
    put_file(tree, "bin/tool", "#!/bin/sh\necho tool\n", 0755);
}

/* A store under root/store holding a one-layer linux/amd64 image, and an index over it. */
static void make_image(const char *root, struct image *im)
{
    struct kiln_error *err = NULL;
    char *dir = at(root, "store"), *tree = at(root, "tree");
    expect_ok(kiln_store_open(dir, &im->s, &err), &err);
    image_tree(tree);
    struct kiln_buf blob = KILN_BUF_INIT((size_t)1 << 30);
    struct kiln_oci_layer l;
    struct kiln_oci_layer_opts lo = {.compression = KILN_OCI_COMPRESSION_GZIP,
                                     .level = KILN_OCI_LEVEL_DEFAULT};
    layer_of_trees(NULL, tree, &lo, &blob, &l);
    put_blob(im->s, blob.buf, blob.len, im->layer);
    snprintf(im->diff_id, sizeof(im->diff_id), "%s", l.diff_id);
    char *config = kiln_xasprintf("{\"architecture\":\"amd64\",\"config\":{},\"os\":\"linux\","
                                  "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                                  l.diff_id);
    put_blob(im->s, config, strlen(config), im->config);
    char *manifest = kiln_xasprintf(
            "{\"schemaVersion\":2,\"mediaType\":\"" KILN_OCI_MT_MANIFEST "\",\"config\":{"
            "\"mediaType\":\"" KILN_OCI_MT_CONFIG "\",\"digest\":\"%s\",\"size\":%zu},"
            "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
            im->config, strlen(config), l.media_type, im->layer, blob.len);
    im->manifest_size = strlen(manifest);
    put_blob(im->s, manifest, im->manifest_size, im->manifest);
    char *index = kiln_xasprintf(
            "{\"schemaVersion\":2,\"mediaType\":\"" KILN_OCI_MT_INDEX "\",\"manifests\":[{"
            "\"mediaType\":\"" KILN_OCI_MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
            "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
            im->manifest, im->manifest_size);
    im->index_size = strlen(index);
    put_blob(im->s, index, im->index_size, im->index);
    im->names = (struct kiln_strv)KILN_STRV_INIT;
    im->img = (struct kiln_export_image){.digest = im->manifest,
                                         .media_type = KILN_OCI_MT_MANIFEST,
                                         .size = im->manifest_size,
                                         .names = &im->names,
                                         .has_epoch = true,
                                         .epoch = EPOCH};
    free(index);
    free(manifest);
    free(config);
    kiln_buf_release(&blob);
    free(tree);
    free(dir);
}

static void image_release(struct image *im)
{
    kiln_store_close(im->s);
    kiln_strv_release(&im->names);
}

static void export_to(const char *path, bool docker, struct image *im)
{
    struct kiln_error *err = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    expect_ok(docker ? kiln_export_docker_tar(im->s, &im->img, kiln_oci_fd_write, &fd, &err)
                     : kiln_export_oci_tar(im->s, &im->img, kiln_oci_fd_write, &fd, &err),
              &err);
    (void)close(fd);
}

static char *tool_text(const char *const *argv)
{
    struct kiln_buf out = KILN_BUF_INIT((size_t)1 << 26);
    int r = run_tool(argv, NULL, &out);
    if (r != 0)
        fail_msg("%s exited %d: %s", argv[0], r, out.buf);
    return kiln_buf_detach(&out, NULL);
}

/* `tar -tvf` of path with runs of spaces squeezed. */
static char *tar_listing(const char *path)
{
    const char *argv[] = {"tar", "--numeric-owner", "--utc", "-tvf", path, NULL};
    char *s = tool_text(argv);
    char *w = s;
    for (const char *p = s; *p; p++)
        if (*p != ' ' || w == s || w[-1] != ' ')
            *w++ = *p;
    *w = '\0';
    return s;
}

static char *file_text(const char *path)
{
    const char *argv[] = {"cat", path, NULL};
    return tool_text(argv);
}

/* The listing BuildKit's exporter gives for im (blobs sorted, mtime 0, no owner). */
static char *expected_listing(const struct image *im, bool with_index)
{
    const char *blobs[] = {im->layer, im->config, im->manifest, with_index ? im->index : NULL};
    qsort(blobs, with_index ? 4 : 3, sizeof(*blobs), manifest_cmp);
    struct kiln_buf b = KILN_BUF_INIT((size_t)1 << 20);
    assert_int_equal(kiln_buf_adds(&b, "drwxr-xr-x 0/0 0 1970-01-01 00:00 blobs/\n"
                                       "drwxr-xr-x 0/0 0 1970-01-01 00:00 blobs/sha256/\n"),
                     0);
    for (size_t i = 0; i < (with_index ? 4u : 3u); i++) {
        uint64_t size = 0;
        assert_int_equal(kiln_content_size(im->s, blobs[i], &size, NULL), 0);
        assert_int_equal(kiln_buf_addf(&b, "-r--r--r-- 0/0 %llu 1970-01-01 00:00 blobs/sha256/%s\n",
                                       (unsigned long long)size, blobs[i] + 7),
                         0);
    }
    return kiln_buf_detach(&b, NULL);
}

static void test_export__oci_layout_as_buildkit(void **state)
{
    struct fx *f = *state;
    struct image im;
    make_image(f->root, &im);
    kiln_strv_push(&im.names, "docker.io/library/app:1");
    kiln_strv_push(&im.names, "localhost:5000/team/app");
    char *file = at(f->root, "app.tar"), *again = at(f->root, "again.tar");
    export_to(file, false, &im);

    /* Entries, order, modes, owners and times as containerd's writeTar. */
    char *list = tar_listing(file), *want = expected_listing(&im, false);
    char *extracted = at(f->root, "layout");
    put_dir(extracted, "", 0755);
    const char *untar[] = {"tar", "-xf", file, "-C", extracted, NULL};
    assert_int_equal(run_tool(untar, NULL, NULL), 0);
    char *ij = at(extracted, "index.json"), *ol = at(extracted, "oci-layout");
    char *index = file_text(ij), *layout = file_text(ol);
    char *tail = kiln_xasprintf("-rw-r--r-- 0/0 %zu 1970-01-01 00:00 index.json\n"
                                "-r--r--r-- 0/0 30 1970-01-01 00:00 oci-layout\n",
                                strlen(index));
    char *all = kiln_xasprintf("%s%s", want, tail);
    if (strcmp(list, all))
        fail_msg("tar -tvf gave\n%s--- expected\n%s", list, all);

    /* index.json: one entry per name, the names as containerd annotates them. */
    char *want_index = kiln_xasprintf(
            "{\"schemaVersion\":2,\"mediaType\":\"" KILN_OCI_MT_INDEX "\",\"manifests\":["
            "{\"mediaType\":\"" KILN_OCI_MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
            "\"annotations\":{\"io.containerd.image.name\":\"docker.io/library/app:1\","
            "\"org.opencontainers.image.created\":\"" EPOCH_RFC3339 "\","
            "\"org.opencontainers.image.ref.name\":\"1\"},"
            "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
            "{\"mediaType\":\"" KILN_OCI_MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
            "\"annotations\":{\"io.containerd.image.name\":\"localhost:5000/team/app:latest\","
            "\"org.opencontainers.image.created\":\"" EPOCH_RFC3339 "\","
            "\"org.opencontainers.image.ref.name\":\"latest\"},"
            "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
            im.manifest, im.manifest_size, im.manifest, im.manifest_size);
    assert_string_equal(index, want_index);
    assert_string_equal(layout, "{\"imageLayoutVersion\":\"1.0.0\"}");
    struct kiln_error *err = NULL;
    expect_ok(kiln_oci_validate(KILN_OCI_MT_INDEX, index, strlen(index), &err), &err);
    expect_ok(kiln_oci_validate(KILN_OCI_MT_LAYOUT_HEADER, layout, strlen(layout), &err), &err);

    /* The same image and epoch give the same bytes. */
    export_to(again, false, &im);
    const char *cmp[] = {"cmp", file, again, NULL};
    assert_int_equal(run_tool(cmp, NULL, NULL), 0);

    /* skopeo finds the manifest by its ref name; umoci unpacks the tree. */
    if (have_tool("skopeo", "--version")) {
        char *ref = kiln_xasprintf("oci-archive:%s:1", file);
        const char *argv[] = {"skopeo", "inspect", "--raw", ref, NULL};
        char *raw = tool_text(argv);
        char dgst[KILN_OCI_DIGEST_MAX];
        assert_int_equal(kiln_oci_digest_bytes(KILN_OCI_SHA256, raw, strlen(raw), dgst, NULL), 0);
        assert_string_equal(dgst, im.manifest);
        free(raw);
        free(ref);
    } else {
        print_message("skopeo not installed: skipped\n");
    }
    if (geteuid() == 0 && have_tool("umoci", "--version")) {
        char *image = kiln_xasprintf("%s:latest", extracted), *bundle = at(f->root, "bundle");
        const char *argv[] = {"umoci", "unpack", "--image", image, bundle, NULL};
        assert_int_equal(run_tool(argv, NULL, NULL), 0);
        char *hello = kiln_xasprintf("%s/rootfs/etc/hello", bundle), *text = file_text(hello);
        assert_string_equal(text, "hi\n");
        free(text);
        free(hello);
        free(bundle);
        free(image);
    } else {
        print_message("umoci or root missing: skipped\n");
    }
    free(want_index);
    free(all);
    free(tail);
    free(layout);
    free(index);
    free(ol);
    free(ij);
    free(extracted);
    free(want);
    free(list);
    free(again);
    free(file);
    image_release(&im);
}

/* An index is exported with every manifest under it; its entry has no platform of its own. */
static void test_export__oci_index(void **state)
{
    struct fx *f = *state;
    struct image im;
    make_image(f->root, &im);
    im.img.digest = im.index;
    im.img.media_type = KILN_OCI_MT_INDEX;
    im.img.size = im.index_size;
    char *file = at(f->root, "multi.tar");
    export_to(file, false, &im);
    char *list = tar_listing(file), *want = expected_listing(&im, true);
    if (strncmp(list, want, strlen(want)))
        fail_msg("tar -tvf gave\n%s--- expected it to start with\n%s", list, want);
    struct kiln_buf index = KILN_BUF_INIT(1 << 20);
    struct kiln_error *err = NULL;
    expect_ok(kiln_export_index_json(im.s, &im.img, &index, &err), &err);
    char *want_index = kiln_xasprintf(
            "{\"schemaVersion\":2,\"mediaType\":\"" KILN_OCI_MT_INDEX "\",\"manifests\":["
            "{\"mediaType\":\"" KILN_OCI_MT_INDEX "\",\"digest\":\"%s\",\"size\":%zu,"
            "\"annotations\":{\"org.opencontainers.image.created\":\"" EPOCH_RFC3339 "\"}}]}",
            im.index, im.index_size);
    assert_string_equal(index.buf, want_index);
    int fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC);
    expect_fail(kiln_export_docker_tar(im.s, &im.img, kiln_oci_fd_write, &fd, &err), &err,
                KILN_E_INVALID, "type=oci");
    (void)close(fd);
    free(want_index);
    kiln_buf_release(&index);
    free(want);
    free(list);
    free(file);
    image_release(&im);
}

static void test_export__docker_tar(void **state)
{
    struct fx *f = *state;
    struct image im;
    make_image(f->root, &im);
    char *file = at(f->root, "docker.tar"), *dir = at(f->root, "d"), *mj = at(dir, "manifest.json");
    export_to(file, true, &im);
    put_dir(dir, "", 0755);
    const char *untar[] = {"tar", "-xf", file, "-C", dir, NULL};
    assert_int_equal(run_tool(untar, NULL, NULL), 0);
    char *text = file_text(mj);
    char *want = kiln_xasprintf("[{\"Config\":\"blobs/sha256/%s\",\"RepoTags\":null,"
                                "\"Layers\":[\"blobs/sha256/%s\"]}]",
                                im.config + 7, im.layer + 7);
    assert_string_equal(text, want);
    free(text);
    free(want);

    kiln_strv_push(&im.names, "docker.io/library/kiln-export-test:1");
    kiln_strv_push(&im.names, "localhost:5000/team/app:2");
    export_to(file, true, &im);
    assert_int_equal(run_tool(untar, NULL, NULL), 0);
    text = file_text(mj);
    want = kiln_xasprintf("[{\"Config\":\"blobs/sha256/%s\",\"RepoTags\":["
                          "\"kiln-export-test:1\",\"localhost:5000/team/app:2\"],"
                          "\"Layers\":[\"blobs/sha256/%s\"]}]",
                          im.config + 7, im.layer + 7);
    assert_string_equal(text, want);
    char *list = tar_listing(file);
    const char *order[] = {"blobs/\n", "index.json\n", "manifest.json\n", "oci-layout\n"};
    const char *p = list;
    for (size_t i = 0; i < ELEMENTSOF(order); i++) {
        const char *q = strstr(p, order[i]);
        if (!q)
            fail_msg("'%s' missing or out of order in\n%s", order[i], list);
        p = q;
    }
    free(list);

    struct stat st;
    if (stat("/var/run/docker.sock", &st) == 0) {
        struct kiln_error *err = NULL;
        expect_ok(kiln_docker_load("/var/run/docker.sock", im.s, &im.img, f->root, &err), &err);
        const char *argv[] = {
                "docker", "image", "inspect", "--format", "{{.Id}}", "kiln-export-test:1", NULL};
        char *id = tool_text(argv);
        print_message("docker load: kiln-export-test:1 is %s", id);
        free(id);
        const char *rm[] = {
                "docker", "image", "rm", "kiln-export-test:1", "localhost:5000/team/app:2", NULL};
        (void)run_tool(rm, NULL, NULL);
    } else {
        print_message("no Docker engine at /var/run/docker.sock: docker load skipped\n");
    }
    free(text);
    free(want);
    free(mj);
    free(dir);
    free(file);
    image_release(&im);
}

/* For a load, the layers the engine has (by chain id) stay out of the tar; manifest.json still
 * names them, as docker load reads a layer only when it lacks its chain. */
static void test_export__docker_tar_without_layers_the_engine_has(void **state)
{
    struct fx *f = *state;
    struct image im;
    make_image(f->root, &im);
    char *file = at(f->root, "docker.tar");
    struct kiln_strv has = KILN_STRV_INIT;
    kiln_strv_push(&has, "sha256:0000000000000000000000000000000000000000000000000000000000000000");
    im.img.engine_has = &has;
    export_to(file, true, &im);
    char *list = tar_listing(file);
    assert_non_null(strstr(list, im.layer + 7)); /* another chain: the layer goes */
    free(list);
    kiln_strv_push(&has, im.diff_id); /* a first layer's chain id is its diff id */
    export_to(file, true, &im);
    list = tar_listing(file);
    assert_null(strstr(list, im.layer + 7));
    assert_non_null(strstr(list, im.config + 7));
    assert_non_null(strstr(list, "manifest.json"));
    free(list);
    char *dir = at(f->root, "d"), *mj = at(dir, "manifest.json");
    put_dir(dir, "", 0755);
    const char *untar[] = {"tar", "-xf", file, "-C", dir, NULL};
    assert_int_equal(run_tool(untar, NULL, NULL), 0);
    char *text = file_text(mj);
    assert_non_null(strstr(text, im.layer + 7));
    free(text);
    free(mj);
    free(dir);
    kiln_strv_release(&has);
    free(file);
    image_release(&im);
}

static void test_export__docker_load_without_engine(void **state)
{
    struct fx *f = *state;
    struct image im;
    make_image(f->root, &im);
    struct kiln_error *err = NULL;
    char *sock = at(f->root, "docker.sock");
    expect_fail(kiln_docker_load(sock, im.s, &im.img, f->root, &err), &err, KILN_E_NOTFOUND,
                "-o type=docker,dest=FILE");
    /* A socket file nobody listens on any more. */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(sock) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, sock, strlen(sock));
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    (void)close(fd);
    expect_fail(kiln_docker_load(sock, im.s, &im.img, f->root, &err), &err, KILN_E_NOTFOUND,
                "no Docker engine");
    free(sock);
    image_release(&im);
}

/* The engine's refusal (a config whose diff id is not the layer's) comes back as an error. */
static void test_export__docker_load_refused(void **state)
{
    struct fx *f = *state;
    struct stat st;
    if (stat("/var/run/docker.sock", &st) < 0) {
        print_message("no Docker engine at /var/run/docker.sock: skipped\n");
        return;
    }
    struct image im;
    make_image(f->root, &im);
    static const char config[] =
            "{\"architecture\":\"amd64\",\"config\":{},\"os\":\"linux\",\"rootfs\":{\"type\":"
            "\"layers\",\"diff_ids\":[\"sha256:"
            "0000000000000000000000000000000000000000000000000000000000000000\"]}}";
    char cfg[KILN_OCI_DIGEST_MAX], mdgst[KILN_OCI_DIGEST_MAX];
    put_blob(im.s, config, strlen(config), cfg);
    uint64_t layer_size = 0;
    assert_int_equal(kiln_content_size(im.s, im.layer, &layer_size, NULL), 0);
    char *manifest = kiln_xasprintf(
            "{\"schemaVersion\":2,\"mediaType\":\"" KILN_OCI_MT_MANIFEST "\",\"config\":{"
            "\"mediaType\":\"" KILN_OCI_MT_CONFIG "\",\"digest\":\"%s\",\"size\":%zu},"
            "\"layers\":[{\"mediaType\":\"" KILN_OCI_MT_LAYER_GZIP "\",\"digest\":\"%s\","
            "\"size\":%llu}]}",
            cfg, strlen(config), im.layer, (unsigned long long)layer_size);
    put_blob(im.s, manifest, strlen(manifest), mdgst);
    im.img.digest = mdgst;
    im.img.size = strlen(manifest);
    struct kiln_error *err = NULL;
    expect_fail(kiln_docker_load("/var/run/docker.sock", im.s, &im.img, f->root, &err), &err,
                KILN_E_UPSTREAM, "refused the image");
    free(manifest);
    image_release(&im);
}

static int discard(void *userdata, const void *data, size_t len, struct kiln_error **err)
{
    *(uint64_t *)userdata += len;
    return 0;
}

static void test_export__missing_or_damaged_blob(void **state)
{
    struct fx *f = *state;
    struct image im;
    make_image(f->root, &im);
    struct kiln_error *err = NULL;
    uint64_t n = 0;
    char *blob = kiln_xasprintf("%s/store/content/blobs/sha256/%s", f->root, im.layer + 7);
    struct stat st;
    assert_int_equal(stat(blob, &st), 0);
    /* Same size, other bytes: caught while copied. */
    char *junk = kiln_xcalloc(1, (size_t)st.st_size);
    (void)chmod(blob, 0644);
    save(blob, junk, (size_t)st.st_size);
    expect_fail(kiln_export_oci_tar(im.s, &im.img, discard, &n, &err), &err, KILN_E_INVALID,
                "damaged");
    expect_ok(kiln_content_delete(im.s, im.layer, &err), &err);
    expect_fail(kiln_export_oci_tar(im.s, &im.img, discard, &n, &err), &err, KILN_E_NOTFOUND,
                im.layer);
    free(junk);
    free(blob);
    image_release(&im);
}

/* A tree with one of every kind of entry; `outside` is a directory next to it. */
static void rich_tree(const char *tree, const char *outside)
{
    put_dir(outside, "", 0755);
    put_file(outside, "secret", "outside\n", 0600);
    put_dir(tree, "", 0755);
    put_dir(tree, "a", 0750);
    put_file(tree, "a/file", "content\n", 0640);
    char *p = at(tree, "a/file"), *q = at(tree, "a/link"), *z = at(tree, "zlink");
    assert_int_equal(link(p, q), 0);
    assert_int_equal(link(p, z), 0);
    assert_int_equal(lchown(p, 1000, 1001), 0);
    assert_int_equal(setxattr(p, "user.kiln", "v\0x", 3, 0), 0);
    free(p);
    free(q);
    free(z);
    put_file(tree, "a/setuid", "", 04755);
    put_symlink(tree, "escape", outside);
    put_symlink(tree, "rel", "../a/file");
    p = at(tree, "fifo");
    assert_int_equal(mkfifo(p, 0620), 0);
    assert_int_equal(chmod(p, 0620), 0);
    free(p);
    if (geteuid() == 0) {
        p = at(tree, "null");
        assert_int_equal(mknod(p, S_IFCHR | 0666, makedev(1, 3)), 0);
        assert_int_equal(chmod(p, 0666), 0);
        free(p);
    }
    set_mtime(tree, "a/file", 1600000000, 600000000);
    set_mtime(tree, "a/setuid", 1600000000, 400000000);
    set_mtime(tree, "escape", 1600000001, 0);
    set_mtime(tree, "a", 1600000002, 0);
}

static void test_export__tar_as_fsutil(void **state)
{
    struct fx *f = *state;
    char *tree = at(f->root, "tree"), *outside = at(f->root, "outside"), *file = at(f->root, "t");
    rich_tree(tree, outside);
    struct kiln_error *err = NULL;
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    expect_ok(kiln_export_tar(tree, NULL, kiln_oci_fd_write, &fd, &err), &err);
    (void)close(fd);
    char *list = tar_listing(file);
    struct kiln_buf want = KILN_BUF_INIT(1 << 20);
    assert_int_equal(kiln_buf_addf(&want,
                                   "drwxr-x--- 0/0 0 2020-09-13 12:26 a/\n"
                                   "-rw-r----- 1000/1001 8 2020-09-13 12:26 a/file\n"
                                   "hrw-r----- 1000/1001 0 2020-09-13 12:26 a/link link to a/file\n"
                                   "-rwsr-xr-x 0/0 0 2020-09-13 12:26 a/setuid\n"
                                   "lrwxrwxrwx 0/0 0 2020-09-13 12:26 escape -> %s\n"
                                   "prw--w---- 0/0 0 ",
                                   outside),
                     0);
    if (strncmp(list, want.buf, want.len))
        fail_msg("tar -tvf gave\n%s--- expected it to start with\n%s", list, want.buf);
    assert_non_null(strstr(list, " rel -> ../a/file\n"));
    assert_non_null(strstr(list, " zlink link to a/file\n"));
    assert_null(strstr(list, "secret"));
    if (geteuid() == 0)
        assert_non_null(strstr(list, "crw-rw-rw- 0/0 1,3 "));

    /* Every mtime rounded to the second, the xattr kept; the epoch replaces all mtimes. */
    struct kiln_export_fs_opts o = {.has_epoch = true, .epoch = EPOCH};
    struct kiln_buf tar = KILN_BUF_INIT((size_t)1 << 24);
    expect_ok(kiln_export_tar(tree, NULL, buf_write, &tar, &err), &err);
    struct kiln_buf tar2 = KILN_BUF_INIT((size_t)1 << 24);
    expect_ok(kiln_export_tar(tree, &o, buf_write, &tar2, &err), &err);
    struct mem_reader m = {tar.buf, tar.len, 0, 0}, m2 = {tar2.buf, tar2.len, 0, 0};
    struct kiln_oci_tar_reader *r, *r2;
    kiln_oci_tar_reader_new(mem_read, &m, NULL, &r);
    kiln_oci_tar_reader_new(mem_read, &m2, NULL, &r2);
    const struct kiln_oci_tar_header *h, *h2;
    unsigned entries = 0;
    while (kiln_oci_tar_reader_next(r, &h, &err) > 0) {
        assert_int_equal(kiln_oci_tar_reader_next(r2, &h2, &err), 1);
        assert_int_equal(h2->mtime, EPOCH);
        if (!strcmp(h->name, "a/file")) {
            assert_int_equal(h->mtime, 1600000001);
            assert_int_equal(h->n_xattrs, 1);
            assert_string_equal(h->xattrs[0].name, "user.kiln");
            assert_memory_equal(h->xattrs[0].value, "v\0x", 3);
        }
        if (!strcmp(h->name, "a/setuid"))
            assert_int_equal(h->mtime, 1600000000);
        entries++;
    }
    expect_ok(kiln_oci_tar_reader_next(r2, &h2, &err), &err);
    assert_int_equal(entries, geteuid() == 0 ? 9 : 8);
    kiln_oci_tar_reader_free(r);
    kiln_oci_tar_reader_free(r2);
    kiln_buf_release(&tar);
    kiln_buf_release(&tar2);
    kiln_buf_release(&want);
    free(list);
    free(file);
    free(outside);
    free(tree);
}

static void test_export__local_copies_the_tree(void **state)
{
    struct fx *f = *state;
    char *tree = at(f->root, "tree"), *outside = at(f->root, "outside"), *dest = at(f->root, "o/d");
    rich_tree(tree, outside);
    /* What dest holds already: a file to keep, a symlink where the tree has a directory. */
    char *o = at(f->root, "o");
    put_dir(o, "", 0755);
    put_dir(dest, "", 0755);
    put_file(dest, "keep", "kept\n", 0644);
    put_symlink(dest, "a", outside);
    put_dir(dest, "escape", 0755);
    put_file(dest, "escape/x", "old\n", 0644);
    struct kiln_error *err = NULL;
    expect_ok(kiln_export_local(tree, dest, NULL, &err), &err);
    char *src = manifest(tree), *got = manifest(dest);
    /* Same entries (and keep) with the same metadata, content and link counts. */
    char *keep = strstr(got, "keep mode=");
    assert_non_null(keep);
    size_t head = (size_t)(keep - got);
    if (strncmp(got, src, head) || strcmp(strchr(keep, '\n') + 1, src + head))
        fail_msg("exported\n%s--- expected (and keep)\n%s", got, src);
    char v[8];
    char *p = at(dest, "a/file");
    assert_int_equal(getxattr(p, "user.kiln", v, sizeof(v)), 3);
    assert_memory_equal(v, "v\0x", 3);
    char *s = at(outside, "secret"), *text = file_text(s);
    assert_string_equal(text, "outside\n");
    assert_false(exists(outside, "file"));

    /* Again with the epoch: every mtime is the epoch, files are replaced. */
    struct kiln_export_fs_opts eo = {.has_epoch = true, .epoch = EPOCH};
    expect_ok(kiln_export_local(tree, dest, &eo, &err), &err);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_mtim.tv_sec, EPOCH);
    assert_int_equal(st.st_nlink, 3);
    char *e = at(dest, "escape");
    assert_int_equal(lstat(e, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(st.st_mtim.tv_sec, EPOCH);
    free(e);
    free(text);
    free(s);
    free(p);
    free(got);
    free(src);
    free(o);
    free(dest);
    free(outside);
    free(tree);
}

/* A tree nested past the cap is refused by both outputs, naming the path. */
static void test_export__depth_limit(void **state)
{
    struct fx *f = *state;
    char *tree = at(f->root, "deep"), *dest = at(f->root, "deepout");
    put_dir(tree, "", 0755);
    struct kiln_buf rel = KILN_BUF_INIT(1 << 16);
    for (unsigned i = 0; i <= KILN_EXPORT_DEPTH_MAX; i++) {
        assert_int_equal(kiln_buf_adds(&rel, i ? "/d" : "d"), 0);
        put_dir(tree, rel.buf, 0755);
    }
    struct kiln_error *err = NULL;
    uint64_t n = 0;
    expect_fail(kiln_export_tar(tree, NULL, discard, &n, &err), &err, KILN_E_LIMIT,
                "nests deeper than");
    expect_fail(kiln_export_local(tree, dest, NULL, &err), &err, KILN_E_LIMIT, "d/d/d");
    kiln_buf_release(&rel);
    free(dest);
    free(tree);
}

static double seconds_since(struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double d = (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
    *t = now;
    return d;
}

/* An image whose one layer is 256 MiB of `chunk` repeated, streamed into the store. */
static void big_image(const char *root, const char *chunk, struct image *im)
{
    make_image(root, im);
    struct kiln_error *err = NULL;
    struct kiln_content_expect e = {.size = -1};
    struct kiln_content_writer *w = NULL;
    expect_ok(kiln_content_writer_open(im->s, &e, NULL, &w, &err), &err);
    for (int i = 0; i < 256; i++)
        expect_ok(kiln_content_write(w, chunk, 1 << 20, &err), &err);
    expect_ok(kiln_content_commit(w, im->layer, &err), &err);
    kiln_content_writer_free(w);
    char *manifest = kiln_xasprintf(
            "{\"schemaVersion\":2,\"mediaType\":\"" KILN_OCI_MT_MANIFEST "\",\"config\":{"
            "\"mediaType\":\"" KILN_OCI_MT_CONFIG "\",\"digest\":\"%s\",\"size\":1},"
            "\"layers\":[{\"mediaType\":\"" KILN_OCI_MT_LAYER "\",\"digest\":\"%s\","
            "\"size\":%u}]}",
            im->config, im->layer, 256u << 20);
    im->manifest_size = strlen(manifest);
    put_blob(im->s, manifest, im->manifest_size, im->manifest);
    im->img.size = im->manifest_size;
    free(manifest);
}

/* Throughput and memory on 256 MiB (a file, a layer): printed, and the memory bounded. */
static void test_export__streams_big_files(void **state)
{
    struct fx *f = *state;
    char *tree = at(f->root, "big"), *dest = at(f->root, "bigout"), *p = at(tree, "blob");
    char *chunk = kiln_xmalloc(1 << 20);
    for (int i = 0; i < (1 << 20); i++)
        chunk[i] = (char)(i * 31 % 253);
    struct image im;
    big_image(f->root, chunk, &im);
    put_dir(tree, "", 0755);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    for (int i = 0; i < 256; i++)
        assert_int_equal(write(fd, chunk, 1 << 20), 1 << 20);
    (void)close(fd);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    struct kiln_error *err = NULL;
    uint64_t n = 0, n_oci = 0;
    expect_ok(kiln_export_tar(tree, NULL, discard, &n, &err), &err);
    double tar_s = seconds_since(&t);
    expect_ok(kiln_export_local(tree, dest, NULL, &err), &err);
    double local_s = seconds_since(&t);
    expect_ok(kiln_export_oci_tar(im.s, &im.img, discard, &n_oci, &err), &err);
    double oci_s = seconds_since(&t);
    getrusage(RUSAGE_SELF, &ru1);
    print_message("256 MiB: type=tar %.0f MB/s, type=local %.0f MB/s, type=oci %.0f MB/s "
                  "(sha256 checked); max RSS grew %ld KiB\n",
                  268.4 / tar_s, 268.4 / local_s, 268.4 / oci_s, ru1.ru_maxrss - ru0.ru_maxrss);
    assert_true(n > (256u << 20) && n_oci > (256u << 20));
    assert_true(ru1.ru_maxrss - ru0.ru_maxrss < 64 * 1024);
    image_release(&im);
    free(chunk);
    free(p);
    free(dest);
    free(tree);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_export__oci_layout_as_buildkit, fx_setup,
                                            fx_teardown),
            cmocka_unit_test_setup_teardown(test_export__oci_index, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_export__docker_tar, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_export__docker_tar_without_layers_the_engine_has,
                                            fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_export__docker_load_without_engine, fx_setup,
                                            fx_teardown),
            cmocka_unit_test_setup_teardown(test_export__docker_load_refused, fx_setup,
                                            fx_teardown),
            cmocka_unit_test_setup_teardown(test_export__missing_or_damaged_blob, fx_setup,
                                            fx_teardown),
            cmocka_unit_test_setup_teardown(test_export__tar_as_fsutil, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_export__local_copies_the_tree, fx_setup,
                                            fx_teardown),
            cmocka_unit_test_setup_teardown(test_export__depth_limit, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_export__streams_big_files, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
