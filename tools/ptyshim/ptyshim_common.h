/* SPDX-License-Identifier: MIT */
/* What the LD_PRELOAD termios shims share (tools/simadapter/shim.c, which `cwlua sim adapter`
 * preloads into the program it runs; tests/serial/serialshim.c for the serial-adapter tests,
 * tests/stm32/ptyshim.c for stm32flash; test-harnesses.md §2.2, §2.4; our own code): parity
 * and data bits that "stick" on a pty, which Linux ptys refuse (they force CS8 and clear
 * PARENB).
 *
 * ptyshim_common.c defines, for the shim it is linked into:
 *   - tcsetattr() on a pty slave: the request is logged to $PTYSHIM_LOG as
 *       fd=<fd> speed=<baud> bits=<5..8> parity=<N|E|O|M|S> stop=<1|2>
 *     then applied with CS8 and no PARENB (what the pty keeps), plus a marker in flags the
 *     pty driver keeps, so the other end (cwlua-sim-serve, reading the termios through the
 *     master) knows the format:
 *       parity requested -> CMSPAR (+ PARODD for odd; mark/space are sent as odd/even),
 *       no parity        -> PARODD alone,
 *       no marker        -> a bare pty (no shim): nothing known about parity.
 *   - tcgetattr() gives back the requested CSIZE/PARENB/PARODD/CMSPAR/CSTOPB bits, so the
 *     program's read-back (libserialport's, stm32flash's) sees the 8E1 it set.
 *   - close() forgets what was asked for the fd and calls ptyshim_closed(fd), which each
 *     shim defines for its own per-fd state.
 * Other descriptors pass through to the next definition (the C library, or another preload
 * such as umockdev's). */
#ifndef CWLUA_TOOLS_PTYSHIM_PTYSHIM_COMMON_H
#define CWLUA_TOOLS_PTYSHIM_PTYSHIM_COMMON_H

#include <stddef.h>

#define PTYSHIM_MAXFD 1024 /* descriptors tracked; higher ones are never taken for a pty */
/* The helpers stay inside each shim: it exports only the functions it stands in for. */
#define PTYSHIM_HIDDEN __attribute__((visibility("hidden")))

/* Store the next definition of name after this library (dlsym RTLD_NEXT) into *fn, a function
 * pointer of size bytes. */
PTYSHIM_HIDDEN void ptyshim_next_symbol(const char *name, void *fn, size_t size);
/* Whether fd is a UNIX98 pty slave (and below PTYSHIM_MAXFD). */
PTYSHIM_HIDDEN int ptyshim_is_pty_slave(int fd);
/* Append one line to $PTYSHIM_LOG; nothing when it is unset or cannot be opened. */
PTYSHIM_HIDDEN void ptyshim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Defined by each shim: fd (below PTYSHIM_MAXFD) is being closed, forget its state. */
PTYSHIM_HIDDEN void ptyshim_closed(int fd);

#endif
