#include <jansson.h>
/* fstatfs for WardenJSON (Folder: no fsync on a tmpfs); Swift's Glibc module leaves sys/vfs.h out. */
#include <sys/vfs.h>
