/* SPDX-License-Identifier: MIT */
/* The LD_PRELOAD library `cwlua sim adapter` puts into the program it runs, after umockdev's
 * (tools/simadapter/main.c). The adapter's tty is a pseudo-terminal underneath, and Linux ptys
 * refuse parity and data bits: glibc's tcsetattr() then fails with EINVAL or drops the parity,
 * and a program that reads its settings back (cwlua's libserialport backend, stm32flash) sees
 * that the port did not take 8E1. The termios half of tools/ptyshim/ptyshim_common.h makes the
 * settings stick for the program and leaves a marker in the pty's flags, from which the helper
 * learns the frame format the chip must see (our own code; test-harnesses.md §2.2, §2.4).
 *
 * The modem lines (DTR, RTS, break) are not emulated here: the helper's umockdev ioctl handler
 * answers those, which is how the chip's nRST and BOOT0 follow them. */
#include "ptyshim_common.h"

/* No per-fd state of its own: nothing to forget when a descriptor closes. */
void ptyshim_closed(int fd)
{
    (void)fd;
}
