/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-run-mounts.c - RUN --mount: conversion (variables, targets, from=,
 * ssh sockets), the cache key's definition, and what each type becomes in
 * the sandbox (cache directories and sharing, secrets, ssh, binds of the
 * context that stay inside it), on real files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "convert-test.h"
#include "engine/graph.h"
#include "engine/mount.h"
#include "engine/run-mounts.h"
#include "expect.h"
#include "oci/whiteout.h"

#include "base/banned.h"

static struct kiln_graph *convert(const char *text, struct kiln_df_instructions **df)
{
    struct kiln_convert_opts o = test_opts();
    return test_convert_with(text, &o, df);
}

static struct kiln_vertex *last_exec(const struct kiln_graph *g)
{
    for (size_t i = g->n; i-- > 0;)
        if (g->v[i]->kind == KILN_VERTEX_EXEC)
            return g->v[i];
    fail_msg("the graph has no RUN");
    return NULL;
}

static void test_run_mounts__variables_and_targets(void **state)
{
    (void)state;
    struct kiln_df_instructions *df = NULL;
    struct kiln_graph *g = convert("FROM busybox\n"
                                   "ARG DIR=/cache\n"
                                   "ENV ID=npm\n"
                                   "WORKDIR /w\n"
                                   "RUN --mount=type=cache,target=$DIR,id=$ID "
                                   "--mount=type=secret,id=tok --mount=type=ssh "
                                   "--mount=type=bind,target=rel,source=src true\n",
                                   &df);
    const struct kiln_vertex_exec *x = &last_exec(g)->exec;
    assert_int_equal(x->n_mounts, 4);
    assert_string_equal(x->mounts[0].mount->target, "/cache");
    assert_string_equal(x->mounts[0].mount->id, "npm");
    assert_string_equal(x->mounts[1].mount->target, "/run/secrets/tok");
    assert_string_equal(x->mounts[2].mount->target, "/run/buildkit/ssh_agent.0");
    assert_string_equal(x->mounts[3].mount->target, "/w/rel");
    assert_false(x->mounts[3].from_state);
    bool sock = false;
    for (size_t i = 0; i < x->env.n; i++)
        sock |= strcmp(x->env.v[i], "SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0") == 0;
    assert_true(sock);
    char *def = kiln_vertex_definition(last_exec(g));
    if (!strstr(def, "\"/cache\"") || !strstr(def, "\"npm\"") || strstr(def, "$DIR"))
        fail_msg("the definition has the mounts unexpanded: %s", def);
    free(def);
    kiln_graph_free(g);
    kiln_df_instructions_free(df);
}

static void test_run_mounts__secret_env_masked_in_name(void **state)
{
    (void)state;
    struct kiln_df_instructions *df = NULL;
    struct kiln_graph *g = convert("FROM busybox\n"
                                   "RUN --mount=type=secret,id=t,env=TOK echo $TOK $HOME\n",
                                   &df);
    const struct kiln_vertex *v = last_exec(g);
    if (!strstr(v->name, "echo **** $HOME"))
        fail_msg("the step is named '%s'", v->name);
    for (size_t i = 0; i < v->exec.env.n; i++)
        if (strncmp(v->exec.env.v[i], "TOK=", 4) == 0)
            fail_msg("the step's env has '%s'", v->exec.env.v[i]);
    kiln_graph_free(g);
    kiln_df_instructions_free(df);
}

static void test_run_mounts__cache_namespace(void **state)
{
    (void)state;
    struct kiln_strv args = KILN_STRV_INIT;
    kiln_strv_push(&args, "BUILDKIT_CACHE_MOUNT_NS=team-a");
    struct kiln_convert_opts o = test_opts();
    o.build_args = &args;
    struct kiln_df_instructions *df = NULL;
    struct kiln_graph *g = test_convert_with(
            "FROM busybox\nRUN --mount=type=cache,target=/root/.npm true\n", &o, &df);
    assert_string_equal(last_exec(g)->exec.mounts[0].mount->id, "team-a//root/.npm");
    kiln_graph_free(g);
    kiln_df_instructions_free(df);
    kiln_strv_release(&args);
}

