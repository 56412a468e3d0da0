/* SPDX-License-Identifier: MIT */
/* eacces_shim.so: make opening a USB device node for writing fail with EACCES, as it does on a
 * machine without cwlua's udev rule (the node is root's, mode 0664 or 0644). Test-only: loaded
 * with LD_PRELOAD *before* umockdev's preload library, under `cwlua sim attach`, which cannot
 * model file permissions itself (umockdev's preload opens emulated nodes whatever their mode).
 *
 *   LD_PRELOAD="$PWD/eacces_shim.so $LD_PRELOAD" cwlua list
 *
 * Every other open goes on to the next library (umockdev's, then libc). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/types.h>

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);

int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);

static int refused(const char *path, int flags)
{
    return path != NULL && strncmp(path, "/dev/bus/usb/", 13) == 0 &&
           (flags & O_ACCMODE) != O_RDONLY;
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

/* dlsym returns an object pointer; POSIX guarantees it converts to a function pointer, ISO C
 * does not, so copy the bits (the POSIX dlsym rationale's own idiom). */
static void next_symbol(const char *name, void *fn, size_t size)
{
    void *p = dlsym(RTLD_NEXT, name);
    memcpy(fn, &p, size);
}

#define WRAP_OPEN(name)                                                                            \
    int name(const char *path, int flags, ...)                                                     \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode_t mode = mode_arg(flags, ap);                                                         \
        va_end(ap);                                                                                \
        if (refused(path, flags)) {                                                                \
            errno = EACCES;                                                                        \
            return -1;                                                                             \
        }                                                                                          \
        open_fn next;                                                                              \
        next_symbol(#name, &next, sizeof next);                                                    \
        return next(path, flags, mode);                                                            \
    }

#define WRAP_OPENAT(name)                                                                          \
    int name(int dirfd, const char *path, int flags, ...)                                          \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode_t mode = mode_arg(flags, ap);                                                         \
        va_end(ap);                                                                                \
        if (refused(path, flags)) {                                                                \
            errno = EACCES;                                                                        \
            return -1;                                                                             \
        }                                                                                          \
        openat_fn next;                                                                            \
        next_symbol(#name, &next, sizeof next);                                                    \
        return next(dirfd, path, flags, mode);                                                     \
    }

/* glibc's _FORTIFY_SOURCE entry points, which libusb calls for a variable flags argument */
#define WRAP_OPEN2(name)                                                                           \
    int name(const char *path, int flags)                                                          \
    {                                                                                              \
        if (refused(path, flags)) {                                                                \
            errno = EACCES;                                                                        \
            return -1;                                                                             \
        }                                                                                          \
        open2_fn next;                                                                             \
        next_symbol(#name, &next, sizeof next);                                                    \
        return next(path, flags);                                                                  \
    }

WRAP_OPEN(open)
WRAP_OPEN(open64)
WRAP_OPENAT(openat)
WRAP_OPENAT(openat64)
WRAP_OPEN2(__open_2)
WRAP_OPEN2(__open64_2)
