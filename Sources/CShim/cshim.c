#define _GNU_SOURCE
#include "cshim.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

uint32_t sw_act_errno(uint16_t errno_value) { return SCMP_ACT_ERRNO(errno_value); }
uint32_t sw_act_trace(uint16_t msg) { return SCMP_ACT_TRACE(msg); }

int sw_export_bpf(scmp_filter_ctx ctx, uint8_t **buf, size_t *len) {
    int fd = memfd_create("seccomp-warden-bpf", MFD_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0) { close(fd); return rc; }
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0) { rc = -errno; close(fd); return rc; }
    uint8_t *out = malloc(size > 0 ? (size_t)size : 1);
    if (!out) { close(fd); return -ENOMEM; }
    size_t done = 0;
    while (done < (size_t)size) {
        ssize_t n = pread(fd, out + done, (size_t)size - done, (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { rc = n < 0 ? -errno : -EIO; free(out); close(fd); return rc; }
        done += (size_t)n;
    }
    close(fd);
    *buf = out;
    *len = done;
    return 0;
}

long sw_ptrace(int request, pid_t pid, void *addr, void *data) {
    long rc = ptrace((enum __ptrace_request)request, pid, addr, data);
    return rc < 0 ? -errno : rc;
}

long sw_seccomp_get_filter(pid_t pid, unsigned long index, void *buf) {
    long rc = ptrace((enum __ptrace_request)PTRACE_SECCOMP_GET_FILTER, pid, (void *)index, buf);
    return rc < 0 ? -errno : rc;
}

int sw_open(const char *path, int flags, mode_t mode) {
    int fd;
    do { fd = open(path, flags, mode); } while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

int sw_ns_get_parent(int fd) {
    int rc = ioctl(fd, NS_GET_PARENT);
    return rc < 0 ? -errno : rc;
}

int sw_pidfd_open(pid_t pid) {
    long rc = syscall(SYS_pidfd_open, pid, 0);
    return rc < 0 ? -errno : (int)rc;
}

int sw_pidfd_send_signal(int pidfd, int sig) {
    long rc = syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
    return rc < 0 ? -errno : 0;
}

const char *sw_build_commit(void) {
#ifdef SW_BUILD_COMMIT
    return SW_BUILD_COMMIT;
#else
    return "unknown";
#endif
}

int sw_setns_mount(int fd) {
    return setns(fd, CLONE_NEWNS) == 0 ? 0 : -errno;
}
