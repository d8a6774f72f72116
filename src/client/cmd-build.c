/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd-build.c - `kiln build`: a Dockerfile build with buildx's flags, run by
 * the engine in-process (the local driver) (docs/internals/client.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/human.h"
#include "build-flags.h"
#include "commands.h"
#include "data-dir.h"

#include "base/banned.h"

void kiln_cmd_build_help(void)
{
    printf("usage: kiln build [OPTIONS] CONTEXT\n\n"
           "Builds the Dockerfile of CONTEXT (a directory) with BuildKit's semantics and sends\n"
           "the result where --output says. Flags mean what they mean to docker buildx build.\n\n"
           "options:\n"
           "  -f, --file PATH          the Dockerfile (default CONTEXT/Dockerfile; - reads stdin)\n"
           "  -t, --tag NAME           name the image (repeatable)\n"
           "      --build-arg K=V      set a build argument (K alone: from the environment)\n"
           "      --target STAGE       build this stage (default: the last one)\n"
           "      --platform OS/ARCH   the platform to build for (default: this machine's)\n"
           "  -o, --output SPEC        type=registry|image|oci|docker|tar|local|cacheonly with\n"
           "                           dest=, name=, push=true, "
           "compression=gzip|zstd|uncompressed,\n"
           "                           compression-level=, force-compression=, oci-mediatypes=;\n"
           "                           a bare DIR means type=local,dest=DIR, - a tar on stdout\n"
           "      --push               push the image to the registry of its tag (type=registry)\n"
           "      --load               load the image into the local Docker engine (type=docker)\n"
           "      --no-cache           run every step again\n"
           "      --pull               fetch base images' metadata again (always done)\n"
           "      --label K=V          add a label to the image (repeatable)\n"
           "      --progress MODE      auto, plain, tty, quiet or rawjson (env BUILDKIT_PROGRESS)\n"
           "      --metadata-file FILE write the result (digests, names) as JSON, as buildx\n"
           "      --iidfile FILE       write the image digest\n"
           "  -q, --quiet              no progress; print the image digest at the end\n\n"
           "Without an output, a tagged build stays in the build cache only (with a warning).\n"
           "SOURCE_DATE_EPOCH (environment or build arg) makes image digests reproducible.\n"
           "State lives in $KILN_DATA_DIR (default /var/lib/kiln for root).\n\n"
           "exit codes: 0 built, 1 the build failed, 2 usage\n");
}

static int write_text(const char *path, const char *text)
{
    _cleanup_free_ char *tmp = kiln_xasprintf("%s.tmp-XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    int r = write(fd, text, len) == (ssize_t)len ? 0 : -EIO;
    fchmod(fd, 0644);
    close(fd);
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}

/* buildx's --metadata-file keys. */
static int write_metadata(const char *path, const struct kiln_build_result *res)
{
    json_t *m = json_object();
    if (*res->image_digest) {
        json_object_set_new(m, "containerimage.digest", json_string(res->image_digest));
        json_object_set_new(m, "containerimage.config.digest", json_string(res->config_digest));
    }
    if (res->descriptor)
        json_object_set(m, "containerimage.descriptor", res->descriptor);
    if (res->names.n) {
        struct kiln_buf b = KILN_BUF_INIT(SIZE_MAX);
        for (size_t i = 0; i < res->names.n; i++)
            kiln_buf_addf(&b, "%s%s", i ? "," : "", res->names.v[i]);
        json_object_set_new(m, "image.name", json_string(b.buf));
        kiln_buf_release(&b);
    }
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(m);
    int r = write_text(path, text);
    free(text);
    return r;
}

/*
 * Settings from the environment: KILN_INSECURE_REGISTRIES (host[:port],
 * comma-separated, spoken to over plain HTTP besides localhost and
 * 127.0.0.0/8) and KILN_CACHE_LIMIT (a size: the cache is collected down
 * to it after each build, least recently used first).
 */
static int build_settings(struct kiln_strv *insecure, uint64_t *limit)
{
    const char *v = getenv("KILN_INSECURE_REGISTRIES");
    _cleanup_free_ char *copy = kiln_xstrdup(v ? v : "");
    char *save = NULL;
    for (char *h = strtok_r(copy, ", ", &save); h; h = strtok_r(NULL, ", ", &save))
        kiln_strv_push(insecure, h);
    v = getenv("KILN_CACHE_LIMIT");
    if (v && *v && kiln_parse_size(v, limit) < 0) {
        fprintf(stderr, "kiln build: KILN_CACHE_LIMIT=%s: use a size such as 20GB\n", v);
        return -1;
    }
    return 0;
}

static bool has_push_without_name(const struct kiln_build_request *req)
{
    for (size_t i = 0; i < req->n_outputs; i++)
        if (req->outputs[i].push && !req->outputs[i].names.n && !req->tags.n)
            return true;
    return false;
}

static int run(struct kiln_build_request *req, const struct kiln_build_cli *cli)
{
    _cleanup_free_ char *data = kiln_data_dir();
    FILE *out = stderr;
    struct kiln_progress *p = kiln_progress_new(cli->progress, out);
    if (!req->n_outputs && req->tags.n)
        kiln_progress_warn(p, NULL,
                           "No output specified with the local driver. The build result stays "
                           "in the build cache only; use --push, --load or -o to export it");
    /* --load talks to the engine DOCKER_HOST names when it is a unix socket. */
    const char *dh = getenv("DOCKER_HOST");
    const char *sock = dh && strncmp(dh, "unix://", 7) == 0 ? dh + 7 : NULL;
    _cleanup_strv_ struct kiln_strv insecure = KILN_STRV_INIT;
    uint64_t limit = 0;
    int r = build_settings(&insecure, &limit);
    if (r < 0) {
        kiln_progress_free(p);
        return KILN_EXIT_USAGE;
    }
    struct kiln_build_env env = {.data_dir = data,
                                 .progress = p,
                                 .docker_socket = sock,
                                 .insecure = (const char *const *)insecure.v,
                                 .cache_limit = limit};
    struct kiln_build_result res = {0};
    struct kiln_error *e = NULL;
    r = kiln_build_run(req, &env, &res, &e);
    kiln_progress_free(p);
    if (r < 0) {
        fprintf(stderr, "ERROR: failed to solve: %s\n", kiln_error_message(e, r));
        if (e && e->line)
            fprintf(stderr, "%s:%u\n",
                    !req->dockerfile                    ? "Dockerfile"
                    : strcmp(req->dockerfile, "-") == 0 ? "<stdin>"
                                                        : req->dockerfile,
                    e->line);
        kiln_error_free(e);
        return KILN_EXIT_FAILURE;
    }
    int w = 0;
    if (cli->metadata_file && (w = write_metadata(cli->metadata_file, &res)) < 0)
        fprintf(stderr, "kiln: cannot write %s: %s\n", cli->metadata_file, strerror(-w));
    if (cli->iidfile && *res.config_digest && (w = write_text(cli->iidfile, res.config_digest)) < 0)
        fprintf(stderr, "kiln: cannot write %s: %s\n", cli->iidfile, strerror(-w));
    if (cli->quiet && *res.image_digest)
        printf("%s\n", res.image_digest);
    kiln_build_result_release(&res);
    return w < 0 ? KILN_EXIT_FAILURE : KILN_EXIT_OK;
}

int kiln_cmd_build(int argc, char **argv)
{
    struct kiln_build_request req;
    struct kiln_build_cli cli;
    struct kiln_error *e = NULL;
    int r = kiln_build_flags_parse(argc, argv, &req, &cli, &e);
    if (r >= 0 && has_push_without_name(&req))
        r = kiln_error_set(&e, KILN_E_INVALID, "--push needs a name: add -t REGISTRY/REPO:TAG");
    if (r < 0) {
        fprintf(stderr, "kiln build: %s\n", kiln_error_message(e, r));
        kiln_error_free(e);
        kiln_build_request_release(&req);
        return KILN_EXIT_USAGE;
    }
    if (cli.help) {
        kiln_cmd_build_help();
        kiln_build_request_release(&req);
        return KILN_EXIT_OK;
    }
    r = run(&req, &cli);
    kiln_build_request_release(&req);
    return r;
}
