/* SPDX-License-Identifier: MIT */
/* statewriter.c - the state writer thread of cwlua sim serve and cwlua sim attach
 * (statewriter.h). The threads that call statewriter_take hold their own locks (sim attach's bus
 * lock, which guards the worlds): the writer's mutex is only ever held for list work, never
 * across a write, so a save never waits for the disk. */
#include "statewriter.h"

#include "cwsim.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_MAX 512

/* A blob waiting for the disk. A newer save of the same blob (same folder, same name) replaces
 * the data of one that has not started, so the queue holds at most one of each blob: a chip that
 * saves faster than the disk writes costs no memory and only its last image is written. */
typedef struct blob {
    char *dir, *name;
    uint8_t *data;
    size_t len;
    struct blob *next;
} blob;

/* A write that failed in the thread and no save has reported yet: one per folder, as the next
 * save into the folder reports it (its chip then saves all its blobs again). */
typedef struct failure {
    char *dir;
    char msg[ERR_MAX];
    unsigned count; /* failed writes into dir since the last report */
    struct failure *next;
} failure;

struct statewriter {
    pthread_mutex_t mu;
    pthread_cond_t work;
    pthread_t thread;
    int started; /* the thread exists and is not joined */
    int running; /* the thread takes blobs: cleared by the thread itself as it ends, under the
                  * lock, so a blob queued while it is set is always written */
    int stop;
    blob *head;
    failure *failures;
    char sync_err[ERR_MAX]; /* the first failed write in the caller's thread, "" none */
    unsigned sync_more;     /* how many failed after it */
};

static void blob_free(blob *b)
{
    if (b != NULL) {
        free(b->dir);
        free(b->name);
        free(b->data);
        free(b);
    }
}

static void copy_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

/* Lock held. A failed write into dir: kept until a save into dir or statewriter_stop reports it.
 * Without memory for it the failure is lost, but the disk is the likelier culprit. */
static void note_failure(statewriter *w, const char *dir, const char *msg)
{
    failure *f = w->failures;
    while (f != NULL && strcmp(f->dir, dir) != 0)
        f = f->next;
    if (f != NULL) {
        f->count++; /* the first message stays: it is where the trouble started */
        return;
    }
    f = calloc(1, sizeof *f);
    if (f == NULL || (f->dir = strdup(dir)) == NULL) {
        free(f);
        return;
    }
    snprintf(f->msg, sizeof f->msg, "%s", msg);
    f->count = 1;
    f->next = w->failures;
    w->failures = f;
}

static void *writer_main(void *arg)
{
    statewriter *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->head == NULL && !w->stop)
            pthread_cond_wait(&w->work, &w->mu);
        if (w->head == NULL) {
            w->running = 0; /* stopping, and the queue has drained: saves are the caller's now */
            break;
        }
        blob *b = w->head;
        w->head = b->next;
        pthread_mutex_unlock(&w->mu);
        char err[ERR_MAX] = "";
        int r = cwsim_state_write(b->dir, b->name, b->data, b->len, err, sizeof err);
        pthread_mutex_lock(&w->mu);
        if (r != 0)
            note_failure(w, b->dir, err);
        blob_free(b);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int statewriter_start(statewriter **out)
{
    *out = NULL;
    statewriter *w = calloc(1, sizeof *w);
    if (w == NULL) {
        errno = ENOMEM;
        return -1;
    }
    int r = pthread_mutex_init(&w->mu, NULL);
    if (r == 0 && (r = pthread_cond_init(&w->work, NULL)) != 0)
        pthread_mutex_destroy(&w->mu);
    if (r != 0) {
        free(w);
        errno = r;
        return -1;
    }
    /* The thread takes no signals: SIGTERM must wake the caller's loop (sim serve) or reach its
     * forwarding handler (sim attach), and never interrupt a write. A thread inherits the mask in
     * force when it is made. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    w->started = w->running = 1;
    r = pthread_create(&w->thread, NULL, writer_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        pthread_cond_destroy(&w->work);
        pthread_mutex_destroy(&w->mu);
        free(w);
        errno = r; /* for the caller's message */
        return -1;
    }
    *out = w;
    return 0;
}

