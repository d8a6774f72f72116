/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp-probe.c - built static by test-seccomp.c and run inside the
 * sandbox: tries each system call RUN's filter refuses, then the work a
 * build does, and prints one line per attempt, "NAME ERRNO" (0: it worked).
 * Every attempt is harmless without the filter too: bad pointers, invalid
 * commands, or calls the sandbox's capabilities refuse anyway.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <unistd.h>

#define BAD_PTR ((void *)8)

static void report(const char *name, long r)
{
    printf("%s %d\n", name, r < 0 ? errno : 0);
}

/* clone(flags) as fork does it: the child exits at once. */
static long clone_flags(unsigned long flags)
{
    long r = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (r == 0)
        syscall(SYS_exit_group, 0);
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    return r;
}

/* unshare(CLONE_NEWUSER) through the i386 ABI (int 0x80, call 310) in a child: the filter must
   cover the 32-bit ABI too. A signal is printed negated: -SIGSEGV when the kernel has no i386
   emulation, -SIGSYS when a filter lacking the i386 ABI killed the child. */
static void unshare_i386(void)
{
#ifdef __x86_64__
    pid_t pid = fork();
    if (pid == 0) {
        long r;
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(310L), "b"((long)CLONE_NEWUSER) : "memory");
        _exit(r < 0 && r > -4096 ? (int)-r : 0);
    }
    int status;
    if (pid > 0 && waitpid(pid, &status, 0) == pid)
        printf("unshare_newuser_i386 %d\n",
               WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
#endif
}

static void refused(void)
{
    unshare_i386();
    report("unshare_newuser", syscall(SYS_unshare, CLONE_NEWUSER));
    report("unshare_newns", syscall(SYS_unshare, CLONE_NEWNS));
    report("clone_newuser", clone_flags(CLONE_NEWUSER));
    report("clone_newns", clone_flags(CLONE_NEWNS));
    report("clone_newnet", clone_flags(CLONE_NEWNET));
    report("clone3", syscall(SYS_clone3, BAD_PTR, sizeof(struct clone_args)));
    report("setns", syscall(SYS_setns, -1, 0));
    report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
    report("add_key", syscall(SYS_add_key, NULL, NULL, NULL, 0, -3));
    report("request_key", syscall(SYS_request_key, NULL, NULL, NULL, 0));
    report("bpf", syscall(SYS_bpf, -1, NULL, 0));
    report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    long uffd = syscall(SYS_userfaultfd, 0);
    report("userfaultfd", uffd);
    if (uffd >= 0)
        close((int)uffd);
    report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
    report("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 0));
    report("init_module", syscall(SYS_init_module, NULL, 0, ""));
    report("finit_module", syscall(SYS_finit_module, -1, "", 0));
    report("delete_module", syscall(SYS_delete_module, "", 0));
    report("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, NULL, 0));
    report("mount", syscall(SYS_mount, NULL, NULL, NULL, 0, NULL));
    report("umount2", syscall(SYS_umount2, "/nonexistent", 0));
    report("pivot_root", syscall(SYS_pivot_root, "/nonexistent", "/nonexistent"));
    report("fsopen", syscall(SYS_fsopen, NULL, 0));
    report("swapon", syscall(SYS_swapon, NULL, 0));
    report("swapoff", syscall(SYS_swapoff, NULL));
    report("reboot", syscall(SYS_reboot, 0, 0, 0, NULL));
    report("acct", syscall(SYS_acct, NULL));
    report("settimeofday", syscall(SYS_settimeofday, BAD_PTR, NULL));
    report("clock_settime", syscall(SYS_clock_settime, CLOCK_REALTIME, BAD_PTR));
    struct timex tx = {.modes = ADJ_TICK, .tick = 0};
    report("adjtimex_set", syscall(SYS_adjtimex, &tx));
    report("personality_read_implies_exec", syscall(SYS_personality, 0x0400000));
    report("personality_addr_no_randomize", syscall(SYS_personality, 0x0040000));
    report("personality_all_but_one", syscall(SYS_personality, 0xfffffffe));
    report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
    report("socket_vsock", syscall(SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0));
    report("kcmp", syscall(SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 0, 0));
    report("pidfd_getfd", syscall(SYS_pidfd_getfd, -1, 0, 0));
    report("process_madvise", syscall(SYS_process_madvise, -1, NULL, 0, 0, 0));
    report("syslog", syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0));
}

static void *thread_main(void *arg)
{
    return arg;
}

static long threads(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        if ((errno = pthread_create(&t[i], NULL, thread_main, NULL)) != 0)
            return -1;
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    return 0;
}

static long forked(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(7);
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    errno = EIO;
    return WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : -1;
}

static long spawned(void)
{
    extern char **environ;
    pid_t pid;
    char *argv[] = {"/bin/true", NULL};
    if ((errno = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ)) != 0)
        return -1;
    int status;
    errno = EIO;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0
                                                                                            : -1;
}

static long mapped(void)
{
    char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    memset(p, 1, 1 << 20);
    if (mprotect(p, 1 << 20, PROT_READ) < 0)
        return -1;
    return munmap(p, 1 << 20);
}

static long file_io(void)
{
    int fd = open("/tmp/seccomp-probe", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    char buf[6] = {0};
    if (fd < 0 || write(fd, "hello", 5) != 5 || pread(fd, buf, 5, 0) != 5)
        return -1;
    close(fd);
    errno = EIO;
    return strcmp(buf, "hello") == 0 && unlink("/tmp/seccomp-probe") == 0 ? 0 : -1;
}

/* ptrace as Docker allows it: a child asks to be traced (strace, gdb). */
static long traced(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 0 : errno);
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    errno = WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
    return errno ? -1 : 0;
}

static void allowed(void)
{
    report("fork", forked());
    report("threads", threads());
    report("posix_spawn", spawned());
    report("mmap", mapped());
    report("file_io", file_io());
    report("socket_inet", socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    report("personality_query", syscall(SYS_personality, 0xffffffff));
    long linux32 = syscall(SYS_personality, 0x0008);
    report("personality_linux32", linux32 < 0 ? linux32 : syscall(SYS_personality, 0));
    struct timex tx = {0};
    report("adjtimex_read", syscall(SYS_adjtimex, &tx));
    report("ptrace_traceme", traced());
}

int main(void)
{
    allowed(); /* first: without the filter, the refused calls change the process */
    refused();
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "Seccomp:", 8) == 0)
            printf("seccomp_mode %d\n", line[8] == '\t' ? line[9] - '0' : -1);
    return 0;
}
