/* SPDX-License-Identifier: MIT */
/* The device interface every backend implements (style.md §2.5): USB-style control and bulk
 * transfers, serial lines, and the clock the backend runs on (monotonic time on hardware, the
 * simulator's virtual time on the simulator; contract.md §4). No Lua here, and backends never
 * print: they return a cw_err with a stable code and a one-line message. */
#ifndef CWLUA_TRANSPORT_CW_TRANSPORT_H
#define CWLUA_TRANSPORT_CW_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

/* Stable error codes; cw_err_code_name() gives the word Lua code branches on. */
typedef enum cw_code {
    CW_OK = 0,
    CW_E_NO_DEVICE,   /* "no_device": nothing there, or it went away */
    CW_E_ACCESS,      /* "access": permission denied */
    CW_E_BUSY,        /* "busy": claimed by another program */
    CW_E_TIMEOUT,     /* "timeout" */
    CW_E_STALL,       /* "stall": the device refused the request (USB STALL / EPIPE) */
    CW_E_OVERFLOW,    /* "overflow": the device sent more than asked for */
    CW_E_IO,          /* "io": anything else on the wire */
    CW_E_UNSUPPORTED, /* "unsupported": this backend or board cannot do it */
    CW_E_INVALID,     /* "invalid": bad arguments that reached the backend */
    CW_E_NO_MEMORY,   /* "no_memory" */
} cw_code;

typedef struct cw_err {
    cw_code code;
    char msg[256];
} cw_err;

