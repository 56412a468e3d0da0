/* SPDX-License-Identifier: MIT */
/* libcwsim state folder (contract.md §5 --sim-state DIR, default $XDG_STATE_HOME/cwlua/sim):
 * what must outlive a run (chip memories and protection) as named blobs,
 * written atomically, in a folder locked with an exclusive flock while a simulator uses it. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* flock() */
#endif

#include "sim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_NAME   "lock"
#define FORMAT_NAME "format"
#define FORMAT_TEXT "cwlua simulator state 1\n"

int cwsim_state_default_dir(char *buf, size_t len, char *err, size_t errlen)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    int n;
    if (xdg != NULL && xdg[0] == '/') { /* XDG: relative values are ignored */
        n = snprintf(buf, len, "%s/cwlua/sim", xdg);
    } else {
        const char *home = getenv("HOME");
        if (home == NULL || home[0] == '\0') {
            sim_err(err, errlen,
                    "cwsim: no state folder: neither XDG_STATE_HOME nor HOME is set; pass "
                    "--sim-state DIR");
            return -1;
        }
        n = snprintf(buf, len, "%s/.local/state/cwlua/sim", home);
    }
    if (n < 0 || (size_t)n >= len) {
        sim_err(err, errlen, "cwsim: state folder path too long");
        return -1;
    }
    return 0;
}

static int mkdir_p(const char *path, char *err, size_t errlen)
{
    size_t n = strlen(path);
    char *p = malloc(n + 1);
    if (p == NULL) {
        sim_err(err, errlen, "cwsim: out of memory");
        return -1;
    }
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            sim_err(err, errlen, "cwsim: cannot create state folder %s (%s)", p, strerror(errno));
            free(p);
            return -1;
        }
        p[i] = c;
    }
    free(p);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        sim_err(err, errlen, "cwsim: state folder %s is not a directory", path);
        return -1;
    }
    return 0;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int cwsim_state_open(cwsim *sim, const char *dir, char *err, size_t errlen)
{
    char def[4096];
    if (dir == NULL) {
        if (cwsim_state_default_dir(def, sizeof def, err, errlen) != 0)
            return -1;
        dir = def;
    }
    if (dir[0] == '\0') {
        sim_err(err, errlen, "cwsim: empty state folder name");
        return -1;
    }
    cwsim_state_close(sim);
    if (mkdir_p(dir, err, errlen) != 0)
        return -1;
    char *lock = join(dir, LOCK_NAME);
    if (lock == NULL) {
        sim_err(err, errlen, "cwsim: out of memory");
        return -1;
    }
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        sim_err(err, errlen, "cwsim: cannot open %s (%s)", lock, strerror(errno));
        free(lock);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t r = pread(fd, pid, sizeof pid - 1, 0);
        if (r > 0) {
            pid[r] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
        }
        if (e == EWOULDBLOCK)
            sim_err(err, errlen,
                    "cwsim: state folder %s is in use by another simulator (pid %s); wait for "
                    "it to finish or pass another --sim-state folder",
                    dir, pid[0] ? pid : "?");
        else
            sim_err(err, errlen, "cwsim: cannot lock %s (%s)", lock, strerror(e));
        close(fd);
        free(lock);
        return -1;
    }
    free(lock);
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || write_all(fd, pid, (size_t)n) != 0) {
        sim_err(err, errlen, "cwsim: cannot write the lock file in %s (%s)", dir, strerror(errno));
        close(fd);
        return -1;
    }
    sim->state_dir = malloc(strlen(dir) + 1);
    if (sim->state_dir == NULL) {
        sim_err(err, errlen, "cwsim: out of memory");
        close(fd);
        return -1;
    }
    strcpy(sim->state_dir, dir);
    sim->state_fd = fd;
    void *old = NULL;
    size_t oldlen = 0;
    int r = cwsim_state_load(sim, FORMAT_NAME, &old, &oldlen, err, errlen);
    free(old);
    if (r == 1 &&
        cwsim_state_save(sim, FORMAT_NAME, FORMAT_TEXT, strlen(FORMAT_TEXT), err, errlen) != 0) {
        cwsim_state_close(sim);
        return -1;
    }
    if (r < 0) {
        cwsim_state_close(sim);
        return -1;
    }
    return 0;
}

