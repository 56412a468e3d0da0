/* SPDX-License-Identifier: MIT */
/* libcwsim: a simulated ChipWhisperer capture board (CW-Lite, CW1200 Pro, CW-Husky,
 * CW-Nano) at the USB level, its wiring to a target chip, virtual time, faults and the state
 * folder. Plain C11, libc and libm only; no Lua, libusb, GLib or umockdev.
 *
 * Documents: contract.md §4 (time) and §5 (the simulator); cw-usb-protocol.md (the board as
 * shipped: §1 identity, §2 requests, §3 bitstream, §4 registers, §5 USART bridge, §7 per-device
 * differences, §8 errors, §9 simulator notes). docs/simulator.md explains the model and every
 * known deviation from real hardware.
 *
 * Conventions:
 *  - A cwsim is one simulated world. It is not thread-safe: call it from one thread at a time.
 *  - Functions that can fail take (char *err, size_t errlen); on failure they write a one-line
 *    message there (when err != NULL). The library never prints.
 *  - Times are virtual nanoseconds since cwsim_new().
 */
#ifndef CWLUA_SIM_CWSIM_H
#define CWLUA_SIM_CWSIM_H

/* The chip interface: the world and board types (cwsim, cwsim_board), UART frames, pins,
 * cwsim_target_ops and the calls a chip makes (target side, fault queries, state blobs). */
#include "cwsim_chip.h"
/* The board firmware's programming engines (XPROG, V2/ISP). */
#include "cwsim_engines.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cwsim_kind { CWSIM_CWLITE, CWSIM_CW1200, CWSIM_HUSKY, CWSIM_NANO } cwsim_kind;

/* Transfer results (negative); what a real host would see is in brackets. */
#define CWSIM_STALL   (-1) /* endpoint stalls (EPIPE; LIBUSB_ERROR_PIPE) */
#define CWSIM_TIMEOUT (-2) /* no answer within the transfer's timeout (ETIMEDOUT) */
#define CWSIM_NODEV   (-3) /* device gone (ENODEV), e.g. unplug-after, after 0x22/0x10 reset */
#define CWSIM_INVALID (-4) /* not a valid transfer: no such endpoint, NULL buffer (EINVAL) */
#define CWSIM_OVERFLOW                                                                             \
    (-5) /* device sent more than asked for (EOVERFLOW; cw-usb-protocol.md §2.1)                  \
          */

/* ---- the world ------------------------------------------------------------------------- */

int cwsim_new(cwsim **out, char *err, size_t errlen); /* 0 ok */
void cwsim_free(cwsim *sim);                          /* also closes the state folder */
/* A libcwsim function that fails because an allocation failed says so in a message ending in
 * "out of memory". cwsim_err_is_oom(err) tells that message from the others (an unknown part,
 * a state folder in use), so that a caller reports running out of memory as such (contract.md
 * §3.8: exit 1), not as a bad argument. 1 yes, 0 no (NULL is no). */
int cwsim_err_is_oom(const char *err);

/* "cwlite", "cw1200", "husky", "nano" -> kind; 0 ok, -1 unknown name. */
int cwsim_kind_from_name(const char *name, cwsim_kind *out);
const char *cwsim_kind_name(cwsim_kind kind); /* the name above */

/* ---- virtual time (contract.md §4, §5) ------------------------------------------------------- */

uint64_t cwsim_now_ns(const cwsim *sim);
/* Let ns of virtual time pass: the UART lines shift, targets run their timers. Counted as
 * host wait time (counters.wait_ns). Transfers advance time by themselves. */
void cwsim_advance_ns(cwsim *sim, uint64_t ns);
void cwsim_set_usb_latency_ns(cwsim *sim, uint64_t ns); /* per control transfer; default 500000 */
uint64_t cwsim_usb_latency_ns(const cwsim *sim);
/* --sim-usb-latency MS, the one rule for every front end (in-process cwlua, sim attach): a
 * decimal number of milliseconds from 0 to CWSIM_USB_LATENCY_MAX_MS. Beyond 10 s a control
 * transfer would outlast every host timeout, so no run could work. 0 ok (*ms set); -1 and the
 * line "--sim-usb-latency 'TEXT': expected milliseconds from 0 to 10000" (no "cwsim:" prefix:
 * it is the option's message, printed the same way by each command line). */
#define CWSIM_USB_LATENCY_MAX_MS 10000
int cwsim_usb_latency_parse(const char *text, double *ms, char *err, size_t errlen);

