/* SPDX-License-Identifier: MIT */
/* A simulated USB-serial adapter on a umockdev testbed, wired to a simulated STM32
 * (test-harnesses.md §2.2, variant A). Two programs build one: `cwlua sim adapter`
 * (tools/simadapter) for users, and the serial-adapter tests' rig (tests/serial/serial_rig.c),
 * which adds the adapter's own faults and a relay. What they share is here, so the tests drive
 * the same adapter users get:
 *
 *   - the testbed declares the adapter on USB (VID:PID, strings) with its tty, so libserialport
 *     finds /dev/ttyUSB0 or /dev/ttyACM0 with its USB description; umockdev backs the node with
 *     a pty whose master end is the adapter's wire;
 *   - an ioctl handler, on umockdev's thread, answers the modem-line ioctls a pty refuses
 *     (TIOCMGET/BIS/BIC/SET, TIOCSBRK/CBRK) as the adapter's driver would and queues each change
 *     of DTR, RTS and break with its time; every other ioctl goes to the pty;
 *   - the wire is paced in real time: each byte the client writes occupies it for one frame at
 *     the client's format and reaches the chip when its stop bit ends; the chip's replies are
 *     decoded in the client's format. The format comes from the pty's termios and the parity
 *     shim's marker (tools/ptyshim/ptyshim_common.h).
 *
 * One thread (the caller's main loop) uses the rest; usbserial_next_change hands it the line
 * changes the ioctl thread queued. */
#ifndef CWLUA_TOOLS_COMMON_USBSERIAL_H
#define CWLUA_TOOLS_COMMON_USBSERIAL_H

#include "cwsim_stm32.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <termios.h>
#include <umockdev.h>

#define USBSERIAL_CHANGES 256   /* line changes between two turns of the main loop */
#define USBSERIAL_INQ     8192  /* client bytes on their way to the chip */
#define USBSERIAL_OUTQ    65536 /* chip bytes waiting for the client */

/* Where a chip pin's level comes from. DTR and RTS are the adapter's active-low DTR#/RTS# pins
 * wired straight (asserted: low); !dtr and !rts go through an inverting transistor; brk is TX
 * held low during a break; high and low are tied (a jumper). */
typedef enum usbserial_wire {
    WIRE_HIGH,
    WIRE_LOW,
    WIRE_DTR,
    WIRE_RTS,
    WIRE_NDTR,
    WIRE_NRTS,
    WIRE_BRK
} usbserial_wire;

/* The lines after one change: TIOCM_* bits and whether a break is on, at t_ns. */
typedef struct usbserial_lines {
    uint64_t t_ns;
    int modem, brk;
} usbserial_lines;

/* A byte on the wire toward the chip, in the format the client sent it, until end_ns. */
typedef struct usbserial_byte {
    uint8_t byte;
    cwsim_uart_format fmt;
    uint64_t end_ns;
} usbserial_byte;

/* The adapter as the client sees it on USB. A port named ttyACM* is a CDC-ACM device
 * (cdc_acm, major 166), any other a vendor-class one (ftdi_sio, ttyUSB, major 188). */
typedef struct usbserial_usb {
    const char *port;      /* "ttyUSB0", "ttyACM0" */
    const char *vid, *pid; /* hex, "0403" */
    const char *manufacturer, *product, *serial;
} usbserial_usb;

typedef struct usbserial {
    /* shared with umockdev's ioctl thread, under lock */
    GMutex lock;
    int modem, brk;
    usbserial_lines changes[USBSERIAL_CHANGES];
    size_t ch_head, ch_len;
    int wake[2]; /* the ioctl thread writes a byte to wake[1] on each change */
    uint64_t t0; /* CLOCK_MONOTONIC at usbserial_init: time 0 of every *_ns here */

    /* main thread */
    UMockdevTestbed *tb;
    char devnode[64];  /* /dev/<port> */
    char syspath[256]; /* the tty's device in the testbed's sysfs */
    char slave[64];    /* the pty slave behind devnode */
    int master, keep;  /* the pty master (the wire, non-blocking); the slave, kept open */
    usbserial_byte inq[USBSERIAL_INQ];
    size_t in_head, in_len;
    uint64_t wire_free_ns; /* when the wire toward the chip is free for the next frame */
    uint8_t outq[USBSERIAL_OUTQ];
    size_t out_len;
} usbserial;

/* u starts zeroed (the programs keep theirs in static storage: the queues are large). Time 0
 * is now; the lines start as start_modem (TIOCM_* bits), no break. -1 with errno when the
 * wake-up pipe cannot be made. */
int usbserial_init(usbserial *u, int start_modem);
/* Nanoseconds since usbserial_init. */
uint64_t usbserial_now_ns(const usbserial *u);

/* "high", "low", "dtr", "rts", "!dtr", "!rts", "brk": 0, or -1 for another name. */
int usbserial_wire_parse(const char *name, usbserial_wire *w);
/* A pin's level (1 high, 0 low) wired as w, with the lines in modem and brk. */
int usbserial_level(usbserial_wire w, int modem, int brk);

/* Declare the adapter on a new testbed, answer its ioctls, open the pty slave behind it and
 * set it raw at keep_speed. 0, or -1 with a message in err (the testbed may be left made:
 * the caller is exiting). */
int usbserial_testbed(usbserial *u, const usbserial_usb *usb, speed_t keep_speed, char *err,
                      size_t errlen);
/* The testbed and its pty gone; detach: the ioctl handler is still attached (the device was
 * not removed). */
void usbserial_free(usbserial *u, int detach);

/* The next queued line change into *c: 1, or 0 when there is none. */
int usbserial_next_change(usbserial *u, usbserial_lines *c);
/* Empty the wake-up pipe (poll wake[0] for a change). */
void usbserial_drain_wake(usbserial *u);

/* The client's frame format: the speed and stop bits from the pty's termios (read through the
 * master), the parity from the shim's marker: CMSPAR = parity (+ PARODD: odd), PARODD alone =
 * none, no marker = unknown (*bare = 1: no shim, or the client never set the port up). */
cwsim_uart_format usbserial_client_format(const usbserial *u, int *bare);

/* Read what the client wrote, up to size bytes and no more than the wire's queue has room
 * for: read(2)'s result. */
ssize_t usbserial_read_client(usbserial *u, uint8_t *buf, size_t size);
/* Put n client bytes on the wire toward the chip, one frame after the other in the client's
 * format (no marker: the 8E1 the bootloader expects). */
void usbserial_send(usbserial *u, const uint8_t *buf, size_t n);
/* Hand chip the next byte whose stop bit has ended by now: 1, or 0 when none is due. */
int usbserial_deliver(usbserial *u, cwsim_stm32 *chip, uint64_t now);
/* The chip's transmitter (cwsim_stm32_set_tx with ctx = the usbserial): a frame the chip
 * sent, as the adapter's receiver reads it in the client's format, queued for the client. */
void usbserial_chip_tx(void *ctx, const cwsim_uart_frame *frame, uint64_t end_ns);
/* Write the queued chip bytes to the client, as many as the pty takes now. */
void usbserial_flush(usbserial *u);
/* How long the main loop may sleep, at most max_ms: until chip's next event or the next byte's
 * stop bit on the wire. */
int usbserial_poll_ms(const usbserial *u, const cwsim_stm32 *chip, int max_ms);

#endif
