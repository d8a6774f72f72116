/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build.c - one build: Dockerfile and .dockerignore in, graph converted,
 * solved, and exported to every output asked for (docs/internals/engine.md).
 */
#include "build.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "base/path.h"
#include "binfmt.h"
#include "context/ignore-file.h"
#include "context/read-dockerfile.h"
#include "convert.h"
#include "dockerfile/parser.h"
#include "graph-merge.h"
#include "hash-cache.h"
#include "mount.h"
#include "oci/whiteout.h"
#include "outputs.h"
#include "resolve.h"
#include "solver.h"

#include "base/banned.h"

void kiln_build_request_release(struct kiln_build_request *req)
{
    free(req->context_dir);
    free(req->dockerfile);
    free(req->dockerfile_text);
    kiln_strv_release(&req->tags);
    kiln_strv_release(&req->build_args);
    kiln_strv_release(&req->labels);
    free(req->target);
    kiln_strv_release(&req->platforms);
    for (size_t i = 0; i < req->n_outputs; i++) {
        free(req->outputs[i].dest);
        kiln_strv_release(&req->outputs[i].names);
        kiln_strv_release(&req->outputs[i].engine_has);
    }
    free(req->outputs);
    free(req->builder);
    free(req->oci_runtime);
    for (size_t i = 0; i < req->n_secrets; i++) {
        free(req->secrets[i].id);
        explicit_bzero(req->secrets[i].data, req->secrets[i].len);
        free(req->secrets[i].data);
    }
    free(req->secrets);
    for (size_t i = 0; i < req->n_ssh; i++) {
        free(req->ssh[i].id);
        free(req->ssh[i].socket);
        free(req->ssh[i].key_file);
    }
    free(req->ssh);
    *req = (struct kiln_build_request){0};
}

void kiln_build_result_release(struct kiln_build_result *res)
{
    json_decref(res->descriptor);
    kiln_strv_release(&res->names);
    *res = (struct kiln_build_result){0};
}

/* Everything one build holds; released by build_release(). */
struct build {
    const struct kiln_build_request *req;
    const struct kiln_build_env *env;
    struct kiln_store *store;
    struct kiln_lease *lease;
    struct kiln_df_ast *ast;
    struct kiln_df_instructions *df;
    struct kiln_strv ignore;
    struct kiln_ignore *ignore_matcher;
    struct kiln_walk_filter filter;
    struct kiln_resolver resolver;
    bool resolver_ready;
    struct kiln_graph **graphs; /* one per platform, in the request's order */
    size_t n_graphs;
    struct kiln_graph merged; /* what the solver runs: the graphs' union */
    struct kiln_hash_cache *hashes;
    char *tmp_dir;
    struct kiln_solver solver;
};

static void build_release(struct build *b)
{
    if (b->tmp_dir) {
        kiln_oci_remove_at(AT_FDCWD, b->tmp_dir, NULL);
        free(b->tmp_dir);
    }
    free(b->solver.results);
    kiln_hash_cache_free(b->hashes);
    kiln_graph_merge_release(&b->merged);
    for (size_t i = 0; i < b->n_graphs; i++)
        kiln_graph_free(b->graphs[i]);
    free(b->graphs);
    if (b->resolver_ready)
        kiln_resolver_release(&b->resolver);
    kiln_ignore_free(b->ignore_matcher);
    kiln_strv_release(&b->ignore);
    kiln_df_instructions_free(b->df);
    kiln_df_ast_free(b->ast);
    kiln_lease_free(b->lease);
    kiln_store_close(b->store);
}

static char *dockerfile_path(const struct kiln_build_request *req)
{
    if (req->dockerfile)
        return kiln_xstrdup(req->dockerfile);
    char *p = kiln_xasprintf("%s/Dockerfile", req->context_dir);
    char *lower = kiln_xasprintf("%s/dockerfile", req->context_dir);
    /* BuildKit falls back to "dockerfile"; a missing file is reported by its usual name */
    bool use_lower = access(p, F_OK) != 0 && access(lower, F_OK) == 0;
    free(use_lower ? p : lower);
    return use_lower ? lower : p;
}

