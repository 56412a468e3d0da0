/* SPDX-License-Identifier: MIT */
/* ptyshim: an LD_PRELOAD library that lets a program set parity on a pty, for the stm32flash
 * tests only (test-harnesses.md §2.4, our own code, extended here).
 *
 * Linux ptys force CS8 and clear PARENB; glibc 2.36's tcsetattr() then fails with EINVAL when
 * that was the only change, or silently loses the parity, and stm32flash's own tcgetattr()
 * check fails. The shared part (tools/ptyshim/ptyshim_common.h, also in tests/serial's shim)
 * remembers what the program asked for per fd and merges it back in tcgetattr(), so 8E1
 * "sticks", leaves the parity marker cwlua-sim-serve reads through the master, and logs every
 * tcsetattr() on a pty to $PTYSHIM_LOG.
 * Linux ptys also reject TIOCMGET/TIOCMBIS/TIOCMBIC/TIOCMSET (ENOTTY): they are emulated here,
 * and with $PTYSHIM_LOG set, modem-line changes are logged as fd=<fd> DTR=<0|1> RTS=<0|1>.
 *
 * Build: a shared library linked with -ldl (tests/stm32/CMakeLists.txt). Use:
 *   LD_PRELOAD=/path/libcwlua_ptyshim.so stm32flash ... /dev/pts/N */
#include "ptyshim_common.h"

#include <stdarg.h>
#include <sys/ioctl.h>

typedef int (*ioctl_fn)(int, unsigned long, ...);

static int modem[PTYSHIM_MAXFD]; /* TIOCM_* lines the program set */

void ptyshim_closed(int fd)
{
    modem[fd] = 0;
}

static void log_modem(int fd)
{
    ptyshim_log("fd=%d DTR=%d RTS=%d\n", fd, !!(modem[fd] & TIOCM_DTR), !!(modem[fd] & TIOCM_RTS));
}

int ioctl(int fd, unsigned long req, ...)
{
    static ioctl_fn real;
    if (real == NULL)
        ptyshim_next_symbol("ioctl", &real, sizeof real);
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if ((req == TIOCMGET || req == TIOCMBIS || req == TIOCMBIC || req == TIOCMSET) &&
        ptyshim_is_pty_slave(fd)) {
        int *v = arg;
        switch (req) {
        case TIOCMGET:
            *v = modem[fd] | TIOCM_CTS | TIOCM_DSR | TIOCM_CAR;
            return 0;
        case TIOCMBIS:
            modem[fd] |= *v;
            break;
        case TIOCMBIC:
            modem[fd] &= ~*v;
            break;
        default:
            modem[fd] = *v;
            break;
        }
        log_modem(fd);
        return 0;
    }
    return real(fd, req, arg);
}
