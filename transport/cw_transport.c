/* SPDX-License-Identifier: MIT */
/* Shared parts of the device interface: error codes, dispatch, the monotonic clock. */
#include "cw_transport.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

const char *cw_err_code_name(cw_code code)
{
    switch (code) {
    case CW_OK:
        return "ok";
    case CW_E_NO_DEVICE:
        return "no_device";
    case CW_E_ACCESS:
        return "access";
    case CW_E_BUSY:
        return "busy";
    case CW_E_TIMEOUT:
        return "timeout";
    case CW_E_STALL:
        return "stall";
    case CW_E_OVERFLOW:
        return "overflow";
    case CW_E_IO:
        return "io";
    case CW_E_UNSUPPORTED:
        return "unsupported";
    case CW_E_INVALID:
        return "invalid";
    case CW_E_NO_MEMORY:
        return "no_memory";
    }
    return "io";
}

int cw_err_set(cw_err *err, cw_code code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return (int)code;
}

int cw_dev_control(cw_dev *dev, uint8_t bm_request_type, uint8_t b_request, uint16_t w_value,
                   uint16_t w_index, uint8_t *data, uint16_t w_length, unsigned timeout_ms,
                   size_t *actual, cw_err *err)
{
    *actual = 0;
    if (dev->ops->control == NULL)
        return cw_err_set(err, CW_E_UNSUPPORTED, "%s: no control transfers on this device",
                          dev->ops->name);
    return dev->ops->control(dev, bm_request_type, b_request, w_value, w_index, data, w_length,
                             timeout_ms, actual, err);
}

int cw_dev_bulk(cw_dev *dev, uint8_t ep, uint8_t *data, size_t len, unsigned timeout_ms,
                size_t *actual, cw_err *err)
{
    *actual = 0;
    if (dev->ops->bulk == NULL)
        return cw_err_set(err, CW_E_UNSUPPORTED, "%s: no bulk transfers on this device",
                          dev->ops->name);
    return dev->ops->bulk(dev, ep, data, len, timeout_ms, actual, err);
}

static int no_stream(cw_dev *dev, cw_err *err)
{
    return cw_err_set(err, CW_E_UNSUPPORTED, "%s: not a serial port", dev->ops->name);
}

int cw_dev_line_config(cw_dev *dev, const cw_line_cfg *cfg, cw_line_cfg *applied, cw_err *err)
{
    if (dev->ops->line_config == NULL)
        return no_stream(dev, err);
    return dev->ops->line_config(dev, cfg, applied, err);
}

int cw_dev_stream_read(cw_dev *dev, uint8_t *buf, size_t len, unsigned timeout_ms, size_t *actual,
                       cw_err *err)
{
    *actual = 0;
    if (dev->ops->stream_read == NULL)
        return no_stream(dev, err);
    return dev->ops->stream_read(dev, buf, len, timeout_ms, actual, err);
}

int cw_dev_stream_write(cw_dev *dev, const uint8_t *buf, size_t len, unsigned timeout_ms,
                        size_t *actual, cw_err *err)
{
    *actual = 0;
    if (dev->ops->stream_write == NULL)
        return no_stream(dev, err);
    return dev->ops->stream_write(dev, buf, len, timeout_ms, actual, err);
}

int cw_dev_stream_queued(cw_dev *dev, size_t *rx, size_t *tx, cw_err *err)
{
    *rx = *tx = 0;
    if (dev->ops->stream_queued == NULL)
        return no_stream(dev, err);
    return dev->ops->stream_queued(dev, rx, tx, err);
}

int cw_dev_stream_flush(cw_dev *dev, int input, int output, cw_err *err)
{
    if (dev->ops->stream_flush == NULL)
        return no_stream(dev, err);
    return dev->ops->stream_flush(dev, input, output, err);
}

int cw_dev_set_line(cw_dev *dev, cw_line line, int on, cw_err *err)
{
    if (dev->ops->set_line == NULL)
        return no_stream(dev, err);
    return dev->ops->set_line(dev, line, on, err);
}

int cw_dev_get_lines(cw_dev *dev, unsigned *mask, cw_err *err)
{
    *mask = 0;
    if (dev->ops->get_lines == NULL)
        return no_stream(dev, err);
    return dev->ops->get_lines(dev, mask, err);
}

uint64_t cw_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int (*interrupt_check)(void) = NULL;

void cw_set_interrupt_check(int (*check)(void))
{
    interrupt_check = check;
}

void cw_monotonic_sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
                          .tv_nsec = (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        if (interrupt_check != NULL && interrupt_check())
            return; /* SIGINT/SIGTERM: the run is stopping, don't make it wait */
    }
}

uint64_t cw_dev_now_ns(cw_dev *dev)
{
    return dev->ops->now_ns ? dev->ops->now_ns(dev) : cw_monotonic_ns();
}

void cw_dev_sleep_ns(cw_dev *dev, uint64_t ns)
{
    if (dev->ops->sleep_ns)
        dev->ops->sleep_ns(dev, ns);
    else
        cw_monotonic_sleep_ns(ns);
}

void cw_dev_close(cw_dev *dev)
{
    if (dev != NULL)
        dev->ops->close(dev);
}
