/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-seccomp-bpf.c - the filter kiln compiles for crun is the program
 * crun compiles from linux.seccomp itself, byte for byte: a container run
 * by crun from a spec without the annotation, its seccomp.bpf read while it
 * runs. Needs root, crun that runs here and busybox-static; left out
 * otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/cleanup.h"
#include "oci/json.h"
#include "sandbox-test.h"
#include "sandbox/runtime-select.h"
#include "sandbox/runtime.h"
#include "sandbox/seccomp-bpf.h"
#include "sandbox/spec.h"

#include "base/banned.h"

#define HOST_BUSYBOX "/bin/busybox"

static const char *const path_env[] = {"PATH=/bin", NULL};

struct run {
    struct kiln_sandbox_container c;
    struct kiln_sandbox_opts o;
    int r, code;
    char *message;
};

static void *run_thread(void *arg)
{
    struct run *x = arg;
    struct kiln_error *e = NULL;
    x->r = kiln_sandbox_runtime_run(&x->c, &x->o, &x->code, &e);
    if (x->r < 0)
        x->message = kiln_xstrdup(kiln_error_message(e, x->r));
    kiln_error_free(e);
    return NULL;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* crun's own program for the container `id`, read once its process runs (it is written before). */
static bool read_crun_program(const char *pid_file, const char *id, struct kiln_buf *out)
{
    _cleanup_free_ char *path = kiln_xasprintf("/run/crun/%s/seccomp.bpf", id);
    for (int i = 0; i < 500; i++) {
        if (access(pid_file, F_OK) == 0) {
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            bool ok = fd >= 0 && kiln_buf_read_fd(out, fd) >= 0;
            if (fd >= 0)
                close(fd);
            return ok;
        }
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    return false;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void test_seccomp_bpf__same_program_as_crun_compiles(void **state)
{
    (void)state;
    struct kiln_sandbox_runtime rt = {0};
    char dir[] = "/tmp/kiln-bpf-XXXXXX";
    assert_non_null(mkdtemp(dir));
    if (geteuid() != 0 || access(HOST_BUSYBOX, X_OK) < 0 ||
        kiln_sandbox_runtime_select("crun", dir, &rt, NULL) < 0) {
        rmdir(dir);
        LEAVE_OUT("root, busybox-static or a crun that runs here is missing");
    }
    const char *ours = kiln_sandbox_seccomp_bpf();
    assert_non_null(ours);
    _cleanup_free_ char *rootfs = kiln_xasprintf("%s/rootfs", dir);
    _cleanup_free_ char *bundle = kiln_xasprintf("%s/bundle", dir);
    assert_int_equal(mkdir(rootfs, 0755), 0);
    assert_int_equal(mkdir(bundle, 0700), 0);
    static const char *const applets[] = {"sh", "sleep"};
    busybox_rootfs(rootfs, HOST_BUSYBOX, applets, ELEMENTSOF(applets));
    _cleanup_free_ char *hosts = kiln_xasprintf("%s/hosts", bundle);
    _cleanup_free_ char *resolv = kiln_xasprintf("%s/resolv.conf", bundle);
    write_file(hosts, "127.0.0.1 localhost\n");
    write_file(resolv, "");

    struct run x = {.o = {.rootfs = rootfs,
                          .argv = (const char *const[]){"/bin/sleep", "1", NULL},
                          .env = path_env,
                          .cwd = "/",
                          .network = KILN_SANDBOX_NET_NONE,
                          .state_dir = bundle,
                          .cancel_fd = -1,
                          .pids_max = -1,
                          .disk_reserve = -1}};
    json_t *spec = kiln_sandbox_spec(&x.o, hosts, resolv);
    assert_non_null(json_object_get(json_object_get(spec, "annotations"),
                                    KILN_SANDBOX_SECCOMP_BPF_ANNOTATION));
    json_object_del(spec, "annotations"); /* crun compiles linux.seccomp itself */
    _cleanup_free_ char *config = kiln_xasprintf("%s/config.json", bundle);
    assert_int_equal(json_dump_file(spec, config, JSON_COMPACT), 0);
    json_decref(spec);

    char id[64];
    snprintf(id, sizeof(id), "kiln-bpf-test-%d", (int)getpid());
    _cleanup_free_ char *log = kiln_xasprintf("%s/runtime.log", bundle);
    _cleanup_free_ char *pid_file = kiln_xasprintf("%s/init.pid", bundle);
    x.c = (struct kiln_sandbox_container){
            .runtime = rt.path, .id = id, .bundle = bundle, .log = log, .v1_view = rt.v1_view};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_thread, &x), 0);
    struct kiln_buf theirs = KILN_BUF_INIT(1 << 20);
    bool read = read_crun_program(pid_file, id, &theirs);
    assert_int_equal(pthread_join(t, NULL), 0);
    if (x.r < 0)
        fail_msg("crun run: %s", x.message);
    assert_int_equal(x.code, 0);
    assert_true(read);

    uint8_t *program = NULL;
    size_t len = 0;
    assert_true(kiln_oci_base64_decode(ours, &program, &len));
    print_message("# kiln's program %zu bytes, crun's %zu\n", len, theirs.len);
    assert_int_equal(len, theirs.len);
    assert_memory_equal(program, theirs.buf, len);
    free(program);
    kiln_buf_release(&theirs);
    kiln_sandbox_runtime_release(&rt);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_seccomp_bpf__same_program_as_crun_compiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
