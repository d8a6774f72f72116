/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd-build.c - `kiln build`: a Dockerfile build with buildx's flags, run by
 * the engine in this process (the local driver) (docs/internals/client.md).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/human.h"
#include "build-flags.h"
#include "build-metadata.h"
#include "builders.h"
#include "cloud-build.h"
#include "commands.h"
#include "data-dir.h"
#include "engine/docker-host.h"
#include "registry/registry.h"
#include "ssh-keys.h"

#include "base/banned.h"

void kiln_cmd_build_help(void)
{
    printf("Usage:  kiln build [OPTIONS] CONTEXT\n"
           "\n"
           "Build an image from the Dockerfile of CONTEXT (a directory), as docker buildx build\n"
           "does, and send the result where --output says. The builder is the local engine, or\n"
           "a cloud builder on kilnd (kiln create --driver cloud; kiln use).\n"
           "\n"
           "Options:\n"
           "      --builder string           Override the configured builder (default: "
           "$KILN_BUILDER,\n"
           "                                 $BUILDX_BUILDER, else the current one)\n"
           "      --build-arg stringArray    Set build-time variables (KEY alone: from the "
           "environment)\n"
           "  -f, --file string              Name of the Dockerfile (default: "
           "\"CONTEXT/Dockerfile\"; - reads stdin)\n"
           "      --iidfile string           Write the image ID to a file\n"
           "      --label stringArray        Set metadata for an image\n"
           "      --load                     Shorthand for \"--output=type=docker\" (load into "
           "the local Docker engine)\n"
           "      --metadata-file string     Write build result metadata to a file\n"
           "      --no-cache                 Do not use cache when building the image\n"
           "      --oci-runtime string       OCI runtime of RUN steps: a name in PATH or a path "
           "(default:\n"
           "                                 $KILN_OCI_RUNTIME, else crun where it works, else "
           "runc;\n"
           "                                 local builder only: kilnd serve chooses its own)\n"
           "  -o, --output stringArray       Output destination (format: "
           "\"type=local,dest=path\")\n"
           "      --platform stringArray     Set target platform(s) for build "
           "(linux/amd64,linux/arm64)\n"
           "      --progress string          Set type of progress output (\"auto\", \"plain\", "
           "\"tty\", \"quiet\", \"rawjson\")\n"
           "                                 (default \"auto\", or $BUILDKIT_PROGRESS)\n"
           "      --pull                     Always attempt to pull all referenced images\n"
           "      --allow network.host       Let RUN --network=host steps use the host's network\n"
           "      --push                     Shorthand for \"--output=type=registry\"\n"
           "      --secret stringArray       Secret for RUN --mount=type=secret (format: "
           "\"id=ID,src=FILE\"\n"
           "                                 or \"id=ID,env=VAR\"); never in the image, cache or "
           "logs\n"
           "      --ssh stringArray          SSH agent socket or key for RUN --mount=type=ssh "
           "(format:\n"
           "                                 \"default\", \"ID=SOCKET\" or \"ID=KEYFILE\"; local\n"
           "                                 builder only)\n"
           "  -q, --quiet                    Suppress the build output and print image ID on "
           "success\n"
           "  -t, --tag stringArray          Name and optionally a tag (format: "
           "\"name:tag\")\n"
           "      --target string            Set the target build stage to build\n"
           "      --dry-run-request          Print the parsed request as JSON and build nothing "
           "(a debugging aid)\n"
           "\n"
           "Outputs (-o): type=registry|image|oci|docker|tar|local|cacheonly, with dest=PATH,\n"
           "name=NAME[,NAME], push=true|false, compression=gzip|zstd|uncompressed,\n"
           "compression-level=N, force-compression=true, oci-mediatypes=true|false.\n"
           "-o DIR means type=local,dest=DIR; -o - writes a tar of the result to stdout.\n"
           "Without an output the result stays in the build cache only.\n"
           "\n"
           "Environment: SOURCE_DATE_EPOCH (reproducible digests), BUILDKIT_PROGRESS,\n"
           "KILN_DATA_DIR (default /var/lib/kiln for root, else $XDG_DATA_HOME/kiln),\n"
           "KILN_CACHE_LIMIT (collect the cache down to a size such as 20GB after each build),\n"
           "KILN_INSECURE_REGISTRIES (host[:port],... spoken to over plain HTTP), DOCKER_HOST,\n"
           "KILN_OCI_RUNTIME (as --oci-runtime); for the local builder, RUN's sandbox:\n"
           "KILN_RUN_USERNS (HOSTID[:SIZE]: steps in a user namespace, their root the host's\n"
           "user HOSTID), KILN_RUN_MEMORY_MAX, KILN_RUN_CPUS, KILN_RUN_PIDS_MAX,\n"
           "KILN_RUN_DISK_RESERVE, KILN_RUN_INODE_RESERVE (limits), KILN_RUN_SECCOMP,\n"
           "KILN_RUN_EGRESS_DENY.\n"
           "\n"
           "Exit status: 0 built, 1 the build failed, 2 the command line is wrong.\n");
}

