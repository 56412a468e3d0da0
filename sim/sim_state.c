/* SPDX-License-Identifier: MIT */
/* libcwsim state folder (contract.md §5 --sim-state DIR, default $XDG_STATE_HOME/cwlua/sim):
 * what must outlive a run (chip memories and protection) as named blobs,
 * written atomically, in a folder locked with an exclusive flock while a simulator uses it. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* flock() */
#endif

#include "sim_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOCK_NAME      "lock"
#define BOARDS_NAME    "boards" /* the state folders of boards with serials of their own */
#define FORMAT_NAME    "format"
#define FORMAT_PREFIX  "cwlua simulator state "
#define FORMAT_VERSION 1
#define FORMAT_TEXT    "cwlua simulator state 1\n"

/* How long a second simulator waits to read the pid of the one holding the lock: the holder
 * writes it right after taking the lock, so only a descheduled holder takes longer. */
#define PID_WAIT_NS  1000000000L
#define PID_RETRY_NS 1000000L

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

static int pwrite_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    off_t off = 0;
    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        off += (off_t)w;
        len -= (size_t)w;
    }
    return 0;
}

/* The pid in a lock file: a whole "DIGITS\n" line of a process that exists, else 0 (the holder
 * has not written it yet, or the line is a dead holder's). *seen gets any whole pid line, so a
 * holder that kill() cannot see (another pid namespace) is still named in the end. */
static long lock_pid(int fd, long *seen)
{
    char buf[32];
    ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
    if (r <= 0)
        return 0;
    buf[r] = '\0';
    size_t digits = strspn(buf, "0123456789");
    if (digits == 0 || digits > 10 || buf[digits] != '\n')
        return 0;
    long pid = strtol(buf, NULL, 10);
    if (pid <= 0)
        return 0;
    *seen = pid;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return 0;
    return pid;
}

/* An exclusive flock on the lock file. When another simulator holds it, its pid goes in the
 * message: the holder writes it just after taking the lock, so a reader that came in between
 * waits for it (up to PID_WAIT_NS), trying the lock again meanwhile in case it came free. */
static int take_lock(int fd, const char *dir, const char *lock, char *err, size_t errlen)
{
    long seen = 0, pid = 0;
    for (long waited = 0;; waited += PID_RETRY_NS) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        int e = errno;
        if (e == EINTR)
            continue;
        if (e != EWOULDBLOCK) {
            sim_err(err, errlen, "cwsim: cannot lock %s (%s)", lock, strerror(e));
            return -1;
        }
        pid = lock_pid(fd, &seen);
        if (pid != 0 || waited >= PID_WAIT_NS)
            break;
        struct timespec ts = {0, PID_RETRY_NS};
        nanosleep(&ts, NULL);
    }
    if (pid == 0)
        pid = seen;
    char who[32] = "?";
    if (pid != 0)
        snprintf(who, sizeof who, "%ld", pid);
    sim_err(err, errlen,
            "cwsim: state folder %s is in use by another simulator (pid %s); wait for it to "
            "finish or pass another --sim-state folder",
            dir, who);
    return -1;
}

/* 1 when the folder holds anything besides the lock (and a format file, and the boards' own
 * folders, which have theirs), 0 when not, -1 when it cannot be listed. */
static int holds_files(const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        sim_err(err, errlen, "cwsim: cannot list state folder %s (%s)", dir, strerror(errno));
        return -1;
    }
    int found = 0;
    const struct dirent *ent;
    while (!found && (ent = readdir(d)) != NULL) {
        const char *n = ent->d_name;
        found = strcmp(n, ".") != 0 && strcmp(n, "..") != 0 && strcmp(n, LOCK_NAME) != 0 &&
                strcmp(n, FORMAT_NAME) != 0 && strcmp(n, BOARDS_NAME) != 0;
    }
    closedir(d);
    return found;
}

/* The start of a format file, as text that fits a message: the first line, at most 40
 * characters ("..." when it goes on), anything unprintable as '?'. */
static void format_excerpt(const uint8_t *data, size_t len, char out[48])
{
    size_t n = 0;
    for (; n < len && n < 40 && data[n] != '\n'; n++)
        out[n] = (data[n] >= 0x20 && data[n] < 0x7F) ? (char)data[n] : '?';
    out[n] = '\0';
    if (n == 40 && len > 40 && data[40] != '\n')
        memcpy(out + 40, "...", 4);
}

/* The folder's layout version (contract.md §5.5): "cwlua simulator state 1". A fresh folder
 * (nothing but the lock) gets the format file; a folder with files and no format file, or
 * another format (a newer cwlua's, or not ours), is refused before anything in it is read or
 * written, so its chip memories are never misread or overwritten. */