static void test_run_mounts__from_stage_is_an_input(void **state)
{
    (void)state;
    struct kiln_df_instructions *df = NULL;
    struct kiln_graph *g = convert("FROM busybox AS a\n"
                                   "RUN echo a\n"
                                   "FROM busybox\n"
                                   "RUN --mount=from=a,target=/a,source=/etc cat /a/x\n",
                                   &df);
    struct kiln_vertex *v = last_exec(g);
    assert_true(v->exec.mounts[0].from_state);
    struct kiln_vertex **in = kiln_vertex_input(v, 0);
    assert_non_null(in);
    assert_ptr_equal(in, &v->exec.mounts[0].from);
    assert_int_equal((*in)->kind, KILN_VERTEX_EXEC);
    assert_string_equal((*in)->exec.args.v[2], "echo a");
    assert_null(kiln_vertex_input(v, 1));
    kiln_graph_free(g);
    kiln_df_instructions_free(df);
}

static void test_run_mounts__conversion_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *part;
    } cases[] = {
            {"FROM busybox\nRUN --mount=type=bind,target=/ true\n", "invalid mount target"},
            {"FROM busybox AS a\nRUN --mount=from=b,target=/b true\nFROM a AS b\n",
             "defined before"},
            {"FROM busybox\nARG T=/x\nRUN --mount=type=tmpfs,target=$T,size=$T true\n", "size="},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        struct kiln_df_instructions *df = test_typed(cases[i].text);
        struct kiln_convert_opts o = test_opts();
        struct kiln_graph *g = NULL;
        struct kiln_error *err = NULL;
        int r = kiln_convert(df, &o, &g, &err);
        if (r >= 0 || !strstr(kiln_error_message(err, r), cases[i].part))
            fail_msg("[%s]: got %d '%s', expected an error with '%s'", cases[i].text, r,
                     kiln_error_message(err, r), cases[i].part);
        kiln_error_free(err);
        kiln_graph_free(g);
        kiln_df_instructions_free(df);
    }
}

static void test_run_mounts__cache_dir_is_a_digest(void **state)
{
    (void)state;
    static const char *const ids[] = {"../../../etc", "/etc/passwd", "a/../../b", ".."};
    for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
        char *d = kiln_run_mounts_cache_dir("/data", "local", ids[i], "");
        const char *name = d + strlen("/data/cache-mounts/");
        if (strncmp(d, "/data/cache-mounts/", 19) != 0 || strlen(name) != 64 ||
            strspn(name, "0123456789abcdef") != 64)
            fail_msg("cache id '%s' gave the directory '%s'", ids[i], d);
        free(d);
    }
    char *a = kiln_run_mounts_cache_dir("/data", "local", "x", "");
    char *b = kiln_run_mounts_cache_dir("/data", "other", "x", "");
    char *c = kiln_run_mounts_cache_dir("/data", "local", "x", "sha256:k\n/src");
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, c);
    free(a);
    free(b);
    free(c);
}

/* A solver and a worker context over a fresh directory tree. */
struct fixture {
    char root[64];
    char *data, *tmp, *ctx, *scratch;
    struct kiln_build_request req;
    struct kiln_solver sv;
    struct kiln_op_ctx op;
    struct kiln_vertex v;
};

