/* SPDX-License-Identifier: MIT */
/* statewriter.h - a thread that writes the simulated chips' memories to their state folders,
 * for the helpers paced in real time (cwlua sim serve, cwlua sim attach; contract.md §5). A save
 * (temporary file, fsync, rename: cwsim_state_write) can take 150 ms on a loaded disk; made on
 * the thread that answers the client it holds up every answer, of every board. Installed with
 * cwsim_state_set_writer(sim, statewriter_take, w), a save only copies the blob into a queue.
 *
 * One writer serves any number of worlds (cwsim objects), each with its own state folder: a blob
 * is named by its folder and its name, and a newer save of the same blob replaces the data of
 * the one still waiting. No GLib: cwlua sim serve links none. */
#ifndef CWLUA_TOOLS_STATEWRITER_H
#define CWLUA_TOOLS_STATEWRITER_H

#include <stddef.h>

typedef struct statewriter statewriter;

/* Starts the thread, which takes no signals (a SIGTERM must reach the caller's loop, and never
 * cut a write short). 0, or -1 with errno set. */
int statewriter_start(statewriter **out);

/* A cwsim_state_writer (cwsim.h); ctx is the statewriter. Copies the blob and queues it. A write
 * that failed in the thread is returned by the next save into the same folder, so the chip that
 * made it keeps its memories marked unsaved and saves them again. After statewriter_stop it
 * writes in the caller's thread. */
int statewriter_take(void *ctx, const char *dir, const char *name, const void *data, size_t len,
                     char *err, size_t errlen);

/* Waits until everything queued is on disk and stops the thread; later saves are written in
 * the caller's thread. -1 with the first failed write no save has reported (a chip that believes
 * its memories saved will not save them again), and how many more there were; 0 when none. */
int statewriter_stop(statewriter *w, char *err, size_t errlen);

/* After statewriter_stop: the first save written in the caller's thread that failed, for a save
 * nobody else can report (a chip saves itself when it is freed and keeps the failure to itself).
 * -1 with its message and how many more failed, 0 when none failed. */
int statewriter_sync_failed(statewriter *w, char *err, size_t errlen);

/* Stops the thread if it still runs and frees the writer; NULL is fine. */
void statewriter_free(statewriter *w);

#endif
