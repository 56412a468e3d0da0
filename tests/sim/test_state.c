/* SPDX-License-Identifier: MIT */
/* libcwsim state folder tests (contract.md §5 --sim-state): creation, the exclusive lock and its
 * message (always with the holder's pid, also in a race), the format file, named blobs (atomic
 * save, load, remove, name rules), the default location, and the state folders of boards with
 * serials of their own (contract.md §5.5). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* mkdtemp, setenv */
#endif

#include "simtest.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char root[256];

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static void test_open_lock(void)
{
    char dir[300], err[512];
    snprintf(dir, sizeof dir, "%s/a/b/state", root);
    cwsim *s1 = t_sim(), *s2 = t_sim();
    CHECK(cwsim_state_dir(s1) == NULL);
    CHECK_EQ_INT(cwsim_state_open(s1, dir, err, sizeof err), 0);
    CHECK(strcmp(cwsim_state_dir(s1), dir) == 0);
    struct stat st;
    char p[400];
    snprintf(p, sizeof p, "%s/lock", dir);
    CHECK(stat(p, &st) == 0);
    snprintf(p, sizeof p, "%s/format", dir);
    CHECK(stat(p, &st) == 0);
    /* a second simulator cannot use it while the first holds it */
    CHECK_EQ_INT(cwsim_state_open(s2, dir, err, sizeof err), -1);
    CHECK(strstr(err, "in use by another simulator") != NULL);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    CHECK(strstr(err, pid) != NULL);
    CHECK(cwsim_state_dir(s2) == NULL);
    cwsim_state_close(s1);
    CHECK_EQ_INT(cwsim_state_open(s2, dir, err, sizeof err), 0);
    cwsim_free(s2); /* frees the lock too */
    CHECK_EQ_INT(cwsim_state_open(s1, dir, err, sizeof err), 0);
    /* a file where the folder should be */
    snprintf(p, sizeof p, "%s/file", root);
    FILE *f = fopen(p, "w");
    if (f != NULL)
        fclose(f);
    CHECK_EQ_INT(cwsim_state_open(s2 = t_sim(), p, err, sizeof err), -1);
    CHECK(strstr(err, "not a directory") != NULL || strstr(err, "cannot create") != NULL);
    CHECK_EQ_INT(cwsim_state_open(s2, "", err, sizeof err), -1);
    cwsim_free(s2);
    cwsim_free(s1);
}

