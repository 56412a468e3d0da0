/* SPDX-License-Identifier: MIT */
/* ptyshim: an LD_PRELOAD library that lets a program set parity on a pty, for the stm32flash
 * tests only (test-harnesses.md §2.4, our own code, extended here).
 *
 * Linux ptys force CS8 and clear PARENB; glibc 2.36's tcsetattr() then fails with EINVAL when
 * that was the only change, or silently loses the parity, and stm32flash's own tcgetattr()
 * check fails. This shim remembers what the program asked for per fd and merges it back in
 * tcgetattr(), so 8E1 "sticks". It also leaves a marker in flags the pty driver keeps, so the
 * other end (cwlua-sim-serve, reading the termios through the master) knows the format:
 *   parity requested -> CMSPAR (+ PARODD for odd; mark/space are sent as odd/even),
 *   no parity        -> PARODD alone,
 *   no marker        -> a bare pty (no shim): nothing known about parity.
 * Linux ptys also reject TIOCMGET/TIOCMBIS/TIOCMBIC/TIOCMSET (ENOTTY): they are emulated.
 * With $PTYSHIM_LOG set, every tcsetattr() on a pty is logged there as
 *   fd=<fd> speed=<baud> bits=<5..8> parity=<N|E|O|M|S> stop=<1|2>
 * and modem-line changes as fd=<fd> DTR=<0|1> RTS=<0|1>.
 *
 * Build: a shared library linked with -ldl (tests/stm32/CMakeLists.txt). Use:
 *   LD_PRELOAD=/path/libcwlua_ptyshim.so stm32flash ... /dev/pts/N */
#define _GNU_SOURCE /* RTLD_NEXT */

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#define MASK  (CSIZE | PARENB | PARODD | CMSPAR | CSTOPB)
#define MAXFD 1024

typedef int (*setattr_fn)(int, int, const struct termios *);
typedef int (*getattr_fn)(int, struct termios *);
typedef int (*close_fn)(int);
typedef int (*ioctl_fn)(int, unsigned long, ...);

static tcflag_t virt[MAXFD];
static char have[MAXFD];
static int modem[MAXFD];

/* dlsym returns an object pointer; copy it into a function pointer without a cast ISO C
 * frowns upon. */
static void next_symbol(const char *name, void *fn, size_t size)
{
    void *p = dlsym(RTLD_NEXT, name);
    memcpy(fn, &p, size);
}

static int speed_val(speed_t s)
{
    static const struct {
        speed_t s;
        int v;
    } t[] = {{B0, 0},
             {B1200, 1200},
             {B2400, 2400},
             {B4800, 4800},
             {B9600, 9600},
             {B19200, 19200},
             {B38400, 38400},
             {B57600, 57600},
             {B115200, 115200},
             {B230400, 230400},
             {B460800, 460800},
             {B921600, 921600},
             {B1000000, 1000000},
             {B2000000, 2000000},
             {B4000000, 4000000}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].s == s)
            return t[i].v;
    return -1;
}

static void log_settings(int fd, const struct termios *t)
{
    const char *path = getenv("PTYSHIM_LOG");
    FILE *f = path != NULL ? fopen(path, "a") : NULL;
    if (f == NULL)
        return;
    tcflag_t c = t->c_cflag;
    int bits = (c & CSIZE) == CS5 ? 5 : (c & CSIZE) == CS6 ? 6 : (c & CSIZE) == CS7 ? 7 : 8;
    char par = !(c & PARENB)  ? 'N'
               : (c & CMSPAR) ? ((c & PARODD) ? 'M' : 'S')
                              : ((c & PARODD) ? 'O' : 'E');
    fprintf(f, "fd=%d speed=%d bits=%d parity=%c stop=%d\n", fd, speed_val(cfgetospeed(t)), bits,
            par, (c & CSTOPB) ? 2 : 1);
    fclose(f);
}

/* A raw fstat, so that other preloads cannot fake st_rdev; UNIX98 pty slaves have majors
 * 136..143. */
static int is_pty_slave(int fd)
{
    struct stat st;
    if (fd < 0 || fd >= MAXFD || syscall(SYS_fstat, fd, &st) != 0 || !S_ISCHR(st.st_mode))
        return 0;
    return major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143;
}

int tcsetattr(int fd, int act, const struct termios *t)
{
    static setattr_fn real;
    if (real == NULL)
        next_symbol("tcsetattr", &real, sizeof real);
    if (!is_pty_slave(fd))
        return real(fd, act, t);
    log_settings(fd, t);
    struct termios k = *t;
    k.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CMSPAR);
    k.c_cflag |= CS8;
    if (t->c_cflag & PARENB)
        k.c_cflag |= CMSPAR | (t->c_cflag & PARODD);
    else
        k.c_cflag |= PARODD;
    int r = real(fd, act, &k);
    if (r != 0)
        return r;
    virt[fd] = t->c_cflag & MASK;
    have[fd] = 1;
    return 0;
}

int tcgetattr(int fd, struct termios *t)
{
    static getattr_fn real;
    if (real == NULL)
        next_symbol("tcgetattr", &real, sizeof real);
    int r = real(fd, t);
    if (r == 0 && fd >= 0 && fd < MAXFD && have[fd])
        t->c_cflag = (t->c_cflag & ~(tcflag_t)MASK) | virt[fd];
    return r;
}

int close(int fd)
{
    static close_fn real;
    if (real == NULL)
        next_symbol("close", &real, sizeof real);
    if (fd >= 0 && fd < MAXFD) {
        have[fd] = 0;
        modem[fd] = 0;
    }
    return real(fd);
}

static void log_modem(int fd)
{
    const char *path = getenv("PTYSHIM_LOG");
    FILE *f = path != NULL ? fopen(path, "a") : NULL;
    if (f == NULL)
        return;
    fprintf(f, "fd=%d DTR=%d RTS=%d\n", fd, !!(modem[fd] & TIOCM_DTR), !!(modem[fd] & TIOCM_RTS));
    fclose(f);
}

int ioctl(int fd, unsigned long req, ...)
{
    static ioctl_fn real;
    if (real == NULL)
        next_symbol("ioctl", &real, sizeof real);
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if ((req == TIOCMGET || req == TIOCMBIS || req == TIOCMBIC || req == TIOCMSET) &&
        is_pty_slave(fd)) {
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
