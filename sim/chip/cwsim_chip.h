/* SPDX-License-Identifier: MIT */
/* libcwsim's chip interface: all that a simulated target chip sees of the board it is plugged
 * into and of the world it lives in. ("Target" is ChipWhisperer's word for the chip on the
 * board's 20-pin connector, hence the cwsim_target_ names.)
 *
 * Layering: a chip model (sim/stm32, sim/xmega, sim/avr, sim/loopback) includes this header,
 * the shared application model (cwsim_ssapp.h) if it runs one, and its own headers, never the
 * board's (cwsim.h, sim_internal.h) and never another chip's. The board core knows no chip: it
 * reaches whatever is attached only through cwsim_target_ops. cwsim.h includes this header, so
 * a host (transport, tools, tests) sees all of it.
 *
 * The two directions:
 *  - board -> chip: the cwsim_target_ops callbacks: power, clock (Hz), pin levels (nRST, PDIC
 *    as BOOT0 or /RESET, PDID, TIO1-4, the ISP pins), UART frames arriving and the chip's TX
 *    line freeing, wake-ups at a virtual time, one SPI byte from the board's V2 engine, PDI
 *    frames and the PDI link from its XPROG engine, destroy;
 *  - chip -> board: cwsim_target_uart_send/_busy (frames on the chip's TX pin, with their
 *    timing), cwsim_target_drive (levels the board reads back), cwsim_target_wake_at (the
 *    chip's next event in virtual time);
 *  - chip -> world: the state folder (the chip's memories as named blobs), fault queries (the
 *    chip faults of contract.md §5: read-protected, already-synced, slow-erase...), the flash-time
 *    counter.
 *
 * Conventions as in cwsim.h: not thread-safe; functions that can fail take (err, errlen) and
 * write a one-line message there; times are virtual nanoseconds since cwsim_new(). */
#ifndef CWLUA_SIM_CHIP_CWSIM_CHIP_H
#define CWLUA_SIM_CHIP_CWSIM_CHIP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cwsim cwsim;             /* one simulated world: virtual clock, boards, faults */
typedef struct cwsim_board cwsim_board; /* one board (owned by its cwsim) */

/* ---- the world as a chip uses it --------------------------------------------------------- */

void cwsim_count_flash_ns(cwsim *sim, uint64_t ns); /* chips charge their flash time */

/* Faults (contract.md §5 --sim-fault NAME[=VALUE]); cwsim.h sets them. */
int cwsim_fault_on(const cwsim *sim, const char *name);            /* 1 set, 0 not set or unknown */
double cwsim_fault_number(const cwsim *sim, const char *name);     /* numeric value, 0 if unset */
const char *cwsim_fault_value(const cwsim *sim, const char *name); /* text; NULL if unset */

/* The state folder (contract.md §5 --sim-state); cwsim.h opens it. */
const char *cwsim_state_dir(const cwsim *sim); /* NULL when not open */
/* Named blobs (name: [A-Za-z0-9._-]+, not starting with '.'), written atomically. */
int cwsim_state_save(cwsim *sim, const char *name, const void *data, size_t len, char *err,
                     size_t errlen); /* 0 ok */
/* 0 ok (*data malloc'ed, caller frees), 1 no such blob, -1 error. */
int cwsim_state_load(cwsim *sim, const char *name, void **data, size_t *len, char *err,
                     size_t errlen);
int cwsim_state_remove(cwsim *sim, const char *name, char *err, size_t errlen); /* 0 ok/absent */

/* ---- UART frames ------------------------------------------------------------------------- */

/* Line format of a UART frame (cw-usb-protocol.md §5.1). */
typedef enum cwsim_parity {
    CWSIM_PARITY_NONE,
    CWSIM_PARITY_ODD,
    CWSIM_PARITY_EVEN,
    CWSIM_PARITY_MARK,
    CWSIM_PARITY_SPACE
} cwsim_parity;
typedef struct cwsim_uart_format {
    double baud;         /* bits per second actually on the wire */
    uint8_t data_bits;   /* 5..8 */
    uint8_t parity;      /* cwsim_parity */
    uint8_t stop_halves; /* stop bits x 2: 2 = 1, 3 = 1.5, 4 = 2 */
} cwsim_uart_format;
uint64_t cwsim_uart_frame_ns(const cwsim_uart_format *fmt); /* start+data+parity+stop */

/* One UART frame as it travelled on a wire: the sender's format and the level of each bit slot
 * after the wire's faults (bit i of levels = slot i; slot 0 is the start bit, then data LSB
 * first, parity, stop). A receiver decodes it with its own format. */
typedef struct cwsim_uart_frame {
    uint8_t byte; /* as the sender meant it */
    cwsim_uart_format fmt;
    uint16_t levels;
    uint8_t nslots;
} cwsim_uart_frame;
#define CWSIM_UART_PARITY_ERROR  0x01
#define CWSIM_UART_FRAMING_ERROR 0x02
/* Sample a frame as a receiver with format rx would (bit centres at rx's bit rate, from the
 * start bit's falling edge). Returns the error flags above; *byte gets the data bits. */
unsigned cwsim_uart_frame_decode(const cwsim_uart_frame *f, const cwsim_uart_format *rx,
                                 uint8_t *byte);

/* ---- pins -------------------------------------------------------------------------------- */

