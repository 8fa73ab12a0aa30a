/* Verifier evasions, run as a test container's process: each mode leaves the container in a state
 * an earlier `seccomp-warden verify` judged wrongly, prints "evade MODE ready" when it is in place,
 * then sleeps until killed.
 * Build: gcc -static -O2 -pthread evade.c -o evade
 *   evade nosync        a second thread is started, then the main thread alone (no TSYNC) loads a
 *                       strict filter: the second thread keeps the runtime's filter (or none)
 *   evade leader-exit   a second thread is started, then the main thread pthread_exit()s: the
 *                       leader is a zombie, the thread lives on with the runtime's filter
 *   evade trace-init    a child PTRACE_ATTACHes pid 1 (which allows it with PR_SET_PTRACER), then
 *                       loads a strict filter itself: pid 1 cannot be seized by anyone else
 *   evade ip-zero       loads a filter that denies every call made from instruction pointer 0 and
 *                       allows all others (every real call)
 *   evade nested-pidns  a child unshares a PID namespace and forks a grandchild there, which keeps
 *                       the runtime's filter (or none); the child and pid 1 then load the strict
 *                       filter (needs CAP_SYS_ADMIN in the container)
 *   evade computed      loads a filter whose answer is computed from the input (arch + k, which is
 *                       ALLOW for x86_64): nothing a path walk can decide
 *   evade late-thread   on SIGUSR1 the main thread starts a second thread, then loads the strict
 *                       filter alone (no TSYNC) and prints "evade late-thread done": a thread that
 *                       appears after a verifier listed the threads, made by one that then looks strict
 *   evade churn         threads and processes are created and exit all the time (the verifier must
 *                       neither hang nor miss the long-lived ones)
 *   evade strict        pid 1 loads the strict filter with TSYNC (every thread), a positive control
 * The strict filter: x86_64 only (other architectures and x32 numbers are killed), pause,
 * rt_sigreturn, restart_syscall, wait4, exit, exit_group, write, nanosleep, clock_nanosleep,
 * rt_sigprocmask, futex, munmap, madvise allowed, everything else EPERM. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ALLOW_NR(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static struct sock_filter strict_insns[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    ALLOW_NR(SYS_pause),
    ALLOW_NR(SYS_rt_sigreturn),
    ALLOW_NR(SYS_restart_syscall),
    ALLOW_NR(SYS_wait4),
    ALLOW_NR(SYS_exit),
    ALLOW_NR(SYS_exit_group),
    ALLOW_NR(SYS_write),
    ALLOW_NR(SYS_nanosleep),
    ALLOW_NR(SYS_clock_nanosleep),
    ALLOW_NR(SYS_rt_sigprocmask),
    ALLOW_NR(SYS_futex),
    ALLOW_NR(SYS_munmap),
    ALLOW_NR(SYS_madvise),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
};

/* Denies (EPERM) only when both halves of the instruction pointer are 0: never, for a real call. */
static struct sock_filter ipzero_insns[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

/* Returns arch + k: ALLOW (0x7fff0000) for AUDIT_ARCH_X86_64 (0xc000003e). */
static struct sock_filter computed_insns[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 0xbffeffc2),
    BPF_STMT(BPF_RET | BPF_A, 0),
};

static void load(struct sock_filter *insns, unsigned short len, unsigned int flags, const char *what) {
    struct sock_fprog prog = {.len = len, .filter = insns};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("evade: PR_SET_NO_NEW_PRIVS"); exit(1); }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) != 0) {
        fprintf(stderr, "evade: seccomp(%s): %s\n", what, strerror(errno));
        exit(1);
    }
}

static void strict(unsigned int flags) {
    load(strict_insns, sizeof strict_insns / sizeof strict_insns[0], flags, "strict");
}

static void ready(const char *mode) {
    printf("evade %s ready\n", mode);
    fflush(stdout);
}

static void forever(void) {
    for (;;) pause();
}

static volatile int sleeper_started;

static void *sleeper(void *arg) {
    (void)arg;
    sleeper_started = 1;
    forever();
    return NULL;
}

/* Starts a thread that sleeps, and returns once it is asleep (past its start-up calls). */
static void second_thread(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, sleeper, NULL) != 0) { fprintf(stderr, "evade: pthread_create failed\n"); exit(1); }
    struct timespec ts = {0, 1000 * 1000};
    while (!sleeper_started) nanosleep(&ts, NULL);
    ts.tv_nsec = 50 * 1000 * 1000;
    nanosleep(&ts, NULL);
}

static void *short_thread(void *arg) {
    (void)arg;
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return NULL;
}

