/* SPDX-License-Identifier: MIT */
/* simbus.h - the mock USB bus of cwlua-sim-attach: a umockdev testbed whose usbdevfs device
 * nodes are answered by libcwsim boards (contract.md §5 "cwlua sim attach"; the umockdev pattern
 * is test-harnesses.md §1).
 *
 * The boards may live in one simulated world or in several (each board its own, as cwlua sim
 * attach does for boards with serials of their own): each world's virtual clock is kept in step
 * with real time by itself, a request to a board moves only that board's world.
 *
 * Threads: umockdev runs every ioctl handler on its own worker thread, and the bus runs a
 * ticker thread that keeps the worlds' virtual clocks in step with real monotonic time and
 * completes delayed answers. Both take the bus lock, which also guards the cwsim objects: once
 * sa_bus_start() has run, nothing else may touch the simulators until sa_bus_free(). */
#ifndef CWLUA_SIMATTACH_SIMBUS_H
#define CWLUA_SIMATTACH_SIMBUS_H

#include "cwsim.h"

#include <stddef.h>
#include <stdio.h>

typedef struct sa_bus sa_bus;

typedef struct sa_bus_options {
    double usb_latency_ms; /* real time a control transfer takes before it can be reaped */
    FILE *trace;           /* one line per usbdevfs request, or NULL */
} sa_bus_options;

/* Creates the testbed (this sets UMOCKDEV_DIR in the process environment). 0 or -1 + err. */
int sa_bus_new(sa_bus **out, const sa_bus_options *opts, char *err, size_t errlen);

/* Adds a board as the next device on bus 1 (address 2, 3, ...); before sa_bus_start() only.
 * Its world (cwsim_board_sim) gets the bus's control-transfer latency. */
int sa_bus_add_board(sa_bus *bus, cwsim_board *board, char *err, size_t errlen);

/* The device node of the n-th board added ("/dev/bus/usb/001/002"), or NULL. */
const char *sa_bus_devnode(const sa_bus *bus, size_t n);

/* The testbed's root folder: a client needs UMOCKDEV_DIR set to it. */
const char *sa_bus_root_dir(const sa_bus *bus);

/* Ties the worlds' virtual clocks to real time from now on and starts answering requests. */
int sa_bus_start(sa_bus *bus, char *err, size_t errlen);

/* Stops the ticker, removes the testbed and frees the bus (not the cwsim objects). */
void sa_bus_free(sa_bus *bus);

#endif
