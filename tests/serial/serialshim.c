/* SPDX-License-Identifier: MIT */
/* serialshim: an LD_PRELOAD library for the serial-adapter tests only (test-harnesses.md §2.2,
 * §2.4; our own code). It lets a program set parity and data bits on a pty, which Linux ptys
 * refuse, and reports what the program asked for:
 *
 *   - tcsetattr() on a pty slave: the request is logged to $PTYSHIM_LOG as
 *       fd=<fd> speed=<baud> bits=<5..8> parity=<N|E|O|M|S> stop=<1|2>
 *     then applied with CS8 and no PARENB (what the pty keeps), plus the marker the other end
 *     reads through the master: CMSPAR = parity requested (PARODD: odd; mark/space as odd/
 *     even), PARODD alone = no parity. tests/stm32's shim and cwlua-sim-serve use the same.
 *   - tcgetattr() gives back the requested CSIZE/PARENB/PARODD/CMSPAR/CSTOPB bits, so
 *     libserialport's read-back sees the 8E1 it set.
 *
 * Modem lines are not emulated here: the rig's umockdev handler answers those ioctls.
 * Build: a shared library with -ldl, no sanitizers (tests/serial/CMakeLists.txt). */
#define _GNU_SOURCE /* RTLD_NEXT */

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static tcflag_t wanted[MAXFD];
static char have[MAXFD];

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
    } t[] = {{B0, 0},           {B1200, 1200},     {B2400, 2400},     {B4800, 4800},
             {B9600, 9600},     {B19200, 19200},   {B38400, 38400},   {B57600, 57600},
             {B115200, 115200}, {B230400, 230400}, {B460800, 460800}, {B921600, 921600}};
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

/* A raw fstat, so that umockdev's wrappers cannot fake st_rdev: UNIX98 pty slaves have majors
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
    wanted[fd] = t->c_cflag & MASK;
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
        t->c_cflag = (t->c_cflag & ~(tcflag_t)MASK) | wanted[fd];
    return r;
}

int close(int fd)
{
    static close_fn real;
    if (real == NULL)
        next_symbol("close", &real, sizeof real);
    if (fd >= 0 && fd < MAXFD)
        have[fd] = 0;
    return real(fd);
}
