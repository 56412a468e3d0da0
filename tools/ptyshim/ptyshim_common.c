/* SPDX-License-Identifier: MIT */
/* The termios half the pty shims share: tcsetattr(), tcgetattr() and close() as
 * ptyshim_common.h describes them, and the helpers each shim builds on. */
#define _GNU_SOURCE /* RTLD_NEXT */

#include "ptyshim_common.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#define MASK (CSIZE | PARENB | PARODD | CMSPAR | CSTOPB)

typedef int (*setattr_fn)(int, int, const struct termios *);
typedef int (*getattr_fn)(int, struct termios *);
typedef int (*close_fn)(int);

static tcflag_t wanted[PTYSHIM_MAXFD]; /* the CSIZE/parity/stop bits the program asked for */
static char have[PTYSHIM_MAXFD];       /* wanted[fd] is set */

/* dlsym returns an object pointer; copy it into a function pointer without a cast ISO C
 * frowns upon. */
void ptyshim_next_symbol(const char *name, void *fn, size_t size)
{
    void *p = dlsym(RTLD_NEXT, name);
    memcpy(fn, &p, size);
}

/* A raw fstat, so that other preloads (umockdev's wrappers) cannot fake st_rdev; UNIX98 pty
 * slaves have majors 136..143. */
int ptyshim_is_pty_slave(int fd)
{
    struct stat st;
    if (fd < 0 || fd >= PTYSHIM_MAXFD || syscall(SYS_fstat, fd, &st) != 0 || !S_ISCHR(st.st_mode))
        return 0;
    return major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143;
}

void ptyshim_log(const char *fmt, ...)
{
    const char *path = getenv("PTYSHIM_LOG");
    FILE *f = path != NULL ? fopen(path, "a") : NULL;
    if (f == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
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
    tcflag_t c = t->c_cflag;
    int bits = (c & CSIZE) == CS5 ? 5 : (c & CSIZE) == CS6 ? 6 : (c & CSIZE) == CS7 ? 7 : 8;
    char par = !(c & PARENB)  ? 'N'
               : (c & CMSPAR) ? ((c & PARODD) ? 'M' : 'S')
                              : ((c & PARODD) ? 'O' : 'E');
    ptyshim_log("fd=%d speed=%d bits=%d parity=%c stop=%d\n", fd, speed_val(cfgetospeed(t)), bits,
                par, (c & CSTOPB) ? 2 : 1);
}

int tcsetattr(int fd, int act, const struct termios *t)
{
    static setattr_fn real;
    if (real == NULL)
        ptyshim_next_symbol("tcsetattr", &real, sizeof real);
    if (!ptyshim_is_pty_slave(fd))
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
        ptyshim_next_symbol("tcgetattr", &real, sizeof real);
    int r = real(fd, t);
    if (r == 0 && fd >= 0 && fd < PTYSHIM_MAXFD && have[fd])
        t->c_cflag = (t->c_cflag & ~(tcflag_t)MASK) | wanted[fd];
    return r;
}

int close(int fd)
{
    static close_fn real;
    if (real == NULL)
        ptyshim_next_symbol("close", &real, sizeof real);
    if (fd >= 0 && fd < PTYSHIM_MAXFD) {
        have[fd] = 0;
        ptyshim_closed(fd);
    }
    return real(fd);
}