typedef struct cwsim_counters {
    uint64_t now_ns;          /* virtual time */
    uint64_t wait_ns;         /* time passed in cwsim_advance_ns (host sleeps) */
    uint64_t usb_ns;          /* time spent in USB transfers */
    uint64_t wire_ns;         /* time a target UART line (either direction) carried a frame */
    uint64_t flash_ns;        /* time targets spent erasing/programming (cwsim_count_flash_ns) */
    uint64_t uart_to_target;  /* bytes the board's USART shifted out towards the target */
    uint64_t uart_from_board; /* of those, bytes that reached the target's RX pin */
    uint64_t uart_to_board;   /* bytes the target shifted out on its TX pin */
    uint64_t uart_rx;         /* bytes the board's USART received (stored or dropped) */
    uint64_t uart_rx_dropped; /* received bytes dropped because the RX buffer was full */
    uint64_t uart_tx_dropped; /* bytes dropped because the TX buffer was full */
    uint64_t ctrl_in;         /* control transfers, device-to-host (incl. standard requests) */
    uint64_t ctrl_out;        /* control transfers, host-to-device */
    uint64_t bulk_in;         /* bulk (and interrupt) transfers IN */
    uint64_t bulk_out;        /* bulk transfers OUT */
    uint64_t bulk_in_bytes, bulk_out_bytes;
    uint64_t stalls;   /* transfers answered CWSIM_STALL */
    uint64_t timeouts; /* transfers answered CWSIM_TIMEOUT */
} cwsim_counters;

void cwsim_counters_get(const cwsim *sim, cwsim_counters *out);           /* all boards */
void cwsim_board_counters_get(const cwsim_board *b, cwsim_counters *out); /* one board */
void cwsim_counters_reset(cwsim *sim); /* zero every counter except now_ns */
/* cwsim_count_flash_ns: cwsim_chip.h */

/* ---- PRNG for random faults (contract.md §5 --sim-seed) -------------------------------------- */

void cwsim_seed(cwsim *sim, uint64_t seed); /* default seed 1 */
uint64_t cwsim_random_u64(cwsim *sim);
double cwsim_random_unit(cwsim *sim); /* uniform in [0, 1) */

/* ---- the ADC's noise (contract.md §5 --sim-noise) ------------------------------------------ */

/* Standard deviation of the Gaussian noise the simulated ADC adds to every sample, in full-scale
 * units at the ADC input (a full scale is 1.0: the samples span [-0.5, 0.5)). Drawn from its own
 * stream, seeded by cwsim_seed, so a capture is the same for the same seed whatever else drew
 * random numbers. */
#define CWSIM_NOISE_DEFAULT 0.01
#define CWSIM_NOISE_MAX     1.0
void cwsim_set_noise(cwsim *sim, double sigma); /* clamped to [0, CWSIM_NOISE_MAX] */
double cwsim_noise(const cwsim *sim);
/* --sim-noise SIGMA, the one rule for every front end: a decimal number from 0 to
 * CWSIM_NOISE_MAX. 0 ok (*sigma set); -1 and the line "--sim-noise 'TEXT': expected a standard
 * deviation from 0 to 1 (full-scale units)" (no "cwsim:" prefix, as for --sim-usb-latency). */
int cwsim_noise_parse(const char *text, double *sigma, char *err, size_t errlen);

/* ---- faults (contract.md §5 --sim-fault NAME[=VALUE]) ---------------------------------------- */

/* Set a fault for the whole world (all boards, present and future). value NULL: the fault's
 * default (an error for faults that need a value). Unknown name: -1 and a message listing the
 * valid names. 0 ok. */
int cwsim_fault_set(cwsim *sim, const char *name, const char *value, char *err, size_t errlen);
/* "NAME" or "NAME=VALUE", as given to --sim-fault. */
int cwsim_fault_parse(cwsim *sim, const char *spec, char *err, size_t errlen);
int cwsim_fault_clear(cwsim *sim, const char *name); /* 0 ok, -1 unknown name */
/* cwsim_fault_on, cwsim_fault_number, cwsim_fault_value: cwsim_chip.h */

typedef struct cwsim_fault_info {
    const char *name;    /* "uart-swapped" */
    const char *arg;     /* value syntax, "" for a flag: "N", "P", "PCT", "VER", "F", "SECTORS" */
    const char *deflt;   /* default value text, NULL when a value is required or it is a flag */
    const char *summary; /* one line */
    int live;            /* 1: acts in this library now; 0: parsed and stored for target chips */
    int persistent;      /* 1: sets chip state kept in the state folder */
} cwsim_fault_info;
const cwsim_fault_info *cwsim_fault_table(size_t *count);