/* "[internal] load build definition from Dockerfile": read, parse, type. */
static int load_definition(struct build *b, struct kiln_error **err)
{
    struct kiln_progress *p = b->env->progress;
    _cleanup_free_ char *path = dockerfile_path(b->req);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    _cleanup_free_ char *title = kiln_xasprintf("[internal] load build definition from %s",
                                                b->req->dockerfile_text ? "-" : base);
    const char *id = "internal:definition";
    kiln_progress_start(p, id, title);
    struct kiln_buf text = KILN_BUF_INIT(KILN_DOCKERFILE_MAX + 1);
    int r = 0;
    if (b->req->dockerfile_text)
        r = kiln_buf_adds(&text, b->req->dockerfile_text) < 0
                    ? kiln_error_set(err, KILN_E_LIMIT, "the Dockerfile is larger than %u MiB",
                                     KILN_DOCKERFILE_MAX / (1024 * 1024))
                    : 0;
    else
        r = kiln_context_read_dockerfile(path, &text, err);
    if (r < 0)
        kiln_error_wrap(err, r, "failed to read dockerfile %s", path);
    if (r >= 0) {
        kiln_progress_status(p, id, "transferring dockerfile:", text.len, 0, true);
        r = kiln_df_parse(text.buf, text.len, &b->ast, err);
    }
    kiln_buf_release(&text);
    if (r >= 0)
        r = kiln_df_instructions_parse(b->ast, &b->df, err);
    if (r < 0) {
        kiln_progress_error(p, id, kiln_error_message(err ? *err : NULL, r));
        return r;
    }
    kiln_progress_done(p, id);
    return 0;
}

/* "[internal] load .dockerignore". */
static int load_ignore(struct build *b, struct kiln_error **err)
{
    const char *id = "internal:dockerignore";
    kiln_progress_start(b->env->progress, id, "[internal] load .dockerignore");
    _cleanup_free_ char *path = dockerfile_path(b->req);
    int r = kiln_context_read_ignore(b->req->context_dir, path, &b->ignore, NULL, err);
    if (r >= 0)
        r = kiln_ignore_new(b->ignore.v, b->ignore.n, &b->ignore_matcher, err);
    if (r < 0) {
        kiln_progress_error(b->env->progress, id, kiln_error_message(err ? *err : NULL, r));
        return kiln_error_wrap(err, r, "failed to read .dockerignore");
    }
    b->filter.exclude = b->ignore.n ? b->ignore_matcher : NULL;
    kiln_progress_done(b->env->progress, id);
    return 0;
}

static int open_store(struct build *b, struct kiln_error **err)
{
    int r = kiln_mkdir_p(b->env->data_dir, 0700, err);
    if (r >= 0)
        r = kiln_store_open(b->env->data_dir, &b->store, err);
    if (r >= 0)
        r = kiln_store_lease_new(b->store, &b->lease, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "data directory %s", b->env->data_dir);
    _cleanup_free_ char *tmp = kiln_xasprintf("%s/tmp", b->env->data_dir);
    if ((r = kiln_mkdir_p(tmp, 0700, err)) < 0)
        return r;
    b->tmp_dir = kiln_xasprintf("%s/build-XXXXXX", tmp);
    if (!mkdtemp(b->tmp_dir)) {
        r = -errno;
        free(b->tmp_dir);
        b->tmp_dir = NULL;
        return kiln_error_set_errno(err, r, "cannot create a directory in '%s'", tmp);
    }
    return 0;
}

/* The context's hash cache: DATA/contexts/<sha256 of its absolute path>. */
static int open_hashes(struct build *b, struct kiln_error **err)
{
    _cleanup_free_ char *dir = kiln_xasprintf("%s/contexts", b->env->data_dir);
    return kiln_hash_cache_open_for(dir, b->req->context_dir, &b->hashes, err);
}

/* The graph for one target platform (NULL: the host's, no --platform). */
static int convert_one(struct build *b, const struct kiln_oci_platform *target,
                       const struct kiln_oci_platform *host, struct kiln_error **err)
{
    struct kiln_convert_opts o = {
            .target = b->req->target,
            .build_args = &b->req->build_args,
            .labels = &b->req->labels,
            .platform = target,
            .build_platform = host,
            .multi_platform = b->req->platforms.n > 1,
            .no_cache = b->req->no_cache,
            .resolve = kiln_resolver_resolve,
            .resolve_userdata = &b->resolver,
    };
    struct kiln_graph *g = NULL;
    int r = kiln_convert(b->df, &o, &g, err);
    if (r >= 0)
        b->graphs[b->n_graphs++] = g;
    return r;
}

/*
 * One graph per platform of --platform (one for the host without), merged
 * into the graph the solver runs, so steps the platforms share run once.
 */
