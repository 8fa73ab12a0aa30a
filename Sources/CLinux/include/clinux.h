#ifndef SECCOMP_WARDEN_CLINUX_H
#define SECCOMP_WARDEN_CLINUX_H
/* Headers Swift's Glibc module leaves out. fstatfs: Folder writes without fsync on a tmpfs. */
#include <sys/vfs.h>
#endif