/* ---- the --sim-* options (contract.md §3, §5) ------------------------------------------------ */

/* Every option that sets up a simulated world from a command line, in one table: cwlua's global
 * options for -d sim are made from it (scripts/cwlua/cli.lua, through cwlua.core.device) and
 * `cwlua sim attach` parses and documents exactly these (tools/simattach), so the two cannot
 * drift apart. A front end handles each id in a switch without a default: a new option left
 * unhandled is a -Wswitch warning. */
typedef enum cwsim_option_id {
    CWSIM_OPT_TARGET,      /* PART: the chip on the board */
    CWSIM_OPT_STATE,       /* DIR: the state folder */
    CWSIM_OPT_FAULT,       /* NAME[=VALUE], repeatable: cwsim_fault_parse */
    CWSIM_OPT_USB_LATENCY, /* MS: cwsim_usb_latency_parse */
    CWSIM_OPT_SEED,        /* N: cwsim_seed */
    CWSIM_OPT_NOISE,       /* SIGMA: cwsim_noise_parse */
    CWSIM_OPT_APP,         /* APP: the application model the chip runs */
    CWSIM_OPT_COUNT
} cwsim_option_id;
typedef struct cwsim_option_info {
    cwsim_option_id id;
    const char *name; /* the long option without its dashes: "sim-target" */
    const char *arg;  /* its value's metavariable: "PART" */
    int multi;        /* repeatable */
    const char *help; /* what it sets, lower case, lines of at most 64 columns joined by '\n' */
} cwsim_option_info;
const cwsim_option_info *cwsim_option_table(size_t *count); /* CWSIM_OPT_COUNT entries, id order */

/* ---- boards ------------------------------------------------------------------------------ */

/* Plug a board into the world. serial NULL: a default serial, distinct per board (32 lower-case
 * hex digits like the real ones, cw-usb-protocol.md §1.1). NULL on error (duplicate serial...). */
cwsim_board *cwsim_board_add(cwsim *sim, cwsim_kind kind, const char *serial, char *err,
                             size_t errlen);
size_t cwsim_board_count(const cwsim *sim);
cwsim_board *cwsim_board_at(cwsim *sim, size_t i);             /* NULL if out of range */
cwsim_board *cwsim_board_find(cwsim *sim, const char *serial); /* NULL if none */
/* cwsim_board_sim: cwsim_chip.h */

cwsim_kind cwsim_board_kind(const cwsim_board *b);
const char *cwsim_board_serial(const cwsim_board *b);
const char *cwsim_board_product(const cwsim_board *b);      /* iProduct, "ChipWhisperer Lite" */
const char *cwsim_board_manufacturer(const cwsim_board *b); /* the iManufacturer string (§1.1) */
uint16_t cwsim_board_vid(const cwsim_board *b);
uint16_t cwsim_board_pid(const cwsim_board *b);
uint16_t cwsim_board_bcd_device(const cwsim_board *b);
unsigned cwsim_board_speed_mbps(const cwsim_board *b); /* sysfs "speed": 480 or 12 */
uint8_t cwsim_board_ep_bulk_in(const cwsim_board *b);  /* vendor bulk IN: 0x81 (Husky 0x85) */
uint8_t cwsim_board_ep_bulk_out(const cwsim_board *b); /* vendor bulk OUT: 0x02 (Husky 0x06) */
/* The firmware version the board reports (0x17), old-firmware applied. */
void cwsim_board_fw_version(const cwsim_board *b, uint8_t ver[3]);

/* The bytes of the device descriptor followed by the full configuration descriptor, exactly as
 * Linux exposes them in sysfs "descriptors" (what libusb reads). The pointer stays valid while
 * the board exists. */
size_t cwsim_board_descriptors(const cwsim_board *b, const uint8_t **out);

/* Any control transfer, standard (GET_DESCRIPTOR incl. string, device qualifier and BOS
 * descriptors, GET_STATUS, SET/GET_CONFIGURATION, SET/GET_INTERFACE, SET/CLEAR_FEATURE
 * (ENDPOINT_HALT), SET_ADDRESS), CDC class or vendor.
 * IN (bmRequestType & 0x80): fills data (up to wLength) and returns the byte count.
 * OUT: reads wLength bytes from data and returns wLength.
 * Errors: CWSIM_STALL / CWSIM_TIMEOUT / CWSIM_NODEV / CWSIM_OVERFLOW / CWSIM_INVALID.
 * Advances virtual time by the control latency (the request acts at its midpoint).
 * timeout_ms: only used when the transfer times out (0 = libusb's "forever": the call returns
 * CWSIM_TIMEOUT without waiting). */