static int setup(void **state)
{
    struct fixture *f = kiln_xcalloc(1, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/kiln-run-mounts-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    f->data = kiln_xasprintf("%s/data", f->root);
    f->tmp = kiln_xasprintf("%s/tmp", f->root);
    f->ctx = kiln_xasprintf("%s/ctx", f->root);
    f->scratch = kiln_xasprintf("%s/scratch", f->root);
    mkdir(f->data, 0700);
    mkdir(f->tmp, 0700);
    mkdir(f->ctx, 0755);
    mkdir(f->scratch, 0700);
    f->sv = (struct kiln_solver){.data_dir = f->data,
                                 .builder = "local",
                                 .context_dir = f->ctx,
                                 .tmp_dir = f->tmp,
                                 .request = &f->req};
    f->op = (struct kiln_op_ctx){.sv = &f->sv};
    f->v = (struct kiln_vertex){.kind = KILN_VERTEX_EXEC, .name = (char *)"[1/1] RUN"};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < f->v.exec.n_mounts; i++)
        kiln_df_mount_free(f->v.exec.mounts[i].mount);
    free(f->v.exec.mounts);
    kiln_build_request_release(&f->req);
    kiln_oci_remove_at(AT_FDCWD, f->root, NULL);
    free(f->data);
    free(f->tmp);
    free(f->ctx);
    free(f->scratch);
    free(f);
    return 0;
}

/* Gives the vertex the mount `spec` (no variables). */
static void add_spec(struct fixture *f, const char *spec)
{
    struct kiln_vertex_exec *x = &f->v.exec;
    x->mounts = kiln_xrealloc(x->mounts, (x->n_mounts + 1) * sizeof(*x->mounts));
    struct kiln_exec_mount *em = &x->mounts[x->n_mounts];
    *em = (struct kiln_exec_mount){0};
    struct kiln_error *err = NULL;
    expect_ok(kiln_df_mount_parse(spec, NULL, NULL, &em->mount, &err), &err);
    x->n_mounts++;
}

static void add_secret(struct fixture *f, const char *id, const char *value)
{
    struct kiln_build_request *req = &f->req;
    req->secrets = kiln_xrealloc(req->secrets, (req->n_secrets + 1) * sizeof(*req->secrets));
    req->secrets[req->n_secrets++] = (struct kiln_build_secret){
            .id = kiln_xstrdup(id), .data = (uint8_t *)kiln_xstrdup(value), .len = strlen(value)};
}

static char *slurp(const char *path)
{
    char buf[256] = "";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail_msg("cannot open '%s'", path);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return kiln_xstrdup(buf);
}

static void test_run_mounts__secret_file_and_env(void **state)
{
    struct fixture *f = *state;
    add_secret(f, "tok", "s3cr3t-value");
    add_spec(f, "type=secret,id=tok");
    add_spec(f, "type=secret,id=tok,env=TOKEN");
    add_spec(f, "type=secret,id=tok,target=/etc/t,mode=0440,uid=1000,gid=1001");
    add_spec(f, "type=secret,id=absent");
    struct kiln_run_mounts m;
    struct kiln_error *err = NULL;
    expect_ok(kiln_run_mounts_prepare(&f->op, &f->v, f->scratch, &m, &err), &err);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.v[0].target, "/run/secrets/tok");
    assert_true(m.v[0].readonly);
    char *got = slurp(m.v[0].source);
    assert_string_equal(got, "s3cr3t-value");
    free(got);
    struct stat st;
    assert_int_equal(stat(m.v[0].source, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0400);
    assert_int_equal(stat(m.v[1].source, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0440);
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_gid, 1001);
    assert_string_equal(m.v[1].target, "/etc/t");
    assert_int_equal(m.env.n, 1);
    assert_string_equal(m.env.v[0], "TOKEN=s3cr3t-value");
    kiln_run_mounts_release(&m);
}

static void test_run_mounts__secret_required(void **state)
{
    struct fixture *f = *state;
    add_secret(f, "other", "x");
    add_spec(f, "type=secret,id=tok,required");
    struct kiln_run_mounts m;
    struct kiln_error *err = NULL;
    expect_fail(kiln_run_mounts_prepare(&f->op, &f->v, f->scratch, &m, &err), &err, KILN_E_NOTFOUND,
                "secret tok: not found");
}

/*
 * A real agent's stand-in: a unix socket at `path` that accepts `n`
 * connections, each echoed back by a thread of its own until its client
 * shuts its writing end.
 */
struct echo_agent {
    int fd;
    unsigned n;
    pthread_t thread;
};

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void *echo_conn(void *arg)
{
    int c = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    while ((n = read(c, buf, sizeof(buf))) > 0 && write_all(c, buf, (size_t)n))
        ;
    close(c);
    return NULL;
}