static void test_blobs(void)
{
    char dir[300], err[512];
    snprintf(dir, sizeof dir, "%s/blobs", root);
    cwsim *s = t_sim();
    void *data;
    size_t len;
    CHECK_EQ_INT(cwsim_state_save(s, "x", "1", 1, err, sizeof err), -1); /* not open */
    CHECK(strstr(err, "no state folder") != NULL);
    CHECK_EQ_INT(cwsim_state_open(s, dir, err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_state_load(s, "stm32f100xb.flash", &data, &len, err, sizeof err), 1);
    CHECK(data == NULL && len == 0);
    uint8_t blob[3000];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)(i * 31);
    CHECK_EQ_INT(cwsim_state_save(s, "stm32f100xb.flash", blob, sizeof blob, err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_state_load(s, "stm32f100xb.flash", &data, &len, err, sizeof err), 0);
    CHECK_EQ_INT(len, sizeof blob);
    CHECK(data != NULL && memcmp(data, blob, sizeof blob) == 0);
    free(data);
    CHECK_EQ_INT(cwsim_state_save(s, "stm32f100xb.flash", "ab", 2, err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_state_load(s, "stm32f100xb.flash", &data, &len, err, sizeof err), 0);
    CHECK(len == 2 && memcmp(data, "ab", 2) == 0);
    free(data);
    CHECK_EQ_INT(cwsim_state_save(s, "empty", "", 0, err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_state_load(s, "empty", &data, &len, err, sizeof err), 0);
    CHECK_EQ_INT(len, 0);
    free(data);
    /* names */
    static const char *const bad[] = {"", ".hidden", "a/b", "../x", "lock", "sp ace", "é"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(cwsim_state_save(s, bad[i], "1", 1, err, sizeof err), -1);
        CHECK(strstr(err, "bad state name") != NULL);
    }
    CHECK_EQ_INT(cwsim_state_save(s, NULL, "1", 1, err, sizeof err), -1);
    /* the blobs outlive the simulator */
    cwsim_free(s);
    s = t_sim();
    CHECK_EQ_INT(cwsim_state_open(s, dir, err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_state_load(s, "stm32f100xb.flash", &data, &len, err, sizeof err), 0);
    CHECK(len == 2);
    free(data);
    CHECK_EQ_INT(cwsim_state_remove(s, "stm32f100xb.flash", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_state_remove(s, "stm32f100xb.flash", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_state_load(s, "stm32f100xb.flash", &data, &len, err, sizeof err), 1);
    /* no temporary files are left behind */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -q tmp", dir);
    CHECK(system(cmd) != 0);
    cwsim_free(s);
}

static void put_file(const char *dir, const char *name, const char *text, size_t len)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f != NULL) {
        if (fwrite(text, 1, len, f) != len)
            fprintf(stderr, "could not write %s\n", p);
        fclose(f);
    }
}

static int file_is(const char *dir, const char *name, const char *text)
{
    char p[400], buf[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strcmp(buf, text) == 0;
}

/* Opens dir expecting a refusal whose message holds each of want[] (NULL-terminated); the folder
 * is left as it was, and the lock is free again. */
static void refused(const char *dir, const char *const *want)
{
    char err[512] = "";
    cwsim *s = t_sim();
    int rc = cwsim_state_open(s, dir, err, sizeof err);
    int ok = rc == -1 && cwsim_state_dir(s) == NULL && strchr(err, '\n') == NULL;
    for (const char *const *w = want; *w != NULL; w++)
        ok &= strstr(err, *w) != NULL;
    if (!ok)
        fprintf(stderr, "%s: rc %d, '%s'\n", dir, rc, err);
    CHECK(ok);
    cwsim_free(s);
}

/* The format file (contract.md §5.5): "cwlua simulator state 1". Any other format, or files
 * without one, is refused with what was found, what is expected and what to do. */
static void test_format(void)
{
    char dir[300], err[512];
    snprintf(dir, sizeof dir, "%s/fmt", root);
    cwsim *s = t_sim();
    CHECK_EQ_INT(cwsim_state_open(s, dir, err, sizeof err), 0); /* fresh: gets the file */
    CHECK(file_is(dir, "format", "cwlua simulator state 1\n"));
    CHECK_EQ_INT(cwsim_state_save(s, "stm32f100xb.flash", "ab", 2, err, sizeof err), 0);
    cwsim_free(s);

    static const char *const newer[] = {"has format 2, from a newer cwlua; this one reads "
                                        "format 1: pass another --sim-state folder, or delete it",
                                        NULL};
    put_file(dir, "format", "cwlua simulator state 2\n", 24);
    refused(dir, newer);
    CHECK(file_is(dir, "format", "cwlua simulator state 2\n")); /* untouched */
    CHECK(file_is(dir, "stm32f100xb.flash", "ab"));
    put_file(dir, "format", "cwlua simulator state 17", 24);
    static const char *const newer17[] = {"has format 17, from a newer cwlua", NULL};
    refused(dir, newer17);

    static const char *const unknown[] = {
        "has an unknown format file ('something else'; expected 'cwlua simulator state 1'): "
        "pass another --sim-state folder, or delete it",
        NULL};
    put_file(dir, "format", "something else\nmore\n", 20);
    refused(dir, unknown);
    static const char *const zero[] = {"unknown format file ('cwlua simulator state 0'", NULL};
    put_file(dir, "format", "cwlua simulator state 0\n", 24);
    refused(dir, zero);
    static const char *const lead[] = {"unknown format file ('cwlua simulator state 01'", NULL};
    put_file(dir, "format", "cwlua simulator state 01\n", 25);
    refused(dir, lead);
    static const char *const junk[] = {"unknown format file ('\?\?ab?'", NULL};
    put_file(dir, "format",
             "\x01\xFF"
             "ab\x7F",
             5);
    refused(dir, junk);
    static const char *const empty[] = {"unknown format file (''", NULL};
    put_file(dir, "format", "", 0);
    refused(dir, empty);
    static const char *const longer[] = {
        "unknown format file ('0123456789012345678901234567890123456789...'", NULL};
    put_file(dir, "format", "0123456789012345678901234567890123456789ABCDEF", 46);
    refused(dir, longer);

    /* files but no format file: not a state folder of ours (or a damaged one) */
    char p[400];
    snprintf(p, sizeof p, "%s/format", dir);
    CHECK(unlink(p) == 0);
    static const char *const none[] = {
        "has files but no format file: it is not a simulator state folder of cwlua; pass "
        "another --sim-state folder, or delete it",
        NULL};
    refused(dir, none);
    CHECK(access(p, F_OK) != 0); /* nothing was written */

    /* the format as cwlua writes it, with or without the newline, opens */
    put_file(dir, "format", "cwlua simulator state 1", 23);
    s = t_sim();
    CHECK_EQ_INT(cwsim_state_open(s, dir, err, sizeof err), 0);
    cwsim_free(s);

    /* a folder with only the lock in it (a run stopped before writing the format) is fresh */
    snprintf(dir, sizeof dir, "%s/fmt-lock-only", root);
    CHECK(mkdir(dir, 0777) == 0);
    put_file(dir, "lock", "", 0);
    s = t_sim();
    CHECK_EQ_INT(cwsim_state_open(s, dir, err, sizeof err), 0);
    CHECK(file_is(dir, "format", "cwlua simulator state 1\n"));
    cwsim_free(s);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A holder between taking the lock and writing its pid (a child doing it by hand, slowly): the
 * second simulator must still name it, not say "pid ?". A dead holder's pid left in the file
 * must not be named either. */
static void test_lock_pid_window(void)
{
    char dir[300], lock[400], err[512];
    snprintf(dir, sizeof dir, "%s/window", root);
    CHECK(mkdir(dir, 0777) == 0);
    snprintf(lock, sizeof lock, "%s/lock", dir);
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    char stale[32];
    int sn = snprintf(stale, sizeof stale, "%ld\n", (long)dead);
    put_file(dir, "lock", stale, (size_t)sn);

    int ready[2], done[2];
    if (pipe(ready) != 0 || pipe(done) != 0) {
        CHECK(0);
        return;
    }
    pid_t child = fork();
    if (child == 0) {
        int fd = open(lock, O_RDWR);
        char c = 'x';
        if (fd < 0 || flock(fd, LOCK_EX) != 0)
            _exit(1);
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        sleep_ms(200); /* the window the pid is not in the file yet */
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        if (pwrite(fd, pid, (size_t)n, 0) != n || ftruncate(fd, n) != 0)
            _exit(1);
        if (read(done[0], &c, 1) != 1)
            _exit(1);
        _exit(0);
    }
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    cwsim *s = t_sim();
    CHECK_EQ_INT(cwsim_state_open(s, dir, err, sizeof err), -1);
    char want[64];
    snprintf(want, sizeof want, "in use by another simulator (pid %ld)", (long)child);
    if (strstr(err, want) == NULL)
        fprintf(stderr, "window: want '%s', got '%s'\n", want, err);
    CHECK(strstr(err, want) != NULL);
    CHECK(write(done[1], "x", 1) == 1);
    int st = -1;
    waitpid(child, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* the holder gone, the folder opens; closed, its lock file holds no pid */
    CHECK_EQ_INT(cwsim_state_open(s, dir, err, sizeof err), 0);
    cwsim_free(s);
    CHECK(file_is(dir, "lock", ""));
    close(ready[0]);
    close(ready[1]);
    close(done[0]);
    close(done[1]);
}

/* 60 pairs of processes open one folder at the same moment: one wins, and the other's "in use"
 * message names the winner's pid every time. */
static void test_lock_pid_race(void)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/race", root);
    int bad = 0, wins = 0;
    for (int round = 0; round < 60; round++) {
        int go[2], res[2], rel[2];
        if (pipe(go) != 0 || pipe(res) != 0 || pipe(rel) != 0) {
            CHECK(0);
            return;
        }
        pid_t kids[2];
        for (int k = 0; k < 2; k++) {
            kids[k] = fork();
            if (kids[k] == 0) {
                char c, err[256] = "";
                if (read(go[0], &c, 1) != 1)
                    _exit(1);
                cwsim *s = t_sim();
                int rc = cwsim_state_open(s, dir, err, sizeof err);
                char rec[300];
                snprintf(rec, sizeof rec, "%d %ld %s", rc, (long)getpid(), err);
                if (write(res[1], rec, sizeof rec) != (ssize_t)sizeof rec)
                    _exit(1);
                if (rc == 0 && read(rel[0], &c, 1) != 1)
                    _exit(1);
                cwsim_free(s);
                _exit(0);
            }
        }
        if (write(go[1], "xx", 2) != 2)
            bad++;
        char rec[2][300];
        for (int k = 0; k < 2; k++)
            if (read(res[0], rec[k], sizeof rec[k]) != (ssize_t)sizeof rec[k])
                bad++;
        int winner = rec[0][0] == '0' ? 0 : 1, loser = 1 - winner;
        long wpid = strtol(rec[winner] + 2, NULL, 10);
        char want[64];
        snprintf(want, sizeof want, "in use by another simulator (pid %ld)", wpid);
        if (rec[winner][0] != '0' || strncmp(rec[loser], "-1 ", 3) != 0 ||
            strstr(rec[loser], want) == NULL) {
            fprintf(stderr, "race %d: '%s' / '%s'\n", round, rec[0], rec[1]);
            bad++;
        } else {
            wins++;
        }
        if (write(rel[1], "x", 1) != 1)
            bad++;
        for (int k = 0; k < 2; k++)
            waitpid(kids[k], NULL, 0);
        close(go[0]);
        close(go[1]);
        close(res[0]);
        close(res[1]);
        close(rel[0]);
        close(rel[1]);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(wins, 60);
}

static void test_default_dir(void)
{
    char buf[512], err[256];
    char *old_xdg = getenv("XDG_STATE_HOME") ? strdup(getenv("XDG_STATE_HOME")) : NULL;
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("XDG_STATE_HOME", "/x/state", 1);
    CHECK_EQ_INT(cwsim_state_default_dir(buf, sizeof buf, err, sizeof err), 0);
    CHECK(strcmp(buf, "/x/state/cwlua/sim") == 0);
    setenv("XDG_STATE_HOME", "relative", 1); /* ignored, as XDG says */
    setenv("HOME", "/home/u", 1);
    CHECK_EQ_INT(cwsim_state_default_dir(buf, sizeof buf, err, sizeof err), 0);
    CHECK(strcmp(buf, "/home/u/.local/state/cwlua/sim") == 0);
    unsetenv("XDG_STATE_HOME");
    unsetenv("HOME");
    CHECK_EQ_INT(cwsim_state_default_dir(buf, sizeof buf, err, sizeof err), -1);
    CHECK(strstr(err, "--sim-state") != NULL);
    setenv("HOME", "/h", 1);
    CHECK_EQ_INT(cwsim_state_default_dir(buf, 5, err, sizeof err), -1);
    /* open with dir NULL uses it */
    char home[300];
    snprintf(home, sizeof home, "%s/home", root);
    setenv("HOME", home, 1);
    cwsim *s = t_sim();
    CHECK_EQ_INT(cwsim_state_open(s, NULL, err, sizeof err), 0);
    snprintf(buf, sizeof buf, "%s/.local/state/cwlua/sim", home);
    CHECK(cwsim_state_dir(s) != NULL && strcmp(cwsim_state_dir(s), buf) == 0);
    cwsim_free(s);
    if (old_xdg)
        setenv("XDG_STATE_HOME", old_xdg, 1);
    if (old_home)
        setenv("HOME", old_home, 1);
    else
        unsetenv("HOME");
    free(old_xdg);
    free(old_home);
}

/* DIR/boards/SERIAL: a folder, a lock and a format file per board; different boards at once,
 * one board twice not; a serial that is no file name written %XX; DIR itself still fresh. */
static void test_board_folders(void)
{
    char dir[300], err[512], p[512];
    snprintf(dir, sizeof dir, "%s/boards-test", root);
    cwsim *a = t_sim(), *b = t_sim(), *a2 = t_sim(), *d = t_sim(), *odd = t_sim();
    CHECK_EQ_INT(cwsim_state_open_board(a, dir, "LAB-01", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_state_open_board(b, dir, "LAB-02", err, sizeof err), 0);
    snprintf(p, sizeof p, "%s/boards/LAB-01", dir);
    CHECK(strcmp(cwsim_state_dir(a), p) == 0);
    struct stat st;
    snprintf(p, sizeof p, "%s/boards/LAB-02/format", dir);
    CHECK(stat(p, &st) == 0);
    /* the same board twice: the message names that board's folder */
    CHECK_EQ_INT(cwsim_state_open_board(a2, dir, "LAB-01", err, sizeof err), -1);
    CHECK(strstr(err, "boards/LAB-01 is in use by another simulator") != NULL);
    /* the folder itself, for boards without a serial, at the same time; boards/ is no file */
    CHECK_EQ_INT(cwsim_state_open(d, dir, err, sizeof err), 0);
    CHECK(cwsim_state_save(a, "stm32f100xb.flash", "A", 1, err, sizeof err) == 0);
    CHECK(cwsim_state_save(d, "stm32f100xb.flash", "D", 1, err, sizeof err) == 0);
    void *data = NULL;
    size_t len = 0;
    CHECK_EQ_INT(cwsim_state_load(b, "stm32f100xb.flash", &data, &len, err, sizeof err), 1);
    CHECK_EQ_INT(cwsim_state_load(a, "stm32f100xb.flash", &data, &len, err, sizeof err), 0);
    CHECK(len == 1 && ((const char *)data)[0] == 'A');
    free(data);
    CHECK_EQ_INT(cwsim_state_open_board(odd, dir, ".x/y z", err, sizeof err), 0);
    snprintf(p, sizeof p, "%s/boards/%%2Ex%%2Fy%%20z", dir);
    CHECK(strcmp(cwsim_state_dir(odd), p) == 0);
    CHECK_EQ_INT(cwsim_state_open_board(a2, dir, "", err, sizeof err), -1);
    cwsim_free(a);
    CHECK_EQ_INT(cwsim_state_open_board(a2, dir, "LAB-01", err, sizeof err), 0);
    cwsim_free(a2);
    cwsim_free(b);
    cwsim_free(d);
    cwsim_free(odd);
    /* a folder that only boards used so far is a fresh one for the boards without a serial */
    snprintf(dir, sizeof dir, "%s/boards-only", root);
    cwsim *c = t_sim(), *e = t_sim();
    CHECK_EQ_INT(cwsim_state_open_board(c, dir, "C", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_state_open(e, dir, err, sizeof err), 0);
    cwsim_free(c);
    cwsim_free(e);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/cwsim-state-test-XXXXXX");
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_open_lock();
    test_blobs();
    test_format();
    test_lock_pid_window();
    test_lock_pid_race();
    test_default_dir();
    test_board_folders();
    rm_rf(root);
    return check_report("sim_state");
}
