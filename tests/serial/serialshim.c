/* SPDX-License-Identifier: MIT */
/* serialshim: an LD_PRELOAD library for the serial-adapter tests only (test-harnesses.md §2.2,
 * §2.4; our own code). It lets a program set parity and data bits on a pty, which Linux ptys
 * refuse, and reports what the program asked for: the tcsetattr(), tcgetattr() and close()
 * of tools/ptyshim/ptyshim_common.h (the $PTYSHIM_LOG line, the parity marker, the read-back of
 * the 8E1 libserialport set), shared with tests/stm32's shim.
 *
 * Modem lines are not emulated here: the rig's umockdev handler answers those ioctls.
 * Build: a shared library with -ldl, no sanitizers (tests/serial/CMakeLists.txt). */
#include "ptyshim_common.h"

/* No per-fd state of its own: nothing to forget when a descriptor closes. */
void ptyshim_closed(int fd)
{
    (void)fd;
}