const char *cw_err_code_name(cw_code code);
/* Fill err (when not NULL) and return code. */
int cw_err_set(cw_err *err, cw_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What a backend tells about the device it opened. */
typedef struct cw_dev_info {
    char backend[16];  /* "sim", "libusb", "serialport" */
    char kind[16];     /* "cwlite", "cw1200", "husky", "nano", "serial" */
    char serial[64];   /* USB serial number, or the port path */
    char product[64];  /* USB product string */
    uint16_t vid, pid; /* 0 for plain serial ports */
    uint8_t ep_bulk_in, ep_bulk_out;
} cw_dev_info;

typedef struct cw_dev cw_dev;

/* A serial line's frame format (serial-stream operations below). */
typedef enum cw_parity {
    CW_PARITY_NONE,
    CW_PARITY_ODD,
    CW_PARITY_EVEN,
    CW_PARITY_MARK,
    CW_PARITY_SPACE,
} cw_parity;

typedef struct cw_line_cfg {
    uint32_t baud;
    uint8_t bits; /* 5..8 */
    cw_parity parity;
    uint8_t stop_bits; /* 1 or 2 */
} cw_line_cfg;

/* Output lines of a serial port. */
typedef enum cw_line { CW_LINE_DTR, CW_LINE_RTS, CW_LINE_BREAK } cw_line;

/* Input lines of a serial port (get_lines). */
#define CW_IN_CTS 0x1u
#define CW_IN_DSR 0x2u
#define CW_IN_DCD 0x4u
#define CW_IN_RI  0x8u

/* A backend's operations. NULL members mean "unsupported". Every blocking call takes a
 * timeout in milliseconds; 0 is rejected by the callers (libusb and libserialport read 0 as
 * "forever"). */
typedef struct cw_dev_ops {
    const char *name;
    void (*close)(cw_dev *dev);
    /* Control transfer. bmRequestType bit 7 gives the direction; for IN, *actual gets the
     * bytes received into data (at most wLength). */
    int (*control)(cw_dev *dev, uint8_t bm_request_type, uint8_t b_request, uint16_t w_value,
                   uint16_t w_index, uint8_t *data, uint16_t w_length, unsigned timeout_ms,
                   size_t *actual, cw_err *err);
    /* Bulk transfer on endpoint ep (bit 7 set: IN). */
    int (*bulk)(cw_dev *dev, uint8_t ep, uint8_t *data, size_t len, unsigned timeout_ms,
                size_t *actual, cw_err *err);
    uint64_t (*now_ns)(cw_dev *dev);
    void (*sleep_ns)(cw_dev *dev, uint64_t ns);
    /* Serial-stream operations (plain serial adapters, cw_serialport.h). The data path never
     * blocks longer than timeout_ms and reports an adapter that went away as CW_E_NO_DEVICE. */
    int (*line_config)(cw_dev *dev, const cw_line_cfg *cfg, cw_line_cfg *applied, cw_err *err);
    /* Wait up to timeout_ms for the first byte, then return what is there (at most len);
     * *actual = 0 after a quiet timeout, which is not an error. */
    int (*stream_read)(cw_dev *dev, uint8_t *buf, size_t len, unsigned timeout_ms, size_t *actual,
                       cw_err *err);
    /* Queue up to len bytes within timeout_ms; *actual tells how many were taken. */
    int (*stream_write)(cw_dev *dev, const uint8_t *buf, size_t len, unsigned timeout_ms,
                        size_t *actual, cw_err *err);
    /* Bytes received and not read yet, bytes written and not sent yet. */
    int (*stream_queued)(cw_dev *dev, size_t *rx, size_t *tx, cw_err *err);
    /* Discard received (input) and/or unsent (output) bytes. */
    int (*stream_flush)(cw_dev *dev, int input, int output, cw_err *err);
    /* Set an output line: DTR or RTS asserted (on = 1) or not, or a break (TX held low). */
    int (*set_line)(cw_dev *dev, cw_line line, int on, cw_err *err);
    /* The input lines, a mask of CW_IN_* bits. */
    int (*get_lines)(cw_dev *dev, unsigned *mask, cw_err *err);
} cw_dev_ops;

struct cw_dev {
    const cw_dev_ops *ops;
    cw_dev_info info;
};

/* Operations, each checking for an unsupported op. */
int cw_dev_control(cw_dev *dev, uint8_t bm_request_type, uint8_t b_request, uint16_t w_value,
                   uint16_t w_index, uint8_t *data, uint16_t w_length, unsigned timeout_ms,
                   size_t *actual, cw_err *err);
int cw_dev_bulk(cw_dev *dev, uint8_t ep, uint8_t *data, size_t len, unsigned timeout_ms,
                size_t *actual, cw_err *err);
/* Serial-stream operations, each checking for an unsupported op (see cw_dev_ops). */
int cw_dev_line_config(cw_dev *dev, const cw_line_cfg *cfg, cw_line_cfg *applied, cw_err *err);
int cw_dev_stream_read(cw_dev *dev, uint8_t *buf, size_t len, unsigned timeout_ms, size_t *actual,
                       cw_err *err);
int cw_dev_stream_write(cw_dev *dev, const uint8_t *buf, size_t len, unsigned timeout_ms,
                        size_t *actual, cw_err *err);
int cw_dev_stream_queued(cw_dev *dev, size_t *rx, size_t *tx, cw_err *err);
int cw_dev_stream_flush(cw_dev *dev, int input, int output, cw_err *err);
int cw_dev_set_line(cw_dev *dev, cw_line line, int on, cw_err *err);
int cw_dev_get_lines(cw_dev *dev, unsigned *mask, cw_err *err);
uint64_t cw_dev_now_ns(cw_dev *dev);
void cw_dev_sleep_ns(cw_dev *dev, uint64_t ns);
void cw_dev_close(cw_dev *dev); /* frees dev */

/* The monotonic clock (hardware backends, and the runtime when no simulator is open). */
uint64_t cw_monotonic_ns(void);
void cw_monotonic_sleep_ns(uint64_t ns);
/* A sleep interrupted by a signal ends early when check() returns non-zero (the runtime's
 * SIGINT/SIGTERM record): the run is stopping. */
void cw_set_interrupt_check(int (*check)(void));

#endif