int cwsim_board_control(cwsim_board *b, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue,
                        uint16_t wIndex, uint8_t *data, uint16_t wLength, unsigned timeout_ms);

/* Bulk transfer on an endpoint (0x01-style OUT, 0x81-style IN): the vendor pair (register
 * bulk read/write, bitstream) or the CDC data pair (the USB-serial copy of the USART).
 * An IN on the CDC notify endpoint (interrupt) is accepted and always times out.
 * Returns bytes transferred or an error code as above. A bulk IN with nothing queued waits
 * (virtual time) up to timeout_ms and returns CWSIM_TIMEOUT, as a NAKing device does
 * (timeout_ms 0, libusb's "forever": CWSIM_TIMEOUT at once). A ZLP is len 0. */
int cwsim_board_bulk(cwsim_board *b, uint8_t endpoint, uint8_t *data, int len, unsigned timeout_ms);

/* The board is present on the bus (not unplugged, not re-enumerating after 0x22/0x10, not in
 * the SAM-BA bootloader after 0x22/0x03). Transfers to an absent board give CWSIM_NODEV. */
int cwsim_board_present(const cwsim_board *b);
/* Incremented each time the board re-enumerates (0x22/0x10 RESET): a handle opened under an
 * older generation is stale on real hardware. */
unsigned cwsim_board_generation(const cwsim_board *b);

/* Simulator-side view (never visible to a host; for tests and `cwlua sim` diagnostics). */
int cwsim_board_fpga_done(const cwsim_board *b); /* DONE pin (Nano: 0) */
/* Register bytes 0..len-1 of FPGA register addr as a host read would return them, without the
 * side effects of a read (no bus lock, no byte-counter change). Returns len. */
size_t cwsim_board_fpga_peek(const cwsim_board *b, unsigned addr, uint8_t *buf, size_t len);
/* Put the board in the state the host's default set-up leaves: the register image of
 * cw-usb-protocol.md §6.1 (Lite/Pro), §6.2 (Husky: also the PLL at 7.37 MHz x4), §6.3 (Nano). The
 * board starts at the register reset values instead (contract.md §5: FPGA configured). */
void cwsim_board_default_setup(cwsim_board *b);

/* UART frames (cwsim_uart_format, cwsim_uart_frame, their time and decoding): cwsim_chip.h. */
/* The SAM USART's fractional divider (§5.1): the baud the board really produces for a requested
 * one at master clock mck_hz (96 MHz Lite/Pro/Husky, 120 MHz Nano). 0 ok, -1 out of range
 * (CD outside 1..65535: the real INIT then fails silently). */
int cwsim_uart_baud_actual(uint32_t requested, uint32_t mck_hz, double *actual);

/* ---- wiring and targets ------------------------------------------------------------------ */

/* Pins and levels, cwsim_target_ops, attaching and detaching a chip, and the calls for the
 * target side: cwsim_chip.h. */

/* What the board puts on the target connector (cw-usb-protocol.md §4.1, §4.3; faults applied). */
typedef struct cwsim_target_view {
    int power;                         /* target 3.3 V on */
    double clock_hz;                   /* HS2 frequency, 0 when HS2 is off/high-Z */
    cwsim_level pins[CWSIM_PIN_COUNT]; /* as driven by the board; CWSIM_Z = not driven */
    int uart_to_target;                /* board TX reaches the chip's RX pin */
    int uart_from_target;              /* chip's TX pin reaches the board's RX */
    cwsim_uart_format uart;            /* the board USART's current format */
    int uart_enabled;                  /* USART TX/RX enabled (0x1B/0x11) */
} cwsim_target_view;
void cwsim_board_target_view(const cwsim_board *b, cwsim_target_view *out);
/* The attached chip's note for the host (cwsim_target_ops.note: "flash-blank"), or NULL when it
 * has none or no chip is attached. A simulator-only hint: hosts show it where a real board
 * would leave the user with a timeout. */
const char *cwsim_board_target_note(const cwsim_board *b);

/* Board-side programming engines (XPROG 0x20, V2/ISP 0x21, in sim/engines/) plug in as vendor
 * hooks called for bRequest 0x20/0x21 on boards that have the engine (not the Nano):
 * return bytes (IN), wLength (OUT), or CWSIM_STALL. Without a hook the request stalls. */
