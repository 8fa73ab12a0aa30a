/* A probe run inside test containers: makes one syscall and prints what the kernel answered.
 * Build: gcc -static -O2 probe.c -o probe
 *   probe status          the Seccomp, Seccomp_filters and NoNewPrivs lines of /proc/self/status
 *   probe NAME            one baseline-denied syscall, harmless either way:
 *                         unshare(0), keyctl(GET_KEYRING_ID, session), umount2 of a missing path,
 *                         bpf with a bad command, ptrace with a bad request
 * Prints "NAME ok" or "NAME errno=N NAME_OF_ERRNO". */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

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
    else { fprintf(stderr, "probe: unknown syscall %s\n", what); return 2; }
    if (rc >= 0) printf("%s ok\n", what);
    else printf("%s errno=%d %s\n", what, errno, errname(errno));
    fflush(stdout);
    return 0;
}
