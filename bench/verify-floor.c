/* The floor for `seccomp-warden verify`: the least work a deep verify must do per process.
 * PTRACE_SEIZE + PTRACE_INTERRUPT + waitpid, PTRACE_SECCOMP_GET_FILTER for index 0, 1, ... until
 * ENOENT (a count call, then the copy), PTRACE_DETACH. No /proc reads, no policy, no emulation.
 * Build: cc -O2 bench/verify-floor.c -o verify-floor
 * Usage: verify-floor PID...   prints "PID: N filters, M instructions" per process. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

int main(int argc, char **argv) {
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        pid_t pid = (pid_t)atoi(argv[i]);
        if (ptrace(PTRACE_SEIZE, pid, 0, 0) != 0) { fprintf(stderr, "%d: seize: %s\n", pid, strerror(errno)); rc = 2; continue; }
        if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) != 0) { fprintf(stderr, "%d: interrupt: %s\n", pid, strerror(errno)); rc = 2; continue; }
        int status;
        if (waitpid(pid, &status, __WALL) != pid) { fprintf(stderr, "%d: waitpid: %s\n", pid, strerror(errno)); rc = 2; continue; }
        long filters = 0, total = 0;
        for (unsigned long idx = 0;; idx++) {
            long n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)idx, NULL);
            if (n < 0) break;
            struct sock_filter *buf = malloc((size_t)n * sizeof *buf);
            if (ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)idx, buf) != n) { free(buf); break; }
            free(buf);
            filters++;
            total += n;
        }
        ptrace(PTRACE_DETACH, pid, 0, 0);
        printf("%d: %ld filters, %ld instructions\n", pid, filters, total);
    }
    return rc;
}