void cwsim_state_close(cwsim *sim)
{
    if (sim->state_fd >= 0)
        close(sim->state_fd); /* releases the flock */
    sim->state_fd = -1;
    free(sim->state_dir);
    sim->state_dir = NULL;
}

const char *cwsim_state_dir(const cwsim *sim)
{
    return sim->state_dir;
}

static int name_ok(const char *name)
{
    if (name == NULL || name[0] == '\0' || name[0] == '.' || strlen(name) > 200)
        return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return strcmp(name, LOCK_NAME) != 0;
}

static int check(cwsim *sim, const char *name, char *err, size_t errlen)
{
    if (sim->state_dir == NULL) {
        sim_err(err, errlen, "cwsim: no state folder is open");
        return -1;
    }
    if (!name_ok(name)) {
        sim_err(err, errlen,
                "cwsim: bad state name '%s'; use letters, digits, '.', '_' and '-', not "
                "starting with '.'",
                name ? name : "(null)");
        return -1;
    }
    return 0;
}

int cwsim_state_save(cwsim *sim, const char *name, const void *data, size_t len, char *err,
                     size_t errlen)
{
    if (check(sim, name, err, errlen) != 0)
        return -1;
    char *path = join(sim->state_dir, name);
    size_t tn = strlen(sim->state_dir) + strlen(name) + 40;
    char *tmp = malloc(tn);
    if (path == NULL || tmp == NULL) {
        free(path);
        free(tmp);
        sim_err(err, errlen, "cwsim: out of memory");
        return -1;
    }
    snprintf(tmp, tn, "%s/.%s.%ld.tmp", sim->state_dir, name, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    int ok = fd >= 0 && write_all(fd, data, len) == 0 && fsync(fd) == 0;
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        sim_err(err, errlen, "cwsim: cannot write %s (%s)", path, strerror(e));
    }
    free(path);
    free(tmp);
    return ok ? 0 : -1;
}

int cwsim_state_load(cwsim *sim, const char *name, void **data, size_t *len, char *err,
                     size_t errlen)
{
    *data = NULL;
    *len = 0;
    if (check(sim, name, err, errlen) != 0)
        return -1;
    char *path = join(sim->state_dir, name);
    if (path == NULL) {
        sim_err(err, errlen, "cwsim: out of memory");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            free(path);
            return 1;
        }
        sim_err(err, errlen, "cwsim: cannot read %s (%s)", path, strerror(e));
        free(path);
        return -1;
    }
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    int ok = fstat(fd, &st) == 0 && st.st_size >= 0;
    if (ok) {
        size_t cap = (size_t)st.st_size;
        buf = malloc(cap ? cap : 1);
        ok = buf != NULL;
        while (ok && got < cap) {
            ssize_t r = read(fd, buf + got, cap - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                ok = r == 0; /* the file shrank: keep what was read */
                break;
            }
            got += (size_t)r;
        }
    }
    int e = errno;
    close(fd);
    if (!ok) {
        free(buf);
        sim_err(err, errlen, "cwsim: cannot read %s (%s)", path, strerror(e));
        free(path);
        return -1;
    }
    free(path);
    *data = buf;
    *len = got;
    return 0;
}

int cwsim_state_remove(cwsim *sim, const char *name, char *err, size_t errlen)
{
    if (check(sim, name, err, errlen) != 0)
        return -1;
    char *path = join(sim->state_dir, name);
    if (path == NULL) {
        sim_err(err, errlen, "cwsim: out of memory");
        return -1;
    }
    int r = 0;
    if (unlink(path) != 0 && errno != ENOENT) {
        sim_err(err, errlen, "cwsim: cannot remove %s (%s)", path, strerror(errno));
        r = -1;
    }
    free(path);
    return r;
}