typedef int (*cwsim_vendor_hook)(void *ctx, cwsim_board *b, uint8_t bmRequestType, uint8_t bRequest,
                                 uint16_t wValue, uint16_t wIndex, uint8_t *data, uint16_t wLength);
int cwsim_board_set_vendor_hook(cwsim_board *b, uint8_t bRequest, cwsim_vendor_hook hook,
                                void *ctx); /* 0 ok, -1 bRequest not 0x20/0x21 */
/* The engines themselves (XPROG, V2/ISP) and the timeout counter they share: cwsim_engines.h. */

/* The wire as the engines see it: 0 ok, -1 not connected (unrouted, unpowered, pdi-open,
 * isp-open, no target) — an unconnected MISO/PDID reads 0xFF. The PDI lines belong to the
 * SAM's USART while the XPROG engine holds them; the FPGA driving PDIC or PDID as a GPIO at
 * the same time (IOROUTE byte 6) fights it and the chip hears nothing (inferred: the host
 * releases both pins before programming, target-protocols.md §1.2). Time on the PDI wire is the
 * engine's to pass (it knows its clock). */
int cwsim_board_isp_exchange(cwsim_board *b, uint8_t mosi, double sck_hz, uint8_t *miso);
int cwsim_board_pdi_send(cwsim_board *b, uint8_t byte);
int cwsim_board_pdi_recv(cwsim_board *b, uint8_t *byte);
/* The PDI master takes (on = 1) or releases (on = 0) the PDI lines: tells the chip through
 * pdi_link. 0 ok, -1 not connected (as above; the chip is still told when the lines go). */
int cwsim_board_pdi_link(cwsim_board *b, int on);

/* Attach a target chip by name: a part ("stm32f100xb"), a recipe name ("stm32f1"), a
 * ChipWhisperer PLATFORM alias ("CW308_STM32F1"), or "loopback". app: the application model
 * where the chip has one (contract.md §5 --sim-app), NULL for the default. 0 ok; -1 with a message
 * listing the known parts. */
int cwsim_attach_part(cwsim_board *b, const char *part, const char *app, char *err, size_t errlen);

/* The trivial loop-back target for tests (cwsim_loopback_attach) is a chip: cwsim_loopback.h. */

/* ---- state folder (contract.md §5 --sim-state) ----------------------------------------------- */

/* Open (creating it and its parents) the state folder and lock it with an exclusive flock.
 * dir NULL: the default, $XDG_STATE_HOME/cwlua/sim (~/.local/state/cwlua/sim). Fails with a
 * clear message when another process holds it. 0 ok. */
int cwsim_state_open(cwsim *sim, const char *dir, char *err, size_t errlen);
/* The state folder of the board with this serial number (contract.md §5.5): DIR/boards/SERIAL,
 * a state folder of its own (format file, lock), opened as cwsim_state_open does. A board with
 * a serial of its own keeps its chips there, as a real board keeps its target: two simulators
 * with different boards can use one DIR at the same time, and boards never share a chip's
 * memory. In SERIAL, a character other than a letter, a digit, '_', '-' or a '.' after the
 * first is written %XX (hex). dir NULL: the default folder. 0 ok. */
int cwsim_state_open_board(cwsim *sim, const char *dir, const char *serial, char *err,
                           size_t errlen);
void cwsim_state_close(cwsim *sim); /* unlock; also done by cwsim_free */
/* The default folder into buf. 0 ok, -1 no $XDG_STATE_HOME and no $HOME, or too long. */
int cwsim_state_default_dir(char *buf, size_t len, char *err, size_t errlen);
/* cwsim_state_dir and the named blobs (save, load, remove): cwsim_chip.h */
/* Write one blob atomically into the folder dir (temporary file, fsync, rename): what
 * cwsim_state_save does by default, in the caller's thread. 0 ok. */
int cwsim_state_write(const char *dir, const char *name, const void *data, size_t len, char *err,
                      size_t errlen);
/* Who writes the blobs cwsim_state_save is given (a chip's autosave among them). A program
 * paced in real time (cwlua sim serve) must not wait for the disk while it serves: its writer
 * copies the blob and has cwsim_state_write run elsewhere. data is only valid during the call.
 * Return 0 when taken, or -1 with a message in err. NULL restores the default. */
typedef int (*cwsim_state_writer)(void *ctx, const char *dir, const char *name, const void *data,
                                  size_t len, char *err, size_t errlen);
void cwsim_state_set_writer(cwsim *sim, cwsim_state_writer writer, void *ctx);

#ifdef __cplusplus
}
#endif

#endif
