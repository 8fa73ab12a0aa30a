/* Loads a seccomp BPF program and asks the kernel for its answer on many calls.
 * Build: gcc -static -O2 bpfrun.c -o bpfrun
 *   bpfrun FILTER.bpf < CALLS    FILTER: struct sock_filter[] as bytes; CALLS: lines "nr a0 a1 a2 a3 a4 a5" (hex)
 * For each line prints "ok" or "errno=N". Only for filters whose actions are ALLOW and ERRNO, on
 * syscalls that ignore their arguments (getpid, getppid, getuid): the errno tells which rule matched. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: bpfrun FILTER.bpf < CALLS\n"); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    static struct sock_filter prog[4096];
    size_t n = fread(prog, sizeof prog[0], 4096, f);
    fclose(f);
    /* Read every call first: the filter may deny read(2) itself. */
    static unsigned long calls[100000][7];
    size_t count = 0;
    while (count < 100000 && scanf("%lx %lx %lx %lx %lx %lx %lx", &calls[count][0], &calls[count][1], &calls[count][2],
                                   &calls[count][3], &calls[count][4], &calls[count][5], &calls[count][6]) == 7) count++;
    static char out[100000 * 12];
    size_t used = 0;
    struct sock_fprog fp = { .len = (unsigned short)n, .filter = prog };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) != 0) {
        perror("seccomp"); return 3;
    }
    for (size_t i = 0; i < count; i++) {
        long rc = syscall(calls[i][0], calls[i][1], calls[i][2], calls[i][3], calls[i][4], calls[i][5], calls[i][6]);
        used += (size_t)(rc >= 0 ? sprintf(out + used, "ok\n") : sprintf(out + used, "errno=%d\n", errno));
    }
    /* write(2) and exit_group(2) must be allowed by the filter (the test's profiles allow them). */
    ssize_t w = write(1, out, used);
    return w == (ssize_t)used ? 0 : 4;
}
