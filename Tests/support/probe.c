/* A probe run inside test containers: makes one syscall and prints what the kernel answered.
 * Build: gcc -static -O2 probe.c -o probe
 *   probe status          the Seccomp, Seccomp_filters and NoNewPrivs lines of /proc/self/status
 *   probe NAME            one baseline-denied syscall, harmless either way:
 *                         unshare(0), keyctl(GET_KEYRING_ID, session), umount2 of a missing path,
 *                         bpf with a bad command, ptrace with a bad request
 *   routes around a deny rule (see the README's guarantee):
 *     clone-userns / clone-userns-hi   clone(CLONE_NEWUSER|SIGCHLD), the second with bit 32 set too
 *                                      (the kernel reads the low 32 bits of clone's flags)
 *     clone3-userns                    clone3 with CLONE_NEWUSER|CLONE_NEWNET (flags in memory)
 *     io_uring_setup                   io_uring_setup(1, params)
 *     keyctl-hi                        keyctl(0x100000000 | GET_KEYRING_ID, session): option is an int
 *     keyctl-i386 / unshare-i386       the i386 ABI through int $0x80 (keyctl 288, unshare 310)
 *     keyctl-x32                       the x32 ABI (250 | 0x40000000; ENOSYS where x32 is off)
 *     uffd-ioctl / uffd-ioctl-hi       ioctl(-1, USERFAULTFD_IOC_NEW[, | 1 << 32]): EBADF if it passes
 *     pidfd_getfd                      pidfd_getfd(-1, 0, 0): EBADF if it passes
 *     open_tree_attr                   syscall 467, newer than libseccomp 2.5.4: ENOSYS means denied
 *                                      (by the filter's default; a kernel without it says ENOSYS too)
 *   probe hold SECONDS NAME...        each NAME in turn, then stays alive SECONDS (so the kernel's
 *                                    records of its calls can be attributed by its pid)
 * Prints "NAME ok" or "NAME errno=N NAME_OF_ERRNO". */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

/* A child that exits at once: fork-like clone and clone3 (no CLONE_VM, same stack). */
static long child_exits(long rc) {
    if (rc == 0) _exit(0);
    if (rc > 0) waitpid((pid_t)rc, NULL, 0);
    return rc;
}

#if defined(__x86_64__)
/* The i386 syscall ABI from a 64-bit process: int $0x80, number in eax, arguments in ebx, ecx, edx. */
static long int80(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}
#endif

static const char *errname(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case ESRCH: return "ESRCH";
    default: return "OTHER";
    }
}

int main(int argc, char **argv) {
    if (argc > 3 && !strcmp(argv[1], "hold")) {
        for (int i = 3; i < argc; i++) { char *one[] = {argv[0], argv[i], NULL}; main(2, one); }
        fflush(stdout);
        sleep((unsigned)atoi(argv[2]));
        return 0;
    }
    if (argc != 2) { fprintf(stderr, "usage: probe status|unshare|keyctl|umount2|bpf|ptrace\n"); return 2; }
    const char *what = argv[1];
    if (strcmp(what, "status") == 0) {
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        while (f && fgets(line, sizeof line, f)) {
            if (!strncmp(line, "Seccomp", 7) || !strncmp(line, "NoNewPrivs", 10)) fputs(line, stdout);
        }
        return 0;
    }
    long rc;
    if (!strcmp(what, "unshare")) rc = syscall(SYS_unshare, 0);
    else if (!strcmp(what, "keyctl")) rc = syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* session */, 0);
    else if (!strcmp(what, "umount2")) rc = syscall(SYS_umount2, "/nonexistent-warden", 0);
    else if (!strcmp(what, "bpf")) rc = syscall(SYS_bpf, -1, NULL, 0);
    else if (!strcmp(what, "ptrace")) rc = syscall(SYS_ptrace, -1, 0, 0, 0);
    else if (!strcmp(what, "clone-userns")) rc = child_exits(syscall(SYS_clone, 0x10000000L | SIGCHLD, 0, 0, 0, 0));
    else if (!strcmp(what, "clone-userns-hi")) rc = child_exits(syscall(SYS_clone, (1L << 32) | 0x10000000L | SIGCHLD, 0, 0, 0, 0));
    else if (!strcmp(what, "clone3-userns")) {
        uint64_t args[11] = {0};
        args[0] = 0x10000000 | 0x40000000; /* flags: CLONE_NEWUSER | CLONE_NEWNET */
        args[4] = SIGCHLD;                 /* exit_signal */
        rc = child_exits(syscall(435, args, sizeof args));
    }
    else if (!strcmp(what, "io_uring_setup")) { char params[120] = {0}; rc = syscall(425, 1, params); }
    else if (!strcmp(what, "keyctl-hi")) rc = syscall(SYS_keyctl, 0x100000000L, -3, 0);
#if defined(__x86_64__)
    else if (!strcmp(what, "keyctl-i386")) { rc = int80(288, 0, -3, 0); if (rc < 0) { errno = (int)-rc; rc = -1; } }
    else if (!strcmp(what, "unshare-i386")) { rc = int80(310, 0, 0, 0); if (rc < 0) { errno = (int)-rc; rc = -1; } }
    else if (!strcmp(what, "keyctl-x32")) rc = syscall(0x40000000L | 250, 0, -3, 0);
#endif
    else if (!strcmp(what, "uffd-ioctl")) rc = syscall(SYS_ioctl, -1, 0xAA00L, 0);
    else if (!strcmp(what, "uffd-ioctl-hi")) rc = syscall(SYS_ioctl, -1, (1L << 32) | 0xAA00L, 0);
    else if (!strcmp(what, "pidfd_getfd")) rc = syscall(438, -1, 0, 0);
    else if (!strcmp(what, "open_tree_attr")) rc = syscall(467, -1, "", 0, NULL, 0);
    else { fprintf(stderr, "probe: unknown syscall %s\n", what); return 2; }
    if (rc >= 0) printf("%s ok\n", what);
    else printf("%s errno=%d %s\n", what, errno, errname(errno));
    fflush(stdout);
    return 0;
}