/* After statewriter_stop: written here, in the caller's thread, as libcwsim does by default. */
static int write_now(statewriter *w, const char *dir, const char *name, const void *data,
                     size_t len, char *err, size_t errlen)
{
    char msg[ERR_MAX] = "";
    if (cwsim_state_write(dir, name, data, len, msg, sizeof msg) == 0)
        return 0;
    pthread_mutex_lock(&w->mu);
    if (w->sync_err[0] == '\0')
        snprintf(w->sync_err, sizeof w->sync_err, "%s", msg);
    else
        w->sync_more++;
    pthread_mutex_unlock(&w->mu);
    copy_err(err, errlen, msg);
    return -1;
}

int statewriter_take(void *ctx, const char *dir, const char *name, const void *data, size_t len,
                     char *err, size_t errlen)
{
    statewriter *w = ctx;
    pthread_mutex_lock(&w->mu);
    if (!w->running) {
        pthread_mutex_unlock(&w->mu);
        return write_now(w, dir, name, data, len, err, errlen);
    }
    for (failure **at = &w->failures; *at != NULL; at = &(*at)->next) {
        if (strcmp((*at)->dir, dir) == 0) { /* this folder's chip saves everything again */
            failure *f = *at;
            *at = f->next;
            pthread_mutex_unlock(&w->mu);
            copy_err(err, errlen, f->msg);
            free(f->dir);
            free(f);
            return -1;
        }
    }
    pthread_mutex_unlock(&w->mu);
    /* copied outside the lock: the thread may be taking the next blob meanwhile */
    uint8_t *copy = malloc(len ? len : 1);
    blob *b = calloc(1, sizeof *b);
    char *d = strdup(dir), *n = strdup(name);
    if (copy == NULL || b == NULL || d == NULL || n == NULL) {
        free(copy);
        free(b);
        free(d);
        free(n);
        copy_err(err, errlen, "cwsim: out of memory"); /* cwsim_err_is_oom's wording */
        return -1;
    }
    memcpy(copy, data, len);
    b->dir = d;
    b->name = n;
    b->data = copy;
    b->len = len;
    pthread_mutex_lock(&w->mu);
    if (!w->running) { /* the thread ended while we copied: nobody would write it */
        pthread_mutex_unlock(&w->mu);
        blob_free(b);
        return write_now(w, dir, name, data, len, err, errlen);
    }
    /* Two worlds may keep a blob of the same name (two boards with the same part, each in its
     * own DIR/boards/SERIAL): the folder is part of what the blob is. */
    blob **at = &w->head;
    while (*at != NULL && (strcmp((*at)->name, name) != 0 || strcmp((*at)->dir, dir) != 0))
        at = &(*at)->next;
    if (*at != NULL) { /* superseded before it started: keep its place, take the new data */
        b->next = (*at)->next;
        blob_free(*at);
    }
    *at = b;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int statewriter_stop(statewriter *w, char *err, size_t errlen)
{
    if (w == NULL)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    if (w->started)
        pthread_join(w->thread, NULL);
    w->started = 0;
    pthread_mutex_lock(&w->mu);
    unsigned more = 0;
    char first[ERR_MAX] = "";
    while (w->failures != NULL) {
        failure *f = w->failures;
        w->failures = f->next;
        if (first[0] == '\0') {
            snprintf(first, sizeof first, "%s", f->msg);
            more += f->count - 1;
        } else {
            more += f->count;
        }
        free(f->dir);
        free(f);
    }
    pthread_mutex_unlock(&w->mu);
    if (first[0] == '\0')
        return 0;
    if (err != NULL && errlen > 0) {
        if (more > 0)
            snprintf(err, errlen, "%s (and %u more failed writes)", first, more);
        else
            snprintf(err, errlen, "%s", first);
    }
    return -1;
}

int statewriter_sync_failed(statewriter *w, char *err, size_t errlen)
{
    if (w == NULL)
        return 0;
    pthread_mutex_lock(&w->mu);
    int failed = w->sync_err[0] != '\0';
    if (failed && err != NULL && errlen > 0) {
        if (w->sync_more > 0)
            snprintf(err, errlen, "%s (and %u more failed writes)", w->sync_err, w->sync_more);
        else
            snprintf(err, errlen, "%s", w->sync_err);
    }
    pthread_mutex_unlock(&w->mu);
    return failed ? -1 : 0;
}

void statewriter_free(statewriter *w)
{
    if (w == NULL)
        return;
    (void)statewriter_stop(w, NULL, 0);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