typedef enum cwsim_level { CWSIM_Z = 0, CWSIM_LOW = 1, CWSIM_HIGH = 2 } cwsim_level;
typedef enum cwsim_pin {
    CWSIM_PIN_TIO1,
    CWSIM_PIN_TIO2,
    CWSIM_PIN_TIO3,
    CWSIM_PIN_TIO4,
    CWSIM_PIN_NRST,
    CWSIM_PIN_PDIC,
    CWSIM_PIN_PDID,
    CWSIM_PIN_MOSI,
    CWSIM_PIN_MISO,
    CWSIM_PIN_SCK,
    CWSIM_PIN_COUNT
} cwsim_pin;
const char *cwsim_pin_name(cwsim_pin pin); /* "tio1", "nrst", ... */

/* ---- the chip on a board ----------------------------------------------------------------- */

/* A target chip plugs into the wiring through this table (NULL members are skipped). All
 * callbacks run inside cwsim calls at virtual time now_ns. */
typedef struct cwsim_target_ops {
    const char *name;
    cwsim_pin uart_rx_pin; /* the TIO wired to the chip's RX (CW308: TIO2 = board TX) */
    cwsim_pin uart_tx_pin; /* the TIO wired to the chip's TX (CW308: TIO1 = board RX) */
    void (*power)(void *ctx, int on, uint64_t now_ns);
    void (*clock)(void *ctx, double hz, uint64_t now_ns); /* 0: no clock */
    /* A pin level changed as the chip sees it: nRST, PDIC, PDID, TIO1-4 (the UART pins carry
     * their idle level), MOSI, SCK. CWSIM_Z = nobody drives it. */
    void (*pin)(void *ctx, cwsim_pin pin, cwsim_level level, uint64_t now_ns);
    /* A complete frame arrived on the chip's RX pin (cwsim_uart_frame_decode it with the
     * chip's own format). The chip's receive register holds one byte: a chip that is not
     * ready loses it, as on hardware. */
    void (*uart_rx)(void *ctx, const cwsim_uart_frame *frame, uint64_t now_ns);
    void (*uart_tx_ready)(void *ctx, uint64_t now_ns); /* TX holding register empty again */
    void (*wake)(void *ctx, uint64_t now_ns);          /* the time asked with _wake_at came */
    /* The programming wires (AVR ISP, XMEGA PDI). isp_exchange: one SPI byte (mode 0, MSB first);
     * pdi_*: one PDI frame each way. Return 0, or -1 when the chip does not answer. The SPI
     * master's SCK rate comes with each byte: it is a property of the wire, and the chip needs
     * it to tell whether it keeps up. */
    int (*isp_exchange)(void *ctx, uint8_t mosi, double sck_hz, uint8_t *miso, uint64_t now_ns);
    int (*pdi_send)(void *ctx, uint8_t byte, uint64_t now_ns);
    int (*pdi_recv)(void *ctx, uint8_t *byte, uint64_t now_ns);
    /* The board's PDI master takes the lines (on: PDID held high, then PDI_CLK clocks; the
     * chip's PDI starts) or releases them (off: both tri-stated; the chip's PDI stops).
     * target-protocols.md §B.2 ENTER/LEAVE. */
    void (*pdi_link)(void *ctx, int on, uint64_t now_ns);
    void (*destroy)(void *ctx); /* at detach / cwsim_free */
    /* The simulator's word for the host about a state it cannot tell from silence on the wire,
     * or NULL: never part of what a real chip shows (cwsim_board_target_note). The only one so
     * far is "flash-blank": an application model that talks (--sim-app) was chosen, but the
     * flash is erased, so the chip halted at start-up as a real one with erased vectors does. */
    const char *(*note)(void *ctx);
    /* The chip's supply current as the board's ADC input sees it, for the capture path
     * (cw-usb-protocol.md §4.10): n samples, sample i taken at t0_ns + i * 1e9 / adc_hz of
     * virtual time. Units: "ADC fractions at the default gain", the value the OpenADC would read
     * in [-0.5, 0.5) full-scale units at NewAE's default gain of 25 dB, 0 being the mean level
     * (keep |value| < 0.25); the board applies the gain actually set, its noise, clipping and
     * quantisation, not the chip. NULL = a chip that draws a constant current (all samples 0). */
    void (*power_trace)(void *ctx, double t0_ns, double adc_hz, float *out, size_t n);
} cwsim_target_ops;

/* Attach a target (replacing and destroying any previous one). ops must outlive the board. The
 * target immediately gets power, clock and pin callbacks with the current state. 0 ok. */
int cwsim_board_attach_target(cwsim_board *b, const cwsim_target_ops *ops, void *ctx, char *err,
                              size_t errlen);
void cwsim_board_detach_target(cwsim_board *b);
cwsim *cwsim_board_sim(cwsim_board *b); /* the world a chip on board b lives in */

/* Calls for the target side. */
/* Start sending one frame on the chip's TX pin (fmt: the chip's own format). The line holds one
 * frame shifting and one waiting; returns 0, or -1 when both are taken (the byte is lost). */
int cwsim_target_uart_send(cwsim_board *b, uint8_t byte, const cwsim_uart_format *fmt);
int cwsim_target_uart_busy(const cwsim_board *b); /* 1 while a frame is shifting */
/* The level the chip drives on a pin (TIO1-4 read back through FPGA register 59; Husky also
 * nRST, PDIC, PDID, MOSI, MISO, SCK). CWSIM_Z: released. Ignored while the chip is unpowered. */
void cwsim_target_drive(cwsim_board *b, cwsim_pin pin, cwsim_level level);
void cwsim_target_wake_at(cwsim_board *b,
                          uint64_t at_ns); /* one pending wake-up; UINT64_MAX: none */

#ifdef __cplusplus
}
#endif

#endif