/*
 * Settings from the environment: KILN_INSECURE_REGISTRIES (host[:port],
 * comma-separated, spoken to over plain HTTP besides localhost and
 * 127.0.0.0/8), KILN_CACHE_LIMIT (a size: the cache is collected down to it
 * after each build) and DOCKER_HOST (unix://PATH or tcp://HOST:PORT: the engine
 * --load talks to, docker-host.h).
 */
static int settings(struct kiln_build_env *env, struct kiln_strv *insecure)
{
    kiln_registry_insecure_from_env(insecure);
    env->insecure = (const char *const *)insecure->v;
    const char *v = getenv("KILN_CACHE_LIMIT");
    if (v && *v && kiln_parse_size(v, &env->cache_limit) < 0) {
        fprintf(stderr, "kiln build: KILN_CACHE_LIMIT=%s: use a size such as 20GB\n", v);
        return -1;
    }
    env->docker_host = kiln_docker_host();
    return 0;
}

static int report(const struct kiln_build_cli *cli, const struct kiln_build_result *res)
{
    struct kiln_error *e = NULL;
    int r = 0;
    if (cli->metadata_file)
        r = kiln_build_metadata_write(cli->metadata_file, res, NULL, &e);
    if (r >= 0 && cli->iidfile)
        r = kiln_build_iidfile_write(cli->iidfile, res, &e);
    if (r < 0) {
        fprintf(stderr, "ERROR: %s\n", kiln_error_message(e, r));
        kiln_error_free(e);
        return KILN_EXIT_FAILURE;
    }
    if (cli->quiet && *kiln_build_image_id(res))
        printf("%s\n", kiln_build_image_id(res));
    return KILN_EXIT_OK;
}

static int run_local(struct kiln_build_request *req, const struct kiln_build_cli *cli)
{
    struct kiln_build_env env = {0};
    _cleanup_strv_ struct kiln_strv insecure = KILN_STRV_INIT;
    if (settings(&env, &insecure) < 0)
        return KILN_EXIT_USAGE;
    if (!req->n_outputs)
        fprintf(stderr, "WARNING: No output specified with the local driver. Build result will "
                        "only remain in the build cache. To push result image into registry use "
                        "--push or to load image into docker use --load\n");
    _cleanup_free_ char *data = kiln_data_dir();
    env.data_dir = data;
    env.progress = kiln_progress_new(cli->progress, stderr);
    struct kiln_build_result res = {0};
    struct kiln_error *e = NULL;
    struct kiln_ssh_keys *keys = NULL;
    int r = kiln_ssh_keys_start(req, &keys, &e); /* --ssh ID=KEYFILE: an agent of ours */
    if (r >= 0)
        r = kiln_build_run(req, &env, &res, &e);
    kiln_ssh_keys_stop(keys);
    kiln_progress_free(env.progress);
    if (r < 0) {
        kiln_build_print_failure(req, e, r);
        kiln_error_free(e);
        kiln_build_result_release(&res);
        return KILN_EXIT_FAILURE;
    }
    r = report(cli, &res);
    kiln_build_result_release(&res);
    return r;
}

static int run(struct kiln_build_request *req, const struct kiln_build_cli *cli)
{
    struct kiln_builder_entry *b = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_builder_select(cli->builder_name, &b, &e);
    if (r < 0) {
        fprintf(stderr, "ERROR: %s\n", kiln_error_message(e, r));
        kiln_error_free(e);
        return KILN_EXIT_FAILURE;
    }
    if (strcmp(b->driver, "cloud") == 0)
        r = kiln_cloud_build_run(req, cli, b);
    else
        r = run_local(req, cli);
    kiln_builder_entry_free(b);
    return r;
}

static int dry_run(const struct kiln_build_request *req, const struct kiln_build_cli *cli)
{
    json_t *j = kiln_build_request_json(req, cli);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    printf("%s\n", text);
    free(text);
    return KILN_EXIT_OK;
}

int kiln_cmd_build(int argc, char **argv)
{
    struct kiln_build_request req;
    struct kiln_build_cli cli;
    struct kiln_error *e = NULL;
    int r = kiln_build_flags_parse(argc, argv, stdin, &req, &cli, &e);
    if (r < 0) {
        fprintf(stderr, "kiln build: %s\n", kiln_error_message(e, r));
        kiln_error_free(e);
        r = KILN_EXIT_USAGE;
    } else if (cli.help) {
        kiln_cmd_build_help();
        r = KILN_EXIT_OK;
    } else {
        r = cli.dry_run ? dry_run(&req, &cli) : run(&req, &cli);
    }
    kiln_build_request_release(&req);
    return r;
}