static int convert(struct build *b, struct kiln_error **err)
{
    struct kiln_oci_platform host = {0};
    kiln_oci_platform_host(&host);
    size_t n = b->req->platforms.n;
    b->graphs = kiln_xcalloc(n ? n : 1, sizeof(*b->graphs));
    int r = n ? 0 : convert_one(b, NULL, &host, err);
    for (size_t i = 0; r >= 0 && i < n; i++) {
        struct kiln_oci_platform target = {0};
        r = kiln_oci_platform_parse(b->req->platforms.v[i], &target, err);
        if (r >= 0) {
            kiln_oci_platform_normalize(&target);
            r = convert_one(b, &target, &host, err);
        }
        kiln_oci_platform_release(&target);
    }
    if (r >= 0)
        kiln_graph_merge(b->graphs, b->n_graphs, &b->merged);
    kiln_oci_platform_release(&host);
    return r;
}

/* Every platform a RUN step runs for can run here (natively or through qemu). */
static int check_emulation(const struct build *b, struct kiln_error **err)
{
    struct kiln_oci_platform host = {0};
    kiln_oci_platform_host(&host);
    int r = 0;
    for (size_t i = 0; r >= 0 && i < b->merged.n; i++) {
        const struct kiln_vertex *v = b->merged.v[i];
        if (v->kind == KILN_VERTEX_EXEC)
            r = kiln_binfmt_check(KILN_BINFMT_DIR, &host, &v->exec.platform, err);
        if (r < 0)
            kiln_error_wrap(err, r, "%s", v->name);
    }
    kiln_oci_platform_release(&host);
    return r;
}

static int export_outputs(struct build *b, struct kiln_build_result *ret, struct kiln_error **err)
{
    _cleanup_free_ const char **tops = kiln_xcalloc(b->n_graphs, sizeof(*tops));
    for (size_t i = 0; i < b->n_graphs; i++) {
        const struct kiln_vertex *res = b->graphs[i]->result;
        tops[i] = res ? b->solver.results[res->index].snapshot : "";
    }
    struct kiln_outputs_ctx o = {.req = b->req,
                                 .env = b->env,
                                 .store = b->store,
                                 .lease = b->lease,
                                 .graphs = (const struct kiln_graph *const *)b->graphs,
                                 .tops = tops,
                                 .n = b->n_graphs,
                                 .resolver = &b->resolver,
                                 .tmp_dir = b->tmp_dir};
    return kiln_outputs_run(&o, ret, err);
}

static int solve(struct build *b, struct kiln_error **err)
{
    b->solver = (struct kiln_solver){
            .data_dir = b->env->data_dir,
            .builder = b->req->builder ? b->req->builder : "local",
            .progress = b->env->progress,
            .graph = &b->merged,
            .context_dir = b->req->context_dir,
            .context_filter = &b->filter,
            .hashes = b->hashes,
            .tmp_dir = b->tmp_dir,
            .resolver = &b->resolver,
            .pull = b->req->pull,
            .allow_network_host = b->req->allow_network_host,
            .cancel_fd = b->env->cancel_fd,
            .request = b->req,
    };
    int r = kiln_solve(&b->solver, err);
    int s = kiln_hash_cache_save(b->hashes, r < 0 ? NULL : err);
    return r < 0 ? r : s;
}

int kiln_build_run(const struct kiln_build_request *req, const struct kiln_build_env *env,
                   struct kiln_build_result *ret, struct kiln_error **err)
{
    *ret = (struct kiln_build_result){.names = KILN_STRV_INIT};
    struct build b = {.req = req, .env = env, .ignore = KILN_STRV_INIT};
    struct stat st;
    if (stat(req->context_dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "the build context '%s' is not a directory: give the directory "
                              "that holds the files COPY reads (e.g. .)",
                              req->context_dir);
    int r = kiln_outputs_check(req, req->platforms.n, err);
    if (r >= 0)
        r = kiln_mount_namespace(err);
    if (r >= 0)
        r = load_definition(&b, err);
    if (r >= 0)
        r = load_ignore(&b, err);
    if (r >= 0)
        r = open_store(&b, err);
    if (r >= 0) {
        kiln_resolver_init(&b.resolver, b.store, env->insecure, env->progress);
        b.resolver_ready = true;
        r = convert(&b, err);
    }
    if (r >= 0)
        r = check_emulation(&b, err);
    if (r >= 0)
        r = open_hashes(&b, err);
    if (r >= 0)
        r = solve(&b, err);
    if (r >= 0)
        r = export_outputs(&b, ret, err);
    if (r >= 0 && env->cache_limit) {
        struct kiln_prune_opts po = {.keep_bytes = env->cache_limit};
        r = kiln_store_prune(b.store, &po, NULL, err);
        if (r < 0)
            kiln_error_wrap(err, r, "collect the build cache down to its limit");
    }
    build_release(&b);
    if (r < 0)
        kiln_build_result_release(ret);
    return r;
}
