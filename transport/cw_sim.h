/* SPDX-License-Identifier: MIT */
/* The in-process simulator backend (-d sim[:BOARD], contract.md §5): a libcwsim world with one
 * board, an optional target chip, faults, and the state folder. The device's clock is the
 * simulator's virtual clock, so waits cost no real time (contract.md §4). */
#ifndef CWLUA_TRANSPORT_CW_SIM_H
#define CWLUA_TRANSPORT_CW_SIM_H

#include "cw_transport.h"
#include "cwsim.h"

typedef struct cw_sim_opts {
    const char *board;         /* "cwlite", "cw1200", "husky", "nano" */
    const char *serial;        /* NULL: the simulator's default serial */
    const char *target;        /* part name, "loopback", or NULL: nothing attached */
    const char *state_dir;     /* NULL: $XDG_STATE_HOME/cwlua/sim */
    const char *const *faults; /* "NAME" or "NAME=VALUE", as given to --sim-fault */
    size_t nfaults;
    double usb_latency_ms; /* < 0: the simulator's default (0.5 ms) */
    uint64_t seed;         /* PRNG seed for random faults and the ADC's noise */
    double noise;          /* the ADC's noise (--sim-noise); < 0: the default */
    const char *app;       /* application model: NULL = "silent" */
    int power_up;          /* 1: the board as powered up (no default_setup applied) */
} cw_sim_opts;

int cw_sim_open(cw_dev **out, const cw_sim_opts *opts, cw_err *err);

/* The simulator behind a device opened by cw_sim_open (NULL for other backends). */
cwsim *cw_sim_world(cw_dev *dev);
cwsim_board *cw_sim_board(cw_dev *dev);

/* Attach a target chip by part name ("loopback" for the UART loop-back test target).
 * 0 ok; -1 with err filled (unknown part lists the known ones). */
int cw_sim_attach_target(cwsim_board *board, const char *part, const char *app, cw_err *err);

#endif
