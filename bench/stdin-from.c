/* stdin-from FILE [CMD ARGS...]: runs CMD (an absolute path) with FILE as its stdin, for hyperfine -N
 * (Debian's hyperfine 1.15 has no --input, and a shell's start, which hyperfine subtracts, is noisy
 * on a busy machine). Without CMD it opens FILE and exits: its own cost, which bench/report.py
 * subtracts from the commands run through it.
 * Build: cc -O2 -static stdin-from.c -o stdin-from */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs("usage: stdin-from FILE [CMD ARGS...]\n", stderr);
        return 64;
    }
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror(argv[1]); return 66; }
    if (dup2(fd, 0) < 0) { perror("dup2"); return 71; }  /* the copy on 0 is not close-on-exec */
    if (argc == 2) return 0;
    execv(argv[2], argv + 2);
    perror(argv[2]);
    return 127;
}
