/* SPDX-License-Identifier: MIT */
/* libcwsim state folder tests (contract.md §5 --sim-state): creation, the exclusive lock and its
 * message, named blobs (atomic save, load, remove, name rules), the default location. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* mkdtemp, setenv */
#endif

#include "simtest.h"

#include <stdio.h>
#include <sys/stat.h>
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

int main(void)
{
    snprintf(root, sizeof root, "/tmp/cwsim-state-test-XXXXXX");
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_open_lock();
    test_blobs();
    test_default_dir();
    rm_rf(root);
    return check_report("sim_state");
}