static int trace_init(void) {
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    pid_t child = fork();
    if (child < 0) { perror("evade: fork"); return 1; }
    if (child > 0) {
        forever();  /* pid 1: sleeps, traced by its child */
    }
    pid_t target = getppid();
    if (ptrace(PTRACE_ATTACH, target, 0, 0) != 0) {
        printf("evade trace-init: PTRACE_ATTACH %d: %s\n", target, strerror(errno));
        fflush(stdout);
        ready("trace-init");
        forever();
    }
    /* PTRACE_ATTACH sends SIGSTOP; continue pid 1 once it stopped (give it a second). */
    int status;
    for (int i = 0; i < 100; i++) {
        if (waitpid(target, &status, __WALL | WNOHANG) == target) { ptrace(PTRACE_CONT, target, 0, 0); break; }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    printf("evade trace-init: attached to %d\n", target);
    strict(0);
    ready("trace-init");
    for (;;) {
        /* The tracee is never stopped again for long: a stop is answered with a continue, but the
         * strict filter denies ptrace, so the tracer only reaps and waits. */
        if (waitpid(-1, &status, __WALL) < 0) forever();
    }
}

static int nested_pidns(void) {
    int ready_pipe[2];
    if (pipe(ready_pipe) != 0) { perror("evade: pipe"); return 1; }
    pid_t child = fork();
    if (child < 0) { perror("evade: fork"); return 1; }
    if (child == 0) {
        /* Under a filter that denies unshare the evasion cannot be set up: say so and carry on without it. */
        if (unshare(CLONE_NEWPID) != 0) {
            printf("evade nested-pidns: unshare(CLONE_NEWPID): %s\n", strerror(errno));
            fflush(stdout);
        } else {
            pid_t grandchild = fork();
            if (grandchild < 0) { perror("evade: fork in the new PID namespace"); exit(1); }
            if (grandchild == 0) forever();  /* pid 1 of the nested namespace, with the runtime's filter */
        }
        strict(0);
        if (write(ready_pipe[1], "x", 1) != 1) exit(1);
        for (;;) waitpid(-1, NULL, 0);
    }
    char c;
    if (read(ready_pipe[0], &c, 1) != 1) { fprintf(stderr, "evade: the child failed\n"); return 1; }
    strict(SECCOMP_FILTER_FLAG_TSYNC);
    ready("nested-pidns");
    for (;;) waitpid(-1, NULL, 0);
}

static volatile sig_atomic_t usr1;
static void on_usr1(int sig) { (void)sig; usr1 = 1; }

static int late_thread(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    /* The mask is inherited through the runtime from whoever started it (a test runner may block it). */
    sigset_t usr1set;
    sigemptyset(&usr1set);
    sigaddset(&usr1set, SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &usr1set, NULL);
    ready("late-thread");
    while (!usr1) pause();
    second_thread();
    strict(0);
    printf("evade late-thread done\n");
    fflush(stdout);
    forever();
    return 0;
}

static int churn(void) {
    ready("churn");
    for (;;) {
        pthread_t t;
        if (pthread_create(&t, NULL, short_thread, NULL) == 0) pthread_detach(t);
        pid_t p = fork();
        if (p == 0) {
            struct timespec ts = {0, 3 * 1000 * 1000};
            nanosleep(&ts, NULL);
            _exit(0);
        }
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: evade nosync|leader-exit|trace-init|ip-zero|nested-pidns|computed|late-thread|churn|strict\n");
        return 2;
    }
    const char *mode = argv[1];
    if (!strcmp(mode, "nosync")) {
        second_thread();
        strict(0);
        ready(mode);  /* write is one of the calls the strict filter allows */
        forever();
    } else if (!strcmp(mode, "leader-exit")) {
        second_thread();
        ready(mode);
        pthread_exit(NULL);
    } else if (!strcmp(mode, "trace-init")) {
        return trace_init();
    } else if (!strcmp(mode, "ip-zero")) {
        load(ipzero_insns, sizeof ipzero_insns / sizeof ipzero_insns[0], SECCOMP_FILTER_FLAG_TSYNC, "ip-zero");
        ready(mode);
        forever();
    } else if (!strcmp(mode, "nested-pidns")) {
        return nested_pidns();
    } else if (!strcmp(mode, "computed")) {
        load(computed_insns, sizeof computed_insns / sizeof computed_insns[0], SECCOMP_FILTER_FLAG_TSYNC, "computed");
        ready(mode);
        forever();
    } else if (!strcmp(mode, "late-thread")) {
        return late_thread();
    } else if (!strcmp(mode, "churn")) {
        return churn();
    } else if (!strcmp(mode, "strict")) {
        second_thread();
        strict(SECCOMP_FILTER_FLAG_TSYNC);
        ready(mode);
        forever();
    }
    fprintf(stderr, "evade: unknown mode %s\n", mode);
    return 2;
}
