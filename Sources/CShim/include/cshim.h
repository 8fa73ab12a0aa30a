#ifndef SECCOMP_WARDEN_CSHIM_H
#define SECCOMP_WARDEN_CSHIM_H
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <seccomp.h>

/* libseccomp's function-like action macros, which Swift cannot import. */
uint32_t sw_act_errno(uint16_t errno_value);
uint32_t sw_act_trace(uint16_t msg);

/* Compiled BPF of a filter context, in memory (libseccomp 2.5 only exports to a fd).
   Returns 0 and a malloc'd buffer, or a negative errno. */
int sw_export_bpf(scmp_filter_ctx ctx, uint8_t **buf, size_t *len);

/* ptrace is variadic in glibc. */
long sw_ptrace(int request, pid_t pid, void *addr, void *data);
/* PTRACE_SECCOMP_GET_FILTER into buf (count instructions of 8 bytes); returns instruction count or -errno. */
long sw_seccomp_get_filter(pid_t pid, unsigned long index, void *buf);

/* ioctl(fd, NS_GET_PARENT): a descriptor for the parent of a PID (or user) namespace, or -errno
   (EPERM above the caller's own namespace). */
int sw_ns_get_parent(int fd);

/* The git commit this binary was built from: install.sh passes -Xcc -DSW_BUILD_COMMIT="..."; a plain
   `swift build` says "unknown". */
const char *sw_build_commit(void);

/* open(2) without the variadic mode. */
int sw_open(const char *path, int flags, mode_t mode);

/* pidfd_open(2) and pidfd_send_signal(2) (no glibc wrappers before 2.36): a descriptor, or -errno. */
int sw_pidfd_open(pid_t pid);
int sw_pidfd_send_signal(int pidfd, int sig);

/* setns(fd, CLONE_NEWNS) (node install restarting the engine from pid 1's mount namespace): 0, or -errno. */
int sw_setns_mount(int fd);
#endif