static int check_format(cwsim *sim, char *err, size_t errlen)
{
    const char *dir = sim->state_dir;
    void *data = NULL;
    size_t len = 0;
    int r = cwsim_state_load(sim, FORMAT_NAME, &data, &len, err, errlen);
    if (r < 0)
        return -1;
    if (r == 1) {
        int other = holds_files(dir, err, errlen);
        if (other < 0)
            return -1;
        if (other) {
            sim_err(err, errlen,
                    "cwsim: state folder %s has files but no format file: it is not a "
                    "simulator state folder of cwlua; pass another --sim-state folder, or "
                    "delete it",
                    dir);
            return -1;
        }
        return cwsim_state_save(sim, FORMAT_NAME, FORMAT_TEXT, strlen(FORMAT_TEXT), err, errlen);
    }
    const uint8_t *t = data;
    size_t body = len > 0 && t[len - 1] == '\n' ? len - 1 : len;
    size_t plen = strlen(FORMAT_PREFIX);
    long version = -1;
    if (body > plen && body - plen <= 6 && memcmp(t, FORMAT_PREFIX, plen) == 0) {
        version = 0;
        for (size_t i = plen; i < body && version >= 0; i++)
            version = (t[i] >= '0' && t[i] <= '9') ? version * 10 + (t[i] - '0') : -1;
        if (body - plen > 1 && t[plen] == '0')
            version = -1; /* "01" is not a version cwlua writes */
    }
    char found[48];
    format_excerpt(t, len, found);
    free(data);
    if (version == FORMAT_VERSION)
        return 0;
    if (version > FORMAT_VERSION)
        sim_err(err, errlen,
                "cwsim: state folder %s has format %ld, from a newer cwlua; this one reads "
                "format %d: pass another --sim-state folder, or delete it",
                dir, version, FORMAT_VERSION);
    else
        sim_err(err, errlen,
                "cwsim: state folder %s has an unknown format file ('%s'; expected '%s%d'): "
                "pass another --sim-state folder, or delete it",
                dir, found, FORMAT_PREFIX, FORMAT_VERSION);
    return -1;
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
    if (take_lock(fd, dir, lock, err, errlen) != 0) {
        close(fd);
        free(lock);
        return -1;
    }
    free(lock);
    /* The pid goes in with one write over the old contents, then the rest is cut: a reader sees
     * a whole "PID\n" line at every moment (the old holder's, until the write lands), never an
     * empty file. */
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (pwrite_all(fd, pid, (size_t)n) != 0 || ftruncate(fd, (off_t)n) != 0) {
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
    if (check_format(sim, err, errlen) != 0) {
        cwsim_state_close(sim);
        return -1;
    }
    return 0;
}

int cwsim_state_open_board(cwsim *sim, const char *dir, const char *serial, char *err,
                           size_t errlen)
{
    char def[4096];
    if (dir == NULL) {
        if (cwsim_state_default_dir(def, sizeof def, err, errlen) != 0)
            return -1;
        dir = def;
    }
    size_t n = serial != NULL ? strlen(serial) : 0;
    if (n == 0 || n > 126) {
        sim_err(err, errlen, "cwsim: a board's state folder needs a serial of 1 to 126 characters");
        return -1;
    }
    /* every character kept as it is, or %XX: at most 3 per character */
    size_t len = strlen(dir) + sizeof "/" BOARDS_NAME "/" + 3 * n;
    char *path = malloc(len);
    if (path == NULL) {
        sim_err(err, errlen, "cwsim: out of memory");
        return -1;
    }
    int k = snprintf(path, len, "%s/%s/", dir, BOARDS_NAME);
    size_t at = k > 0 ? (size_t)k : 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)serial[i];
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-' || (c == '.' && i > 0);
        if (keep)
            path[at++] = (char)c;
        else
            at += (size_t)snprintf(path + at, len - at, "%%%02X", c);
    }
    path[at] = '\0';
    int r = cwsim_state_open(sim, path, err, errlen);
    free(path);
    return r;
}

void cwsim_state_close(cwsim *sim)
{
    if (sim->state_fd >= 0) {
        /* no pid in a lock nobody holds: the next holder's pid is the only one a waiter sees */
        if (ftruncate(sim->state_fd, 0) != 0) {
            /* harmless: a waiter checks that the pid it reads is alive */
        }
        close(sim->state_fd); /* releases the flock */
    }
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

int cwsim_state_write(const char *dir, const char *name, const void *data, size_t len, char *err,
                      size_t errlen)
{
    char *path = join(dir, name);
    size_t tn = strlen(dir) + strlen(name) + 40;
    char *tmp = malloc(tn);
    if (path == NULL || tmp == NULL) {
        free(path);
        free(tmp);
        sim_err(err, errlen, "cwsim: out of memory");
        return -1;
    }
    snprintf(tmp, tn, "%s/.%s.%ld.tmp", dir, name, (long)getpid());
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

void cwsim_state_set_writer(cwsim *sim, cwsim_state_writer writer, void *ctx)
{
    sim->state_writer = writer;
    sim->state_writer_ctx = ctx;
}

int cwsim_state_save(cwsim *sim, const char *name, const void *data, size_t len, char *err,
                     size_t errlen)
{
    if (check(sim, name, err, errlen) != 0)
        return -1;
    if (sim->state_writer != NULL)
        return sim->state_writer(sim->state_writer_ctx, sim->state_dir, name, data, len, err,
                                 errlen);
    return cwsim_state_write(sim->state_dir, name, data, len, err, errlen);
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
        if (buf == NULL) { /* said as such: the caller reports it as running out of memory */
            close(fd);
            sim_err(err, errlen, "cwsim: cannot read %s: out of memory", path);
            free(path);
            return -1;
        }
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