static void *echo_serve(void *arg)
{
    struct echo_agent *a = arg;
    pthread_t t[8];
    for (unsigned i = 0; i < a->n; i++) {
        int c = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC);
        pthread_create(&t[i], NULL, echo_conn, (void *)(intptr_t)c);
    }
    for (unsigned i = 0; i < a->n; i++)
        pthread_join(t[i], NULL);
    close(a->fd);
    return NULL;
}

static void echo_start(struct echo_agent *a, const char *path, unsigned n)
{
    a->n = n;
    a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(bind(a->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(a->fd, 8), 0);
    pthread_create(&a->thread, NULL, echo_serve, a);
}

static int dial(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        fail_msg("cannot connect to '%s': %s", path, strerror(errno));
    return fd;
}

/* One client: `size` bytes written by a thread (then SHUT_WR), the echo read back. */
struct client {
    int fd;
    size_t size;
    char *data;
    pthread_t writer;
};

static void *client_write(void *arg)
{
    struct client *c = arg;
    write_all(c->fd, c->data, c->size);
    shutdown(c->fd, SHUT_WR);
    return NULL;
}

static void client_start(struct client *c, const char *path, size_t size, char seed)
{
    c->fd = dial(path);
    c->size = size;
    c->data = kiln_xmalloc(size);
    for (size_t i = 0; i < size; i++)
        c->data[i] = (char)(seed + i % 251);
    pthread_create(&c->writer, NULL, client_write, c);
}

static void client_check(struct client *c, const char *what)
{
    char *got = kiln_xmalloc(c->size + 1);
    size_t n = 0;
    ssize_t r;
    while ((r = read(c->fd, got + n, c->size + 1 - n)) > 0)
        n += (size_t)r;
    pthread_join(c->writer, NULL);
    close(c->fd);
    if (n != c->size || memcmp(got, c->data, n) != 0)
        fail_msg("%s: %zu of %zu bytes came back intact", what, n, c->size);
    free(got);
    free(c->data);
}

static size_t count_dir(const char *path)
{
    DIR *d = opendir(path);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The step gets a socket of its own, with the mount's owner and mode, that reaches the agent. */
static void test_run_mounts__ssh(void **state)
{
    struct fixture *f = *state;
    char *sock = kiln_xasprintf("%s/agent.sock", f->root);
    size_t fds = count_dir("/proc/self/fd"), tasks = count_dir("/proc/self/task");
    struct echo_agent agent;
    echo_start(&agent, sock, 5);
    f->req.ssh = kiln_xcalloc(1, sizeof(*f->req.ssh));
    f->req.ssh[0] = (struct kiln_build_ssh){.id = kiln_xstrdup("default"), .socket = sock};
    f->req.n_ssh = 1;
    add_spec(f, "type=ssh,target=/run/buildkit/ssh_agent.0");
    add_spec(f, "type=ssh,id=work,target=/s");
    add_spec(f, "type=ssh,target=/o,uid=1000,gid=1001,mode=0660");
    struct kiln_run_mounts m;
    struct kiln_error *err = NULL;
    expect_ok(kiln_run_mounts_prepare(&f->op, &f->v, f->scratch, &m, &err), &err);
    assert_int_equal(m.n, 2);
    char *own = kiln_xasprintf("%s/ssh-0", f->scratch);
    assert_string_equal(m.v[0].source, own);
    assert_string_equal(m.v[0].target, "/run/buildkit/ssh_agent.0");
    struct stat st;
    assert_int_equal(stat(own, &st), 0);
    if (!S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0600 || st.st_uid != 0 || st.st_gid != 0)
        fail_msg("the default socket is %o %u:%u, want a socket 0600 0:0", st.st_mode, st.st_uid,
                 st.st_gid);
    assert_int_equal(stat(m.v[1].source, &st), 0);
    if ((st.st_mode & 07777) != 0660 || st.st_uid != 1000 || st.st_gid != 1001)
        fail_msg("uid=1000,gid=1001,mode=0660 gave %o %u:%u", st.st_mode & 07777, st.st_uid,
                 st.st_gid);

    struct client one, many[3];
    client_start(&one, own, 5, 'a');
    client_check(&one, "a short round trip");
    client_start(&one, m.v[1].source, 1 << 20, 'b');
    client_check(&one, "1 MiB through the second socket");
    for (int i = 0; i < 3; i++)
        client_start(&many[i], own, 300000, (char)('c' + i));
    for (int i = 3; i-- > 0;)
        client_check(&many[i], "three connections at once, read last first");
    pthread_join(agent.thread, NULL);

    /* The agent gone: a client is closed at once. */
    int fd = dial(own);
    char c;
    assert_int_equal(read(fd, &c, 1), 0);
    close(fd);

    kiln_run_mounts_release(&m);
    if (access(own, F_OK) == 0)
        fail_msg("'%s' is left after the step", own);
    assert_int_equal(count_dir("/proc/self/fd"), fds);
    assert_int_equal(count_dir("/proc/self/task"), tasks);
    free(own);

    add_spec(f, "type=ssh,id=work,target=/t,required");
    expect_fail(kiln_run_mounts_prepare(&f->op, &f->v, f->scratch, &m, &err), &err, KILN_E_NOTFOUND,
                "no SSH key \"work\" forwarded from the client");
}

static void test_run_mounts__cache_sharing(void **state)
{
    struct fixture *f = *state;
    add_spec(f, "type=cache,target=/c,sharing=private,id=../../escape");
    struct kiln_run_mounts a, b, c;
    struct kiln_error *err = NULL;
    expect_ok(kiln_run_mounts_prepare(&f->op, &f->v, f->scratch, &a, &err), &err);
    expect_ok(kiln_run_mounts_prepare(&f->op, &f->v, f->scratch, &b, &err), &err);
    if (strcmp(a.v[0].source, b.v[0].source) == 0)
        fail_msg("two private users share '%s'", a.v[0].source);
    char *prefix = kiln_xasprintf("%s/cache-mounts/", f->data);
    assert_memory_equal(a.v[0].source, prefix, strlen(prefix));
    assert_memory_equal(b.v[0].source, a.v[0].source, strlen(a.v[0].source));
    char *first = kiln_xstrdup(a.v[0].source);
    kiln_run_mounts_release(&a);
    expect_ok(kiln_run_mounts_prepare(&f->op, &f->v, f->scratch, &c, &err), &err);
    assert_string_equal(c.v[0].source, first); /* free again: reused */
    kiln_run_mounts_release(&b);
    kiln_run_mounts_release(&c);
    free(first);
    free(prefix);
}

static void test_run_mounts__cache_shared(void **state)
{
    struct fixture *f = *state;
    add_spec(f, "type=cache,target=/c,uid=1000,mode=0700");
    add_spec(f, "type=cache,target=/d,id=/c");
    struct kiln_run_mounts a;
    struct kiln_error *err = NULL;
    expect_ok(kiln_run_mounts_prepare(&f->op, &f->v, f->scratch, &a, &err), &err);
    assert_string_equal(a.v[0].source, a.v[1].source);
    struct stat st;
    assert_int_equal(stat(a.v[0].source, &st), 0);
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_mode & 07777, 0700);
    kiln_run_mounts_release(&a);
}

struct locked_user {
    struct fixture *f;
    struct kiln_run_mounts m;
    int done;
};

static void *take_locked(void *arg)
{
    struct locked_user *u = arg;
    struct kiln_error *err = NULL;
    int r = kiln_run_mounts_prepare(&u->f->op, &u->f->v, u->f->scratch, &u->m, &err);
    kiln_error_free(err);
    __atomic_store_n(&u->done, r < 0 ? -1 : 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_run_mounts__cache_locked_waits(void **state)
{
    struct fixture *f = *state;
    add_spec(f, "type=cache,target=/l,sharing=locked");
    struct kiln_run_mounts a;
    struct kiln_error *err = NULL;
    expect_ok(kiln_run_mounts_prepare(&f->op, &f->v, f->scratch, &a, &err), &err);
    struct locked_user u = {.f = f};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, take_locked, &u), 0);
    usleep(200 * 1000);
    if (__atomic_load_n(&u.done, __ATOMIC_SEQ_CST))
        fail_msg("a second sharing=locked user did not wait for the first");
    kiln_run_mounts_release(&a);
    pthread_join(t, NULL);
    assert_int_equal(u.done, 1);
    kiln_run_mounts_release(&u.m);
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_run_mounts__bind_context_stays_inside(void **state)
{
    struct fixture *f = *state;
    char *p = kiln_xasprintf("%s/inside.txt", f->ctx);
    write_file(p, "in");
    free(p);
    p = kiln_xasprintf("%s/esc", f->ctx);
    assert_int_equal(symlink("/etc", p), 0);
    free(p);
    add_spec(f, "type=bind,source=inside.txt,target=/i");
    struct kiln_run_mounts m;
    struct kiln_error *err = NULL;
    expect_ok(kiln_run_mounts_prepare(&f->op, &f->v, f->scratch, &m, &err), &err);
    char *got = slurp(m.v[0].source);
    assert_string_equal(got, "in");
    free(got);
    char *real = realpath(m.v[0].source, NULL); /* a copy, not the context */
    if (!real || strncmp(real, f->tmp, strlen(f->tmp)) != 0)
        fail_msg("the bind's source '%s' is '%s'", m.v[0].source, real ? real : "?");
    free(real);
    assert_true(m.v[0].readonly);
    char d[KILN_OCI_DIGEST_MAX];
    expect_ok(kiln_run_mounts_content(&f->op, &f->v, d, &err), &err);
    assert_memory_equal(d, "sha256:", 7);
    kiln_run_mounts_release(&m);
    static const char *const hostile[] = {"type=bind,source=../../../../etc/passwd,target=/x",
                                          "type=bind,source=esc/passwd,target=/x",
                                          "type=bind,source=/proc/self/root/etc/passwd,target=/x"};
    for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
        kiln_df_mount_free(f->v.exec.mounts[0].mount);
        f->v.exec.n_mounts = 0;
        add_spec(f, hostile[i]);
        int r = kiln_run_mounts_prepare(&f->op, &f->v, f->scratch, &m, &err);
        if (r >= 0)
            fail_msg("'%s' was mounted from '%s'", hostile[i], m.v[0].source);
        kiln_error_free(err);
        err = NULL;
    }
}

int main(void)
{
    struct kiln_error *err = NULL;
    if (kiln_mount_namespace(&err) < 0) { /* the pinned sources mount here, privately */
        printf("1..0 # SKIP %s\n", kiln_error_message(err, -1));
        kiln_error_free(err);
        return 0;
    }
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_run_mounts__variables_and_targets),
            cmocka_unit_test(test_run_mounts__secret_env_masked_in_name),
            cmocka_unit_test(test_run_mounts__cache_namespace),
            cmocka_unit_test(test_run_mounts__from_stage_is_an_input),
            cmocka_unit_test(test_run_mounts__conversion_errors),
            cmocka_unit_test(test_run_mounts__cache_dir_is_a_digest),
            cmocka_unit_test_setup_teardown(test_run_mounts__secret_file_and_env, setup, teardown),
            cmocka_unit_test_setup_teardown(test_run_mounts__secret_required, setup, teardown),
            cmocka_unit_test_setup_teardown(test_run_mounts__ssh, setup, teardown),
            cmocka_unit_test_setup_teardown(test_run_mounts__cache_sharing, setup, teardown),
            cmocka_unit_test_setup_teardown(test_run_mounts__cache_shared, setup, teardown),
            cmocka_unit_test_setup_teardown(test_run_mounts__cache_locked_waits, setup, teardown),
            cmocka_unit_test_setup_teardown(test_run_mounts__bind_context_stays_inside, setup,
                                            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
