/* SPDX-License-Identifier: MIT */
/* In-process simulator backend: cw_dev operations answered by libcwsim (sim/cwsim.h). */
#include "cw_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sim_dev {
    cw_dev dev; /* first: a cw_dev * is a sim_dev * */
    cwsim *sim;
    cwsim_board *board;
} sim_dev;

static const cw_dev_ops sim_ops;

static sim_dev *as_sim(cw_dev *dev)
{
    return dev != NULL && dev->ops == &sim_ops ? (sim_dev *)(void *)dev : NULL;
}

/* Map a libcwsim transfer result to a cw_err, as a real host would see it. */
static int sim_result(int rc, const char *what, cw_err *err)
{
    switch (rc) {
    case CWSIM_STALL:
        return cw_err_set(err, CW_E_STALL, "%s: the board stalled the request", what);
    case CWSIM_TIMEOUT:
        return cw_err_set(err, CW_E_TIMEOUT, "%s: timed out", what);
    case CWSIM_NODEV:
        return cw_err_set(err, CW_E_NO_DEVICE, "%s: the board is gone (unplugged or reset)", what);
    case CWSIM_OVERFLOW:
        return cw_err_set(err, CW_E_OVERFLOW, "%s: the board sent more than asked for", what);
    case CWSIM_INVALID:
    default:
        return cw_err_set(err, CW_E_INVALID, "%s: invalid transfer (%d)", what, rc);
    }
}

static int sim_control(cw_dev *dev, uint8_t bm_request_type, uint8_t b_request, uint16_t w_value,
                       uint16_t w_index, uint8_t *data, uint16_t w_length, unsigned timeout_ms,
                       size_t *actual, cw_err *err)
{
    sim_dev *s = as_sim(dev);
    int rc = cwsim_board_control(s->board, bm_request_type, b_request, w_value, w_index, data,
                                 w_length, timeout_ms);
    if (rc < 0)
        return sim_result(rc, (bm_request_type & 0x80) ? "control IN" : "control OUT", err);
    *actual = (size_t)rc;
    return CW_OK;
}

static int sim_bulk(cw_dev *dev, uint8_t ep, uint8_t *data, size_t len, unsigned timeout_ms,
                    size_t *actual, cw_err *err)
{
    sim_dev *s = as_sim(dev);
    if (len > 0x7fffffff)
        return cw_err_set(err, CW_E_INVALID, "bulk transfer of %zu bytes is too long", len);
    int rc = cwsim_board_bulk(s->board, ep, data, (int)len, timeout_ms);
    if (rc < 0)
        return sim_result(rc, (ep & 0x80) ? "bulk IN" : "bulk OUT", err);
    *actual = (size_t)rc;
    return CW_OK;
}

static uint64_t sim_now(cw_dev *dev)
{
    return cwsim_now_ns(as_sim(dev)->sim);
}

static void sim_sleep(cw_dev *dev, uint64_t ns)
{
    cwsim_advance_ns(as_sim(dev)->sim, ns);
}

static void sim_close(cw_dev *dev)
{
    sim_dev *s = as_sim(dev);
    cwsim_free(s->sim); /* saves and unlocks the state folder, frees the board and target */
    free(s);
}

static const cw_dev_ops sim_ops = {
    .name = "sim",
    .close = sim_close,
    .control = sim_control,
    .bulk = sim_bulk,
    .now_ns = sim_now,
    .sleep_ns = sim_sleep,
};

cwsim *cw_sim_world(cw_dev *dev)
{
    sim_dev *s = as_sim(dev);
    return s ? s->sim : NULL;
}

cwsim_board *cw_sim_board(cw_dev *dev)
{
    sim_dev *s = as_sim(dev);
    return s ? s->board : NULL;
}

/* A failure libcwsim reported in msg, as code, unless it ran out of memory: that is
 * CW_E_NO_MEMORY whatever the call, so that it is never taken for a bad argument (exit 2) or a
 * board problem (exit 3) but reported as running out of memory (contract.md §3.8). */
static int sim_fail(cw_err *err, cw_code code, const char *msg)
{
    return cw_err_set(err, cwsim_err_is_oom(msg) ? CW_E_NO_MEMORY : code, "sim: %s", msg);
}

int cw_sim_attach_target(cwsim_board *board, const char *part, const char *app, cw_err *err)
{
    char msg[256] = "";
    if (cwsim_attach_part(board, part, app, msg, sizeof msg) != 0)
        return sim_fail(err, CW_E_INVALID, msg);
    return CW_OK;
}

int cw_sim_open(cw_dev **out, const cw_sim_opts *o, cw_err *err)
{
    char msg[256] = "";
    *out = NULL;
    cwsim_kind kind;
    if (cwsim_kind_from_name(o->board, &kind) != 0)
        return cw_err_set(err, CW_E_INVALID,
                          "sim: unknown board '%s'; use cwlite, cw1200, husky or nano", o->board);
    sim_dev *s = calloc(1, sizeof *s);
    if (s == NULL)
        return cw_err_set(err, CW_E_NO_MEMORY, "sim: out of memory");
    s->dev.ops = &sim_ops;
    if (cwsim_new(&s->sim, msg, sizeof msg) != 0) {
        free(s);
        return sim_fail(err, CW_E_IO, msg);
    }
    int rc = CW_OK;
    cwsim_seed(s->sim, o->seed);
    if (o->noise >= 0)
        cwsim_set_noise(s->sim, o->noise);
    if (o->usb_latency_ms >= 0)
        cwsim_set_usb_latency_ns(s->sim, (uint64_t)(o->usb_latency_ms * 1e6 + 0.5));
    for (size_t i = 0; i < o->nfaults && rc == CW_OK; i++) {
        if (cwsim_fault_parse(s->sim, o->faults[i], msg, sizeof msg) != 0)
            rc = sim_fail(err, CW_E_INVALID, msg);
    }
    /* a board given a serial keeps its chips in a state folder of its own (contract.md §5.5) */
    if (rc == CW_OK &&
        (o->serial != NULL
             ? cwsim_state_open_board(s->sim, o->state_dir, o->serial, msg, sizeof msg)
             : cwsim_state_open(s->sim, o->state_dir, msg, sizeof msg)) != 0)
        rc = sim_fail(err, CW_E_BUSY, msg);
    if (rc == CW_OK) {
        s->board = cwsim_board_add(s->sim, kind, o->serial, msg, sizeof msg);
        if (s->board == NULL)
            rc = sim_fail(err, CW_E_INVALID, msg);
    }
    if (rc == CW_OK && !o->power_up)
        cwsim_board_default_setup(s->board);
    if (rc == CW_OK && o->target != NULL && o->target[0] != '\0')
        rc = cw_sim_attach_target(s->board, o->target, o->app, err);
    if (rc != CW_OK) {
        cwsim_free(s->sim);
        free(s);
        return rc;
    }
    cw_dev_info *info = &s->dev.info;
    snprintf(info->backend, sizeof info->backend, "sim");
    snprintf(info->kind, sizeof info->kind, "%s", cwsim_kind_name(kind));
    snprintf(info->serial, sizeof info->serial, "%s", cwsim_board_serial(s->board));
    snprintf(info->product, sizeof info->product, "%s", cwsim_board_product(s->board));
    info->vid = cwsim_board_vid(s->board);
    info->pid = cwsim_board_pid(s->board);
    info->ep_bulk_in = cwsim_board_ep_bulk_in(s->board);
    info->ep_bulk_out = cwsim_board_ep_bulk_out(s->board);
    *out = &s->dev;
    return CW_OK;
}
