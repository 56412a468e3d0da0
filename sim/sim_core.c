/* SPDX-License-Identifier: MIT */
/* libcwsim core: the world (boards, virtual clock, counters, PRNG) and the per-kind constants.
 * Documents: contract.md §4 (time), §5 (the simulator); cw-usb-protocol.md §1.1, §2.4, §7.1. */
#include "sim_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V(a, b, c) (((uint32_t)(a) << 16) | ((uint32_t)(b) << 8) | (uint32_t)(c))
#define NEVER      0xFFFFFFFFu

/* cw-usb-protocol.md §1.1 (identity, bundled firmware), §1.2 (endpoints), §2.4 (feature versions),
 * §3.1/§3.2 (bitstream sizes: file size minus the sync word's offset and length), §5.1 (MCK),
 * §7.1 (per-device differences). */
static const sim_kind_desc kinds[] = {
    {
        .kind = CWSIM_CWLITE,
        .name = "cwlite",
        .pid = 0xACE2,
        .product = "ChipWhisperer Lite",
        .fw = {0, 65, 0},
        .build_date = "15:36:50 Apr  4 2023", /* §0 build stamp of the bundled 0.65 */
        .high_speed = 1,
        .ep_in = 0x81,
        .ep_out = 0x02,
        .cdc_in = 0x85,
        .cdc_out = 0x06,
        .cdc_notify = 0x83,
        .max_power_ma = 500,
        .mck_hz = 96000000,
        .has_fpga = 1,
        .addr_bits = 6,
        .bitstream_payload = 340722 - (0x86 + 4), /* cwlite_interface.bit, sync at 0x86 */
        .feat_min = {V(0, 23, 0), V(0, 30, 0), V(0, 20, 0), V(0, 30, 0), V(0, 30, 0), V(0, 50, 0),
                     V(0, 30, 0), V(0, 60, 0), V(0, 60, 0), V(0, 62, 0), V(0, 65, 0)},
    },
    {
        /* CW1200 Pro: the Lite protocol with the Pro's identity. Its firmware is not public;
         * what the document does not show is (unconfirmed) and copied from the Lite. */
        .kind = CWSIM_CW1200,
        .name = "cw1200",
        .pid = 0xACE3,
        .product = "ChipWhisperer CW1200",
        .fw = {1, 62, 0},
        .build_date = "00:00:00 Mar 30 2022", /* §0 date; the time is (unconfirmed) */
        .high_speed = 1,
        .ep_in = 0x81,
        .ep_out = 0x02,
        .cdc_in = 0x85, /* CDC endpoints (unconfirmed): the Lite's */
        .cdc_out = 0x06,
        .cdc_notify = 0x83,
        .max_power_ma = 500, /* (unconfirmed) */
        .mck_hz = 96000000,  /* SAM3U at 96 MHz as the Lite (unconfirmed) */
        .has_fpga = 1,
        .addr_bits = 6,                            /* (unconfirmed firmware), §7.1 */
        .bitstream_payload = 1484523 - (0x87 + 4), /* cw1200_interface.bit, sync at 0x87 */
        /* §2.4: SAM_ERR_LED has no Pro version */
        .feat_min = {V(1, 23, 0), V(1, 30, 0), V(1, 20, 0), V(1, 30, 0), V(1, 30, 0), V(1, 50, 0),
                     V(1, 30, 0), V(1, 60, 0), V(1, 60, 0), V(1, 62, 0), NEVER},
    },
    {
        .kind = CWSIM_HUSKY,
        .name = "husky",
        .pid = 0xACE5,
        .product = "ChipWhisperer Husky",
        .fw = {1, 5, 0},
        .build_date = "00:00:00 Apr 18 2023", /* §0 date; the time is (unconfirmed) */
        .high_speed = 1,
        .ep_in = 0x85,
        .ep_out = 0x06,
        .cdc_in = 0x81,
        .cdc_out = 0x02,
        .cdc_notify = 0x83,
        .max_power_ma = 500,
        .mck_hz = 96000000, /* SAM3U MCK as the Lite (inferred) */
        .has_fpga = 1,
        .addr_bits = 8,
        .bitstream_payload = 2192119 - (0x9B + 4), /* cwhusky_top.bit, sync at 0x9B */
        .feat_min = {V(1, 0, 0), V(1, 0, 0), V(1, 0, 0), V(1, 0, 0), V(1, 0, 0), V(1, 0, 0),
                     V(1, 0, 0), V(1, 1, 0), V(1, 1, 0), V(1, 3, 0), V(1, 5, 0)},
    },
    {
        .kind = CWSIM_NANO,
        .name = "nano",
        .pid = 0xACE0,
        .product = "ChipWhisperer Nano",
        .fw = {0, 66, 0},
        .build_date = "00:00:00 Feb  9 2023", /* §0 date; the time is (unconfirmed) */
        .high_speed = 0,
        .ep_in = 0x81,
        .ep_out = 0x02,
        .cdc_in = 0x86,
        .cdc_out = 0x07,
        .cdc_notify = 0x83,
        .max_power_ma = 400,
        .mck_hz = 120000000, /* §5.1 (inferred from the Nano conf_clock.h) */
        .has_fpga = 0,
        .addr_bits = 0,
        .bitstream_payload = 0,
        /* §2.4; FPGA_LOCK_RESET and TARGET_SPI have no Nano version. 0x22/0x11 is in the shared
         * default handler, so it is accepted as from 0.30 (inferred). */
        .feat_min = {V(0, 23, 0), V(0, 30, 0), V(0, 20, 0), V(0, 30, 0), V(0, 30, 0), V(0, 50, 0),
                     V(0, 23, 0), V(0, 60, 0), NEVER, V(0, 62, 0), V(0, 66, 0)},
    },
};

const sim_kind_desc *sim_kind_desc_get(cwsim_kind kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == kind)
            return &kinds[i];
    return NULL;
}

uint32_t sim_version_u32(const uint8_t v[3])
{
    return V(v[0], v[1], v[2]);
}

void sim_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- the world ----------------------------------------------------------------------------- */

int cwsim_err_is_oom(const char *err)
{
    static const char tail[] = "out of memory";
    size_t n = err != NULL ? strlen(err) : 0, t = sizeof tail - 1;
    return n >= t && strcmp(err + n - t, tail) == 0;
}

int cwsim_new(cwsim **out, char *err, size_t errlen)
{
    cwsim *sim = calloc(1, sizeof *sim);
    if (sim == NULL) {
        sim_err(err, errlen, "cwsim: out of memory");
        return -1;
    }
    sim->usb_latency = 500000; /* contract.md §5: --sim-usb-latency default 0.5 ms */
    sim->state_fd = -1;
    cwsim_seed(sim, 1); /* contract.md §5: --sim-seed default 1 */
    sim->noise = CWSIM_NOISE_DEFAULT;
    *out = sim;
    return 0;
}

void cwsim_free(cwsim *sim)
{
    if (sim == NULL)
        return;
    for (size_t i = 0; i < sim->nboards; i++) {
        target_destroy(sim->boards[i]);
        sim_board_engines_free(sim->boards[i]);
        adc_free(sim->boards[i]);
        free(sim->boards[i]);
    }
    cwsim_state_close(sim);
    free(sim);
}

int cwsim_kind_from_name(const char *name, cwsim_kind *out)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kinds[i].name, name) == 0) {
            if (out != NULL)
                *out = kinds[i].kind;
            return 0;
        }
    }
    return -1;
}

const char *cwsim_kind_name(cwsim_kind kind)
{
    const sim_kind_desc *kd = sim_kind_desc_get(kind);
    return kd != NULL ? kd->name : "?";
}

/* ---- time --------------------------------------------------------------------------------- */

uint64_t cwsim_now_ns(const cwsim *sim)
{
    return sim->now;
}

void cwsim_set_usb_latency_ns(cwsim *sim, uint64_t ns)
{
    sim->usb_latency = ns;
}

int cwsim_usb_latency_parse(const char *text, double *ms, char *err, size_t errlen)
{
    double v = 0;
    if (text == NULL || sim_parse_decimal(text, 0, &v) != 0 || v < 0 ||
        v > CWSIM_USB_LATENCY_MAX_MS) {
        sim_err(err, errlen, "--sim-usb-latency '%s': expected milliseconds from 0 to %d",
                text != NULL ? text : "", CWSIM_USB_LATENCY_MAX_MS);
        return -1;
    }
    *ms = v;
    return 0;
}

uint64_t cwsim_usb_latency_ns(const cwsim *sim)
{
    return sim->usb_latency;
}

void cwsim_set_noise(cwsim *sim, double sigma)
{
    if (!(sigma > 0.0)) /* also NaN */
        sigma = 0.0;
    if (sigma > CWSIM_NOISE_MAX)
        sigma = CWSIM_NOISE_MAX;
    sim->noise = sigma;
}

double cwsim_noise(const cwsim *sim)
{
    return sim->noise;
}

int cwsim_noise_parse(const char *text, double *sigma, char *err, size_t errlen)
{
    double v = 0;
    if (text == NULL || sim_parse_decimal(text, 0, &v) != 0 || v < 0 || v > CWSIM_NOISE_MAX) {
        sim_err(err, errlen,
                "--sim-noise '%s': expected a standard deviation from 0 to 1 (full-scale units)",
                text != NULL ? text : "");
        return -1;
    }
    *sigma = v;
    return 0;
}

static uint64_t board_next_event(const cwsim_board *b)
{
    uint64_t t = UINT64_MAX;
    if (b->usart.shift_active && b->usart.shift_end < t)
        t = b->usart.shift_end;
    if (b->wire.active && b->wire.end < t)
        t = b->wire.end;
    if (b->tops != NULL && b->wake_at < t)
        t = b->wake_at;
    if (b->pll.wake < t) /* the Husky's PLL locks: what the chip sees may change */
        t = b->pll.wake;
    uint64_t adc = adc_next_event(b); /* a capture's last sample */
    if (adc < t)
        t = adc;
    return t;
}

uint64_t sim_next_event(const cwsim *sim)
{
    uint64_t t = UINT64_MAX;
    for (size_t i = 0; i < sim->nboards; i++) {
        uint64_t bt = board_next_event(sim->boards[i]);
        if (bt < t)
            t = bt;
    }
    return t;
}

static void account_busy(cwsim *sim, uint64_t to)
{
    uint64_t dt = to - sim->now;
    if (dt == 0)
        return;
    for (size_t i = 0; i < sim->nboards; i++) {
        cwsim_board *b = sim->boards[i];
        if (b->usart.shift_active || b->wire.active)
            b->cnt.wire_ns += dt;
    }
}

/* Run every board's events (UART frames ending, target wake-ups) in time order up to deadline,
 * then set the clock to deadline. Events at the same time run board by board, in a fixed
 * order, so a run is repeatable. */
void sim_run_until(cwsim *sim, uint64_t deadline)
{
    for (;;) {
        uint64_t t = UINT64_MAX;
        cwsim_board *b = NULL;
        for (size_t i = 0; i < sim->nboards; i++) {
            uint64_t bt = board_next_event(sim->boards[i]);
            if (bt < t) {
                t = bt;
                b = sim->boards[i];
            }
        }
        if (b == NULL || t > deadline)
            break;
        if (t < sim->now)
            t = sim->now;
        account_busy(sim, t);
        sim->now = t;
        if (b->usart.shift_active && b->usart.shift_end <= t) {
            usart_tx_done(b);
        } else if (b->wire.active && b->wire.end <= t) {
            wire_done(b);
        } else if (b->tops != NULL && b->wake_at <= t) {
            b->wake_at = UINT64_MAX;
            if (b->tops->wake != NULL)
                b->tops->wake(b->tctx, t);
        } else if (b->pll.wake <= t) {
            b->pll.wake = UINT64_MAX;
            wiring_update(b);
        } else if (adc_next_event(b) <= t) {
            adc_event(b);
        }
    }
    if (deadline > sim->now) {
        account_busy(sim, deadline);
        sim->now = deadline;
    }
}

void cwsim_advance_ns(cwsim *sim, uint64_t ns)
{
    sim->cnt.wait_ns += ns;
    sim_run_until(sim, sim->now + ns);
}

void sim_pass_usb(cwsim_board *b, uint64_t ns)
{
    b->cnt.usb_ns += ns;
    sim_run_until(b->sim, b->sim->now + ns);
}

/* ---- counters ----------------------------------------------------------------------------- */

static void counters_add(cwsim_counters *to, const cwsim_counters *c)
{
    to->usb_ns += c->usb_ns;
    to->wire_ns += c->wire_ns;
    to->uart_to_target += c->uart_to_target;
    to->uart_from_board += c->uart_from_board;
    to->uart_to_board += c->uart_to_board;
    to->uart_rx += c->uart_rx;
    to->uart_rx_dropped += c->uart_rx_dropped;
    to->uart_tx_dropped += c->uart_tx_dropped;
    to->ctrl_in += c->ctrl_in;
    to->ctrl_out += c->ctrl_out;
    to->bulk_in += c->bulk_in;
    to->bulk_out += c->bulk_out;
    to->bulk_in_bytes += c->bulk_in_bytes;
    to->bulk_out_bytes += c->bulk_out_bytes;
    to->stalls += c->stalls;
    to->timeouts += c->timeouts;
}

void cwsim_counters_get(const cwsim *sim, cwsim_counters *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sim->nboards; i++)
        counters_add(out, &sim->boards[i]->cnt);
    out->now_ns = sim->now;
    out->wait_ns = sim->cnt.wait_ns;
    out->flash_ns = sim->cnt.flash_ns;
}

void cwsim_board_counters_get(const cwsim_board *b, cwsim_counters *out)
{
    *out = b->cnt;
    out->now_ns = b->sim->now;
    out->wait_ns = b->sim->cnt.wait_ns;
    out->flash_ns = b->sim->cnt.flash_ns;
}

void cwsim_counters_reset(cwsim *sim)
{
    memset(&sim->cnt, 0, sizeof sim->cnt);
    for (size_t i = 0; i < sim->nboards; i++)
        memset(&sim->boards[i]->cnt, 0, sizeof sim->boards[i]->cnt);
}

void cwsim_count_flash_ns(cwsim *sim, uint64_t ns)
{
    sim->cnt.flash_ns += ns;
}

/* ---- PRNG: xoshiro256** seeded through splitmix64 ---------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

void cwsim_seed(cwsim *sim, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        sim->rng[i] = splitmix64(&x);
    /* The noise has its own stream, so that faults drawing numbers do not change the traces
     * (and captures do not change which bytes a fault hits). */
    for (int i = 0; i < 4; i++)
        sim->noise_rng[i] = splitmix64(&x);
    sim->noise_has_spare = 0;
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro_next(uint64_t *s)
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t cwsim_random_u64(cwsim *sim)
{
    return xoshiro_next(sim->rng);
}

/* Box-Muller on the noise stream: u1 in (0, 1] keeps the logarithm finite. */
double sim_noise_gauss(cwsim *sim)
{
    if (sim->noise_has_spare) {
        sim->noise_has_spare = 0;
        return sim->noise_spare;
    }
    double u1 = (double)((xoshiro_next(sim->noise_rng) >> 11) + 1) * (1.0 / 9007199254740992.0);
    double u2 = (double)(xoshiro_next(sim->noise_rng) >> 11) * (1.0 / 9007199254740992.0);
    double r = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
    sim->noise_spare = r * sin(a);
    sim->noise_has_spare = 1;
    return r * cos(a);
}

double cwsim_random_unit(cwsim *sim)
{
    return (double)(cwsim_random_u64(sim) >> 11) * (1.0 / 9007199254740992.0);
}

int sim_chance(cwsim *sim, double p)
{
    if (p <= 0.0)
        return 0;
    return cwsim_random_unit(sim) < p;
}

/* ---- boards ------------------------------------------------------------------------------- */

static int serial_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 126) /* a string descriptor holds at most 126 UTF-16 units */
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7E)
            return 0;
    return 1;
}

cwsim_board *cwsim_board_add(cwsim *sim, cwsim_kind kind, const char *serial, char *err,
                             size_t errlen)
{
    const sim_kind_desc *kd = sim_kind_desc_get(kind);
    if (kd == NULL) {
        sim_err(err, errlen, "cwsim: unknown board kind %d", (int)kind);
        return NULL;
    }
    if (sim->nboards >= SIM_MAX_BOARDS) {
        sim_err(err, errlen, "cwsim: at most %d boards", SIM_MAX_BOARDS);
        return NULL;
    }
    char buf[128];
    if (serial == NULL) {
        /* Like the real ones: 32 lower-case hex digits (§1.1). "53494d55" is "SIMU". */
        do {
            sim->next_serial++;
            snprintf(buf, sizeof buf, "53494d55%08x%08x%08x", (unsigned)kd->pid, sim->next_serial,
                     0u);
        } while (cwsim_board_find(sim, buf) != NULL);
        serial = buf;
    } else if (!serial_ok(serial)) {
        sim_err(err, errlen,
                "cwsim: invalid serial '%s'; use 1 to 126 printable ASCII characters "
                "(real boards: 32 lower-case hex digits)",
                serial);
        return NULL;
    }
    if (cwsim_board_find(sim, serial) != NULL) {
        sim_err(err, errlen, "cwsim: serial '%s' is already used by another board", serial);
        return NULL;
    }
    cwsim_board *b = calloc(1, sizeof *b);
    if (b == NULL) {
        sim_err(err, errlen, "cwsim: out of memory");
        return NULL;
    }
    b->sim = sim;
    b->engine_timeout_default = 500; /* power-on: 500 ticks = 200 ms (target-protocols.md §1) */
    b->engine_timeout_stopped = 1;   /* not running until an engine starts it */
    b->kd = kd;
    b->index = sim->nboards;
    snprintf(b->serial, sizeof b->serial, "%s", serial);
    memcpy(b->fw, kd->fw, 3);
    b->wake_at = UINT64_MAX;
    b->pll.wake = UINT64_MAX; /* only a Husky has the PLL (fpga_power_up) */
    for (int i = 0; i < CWSIM_PIN_COUNT; i++)
        b->tdrive[i] = CWSIM_Z;
    sam_reset(b);
    sim_board_engines_add(b);
    b->config = 1; /* Linux configures the device when it enumerates (§1.3) */
    b->usart.cdc_enabled = 1;
    fpga_power_up(b, 1); /* contract.md §5: the board starts with its FPGA configured */
    sim->boards[sim->nboards++] = b;
    if (sim->fault[F_GLITCH_ACTIVE].on)
        board_default_setup(b); /* the notebook that left the glitch on ran default_setup() */
    for (int id = 0; id < F_COUNT; id++)
        if (sim->fault[id].on)
            sim_fault_apply_board(b, id);
    usb_build_descriptors(b);
    return b;
}

size_t cwsim_board_count(const cwsim *sim)
{
    return sim->nboards;
}

cwsim_board *cwsim_board_at(cwsim *sim, size_t i)
{
    return i < sim->nboards ? sim->boards[i] : NULL;
}

cwsim_board *cwsim_board_find(cwsim *sim, const char *serial)
{
    if (serial == NULL)
        return NULL;
    for (size_t i = 0; i < sim->nboards; i++)
        if (strcmp(sim->boards[i]->serial, serial) == 0)
            return sim->boards[i];
    return NULL;
}

cwsim *cwsim_board_sim(cwsim_board *b)
{
    return b->sim;
}

cwsim_kind cwsim_board_kind(const cwsim_board *b)
{
    return b->kd->kind;
}

const char *cwsim_board_serial(const cwsim_board *b)
{
    return b->serial;
}

const char *cwsim_board_product(const cwsim_board *b)
{
    return b->kd->product;
}

const char *cwsim_board_manufacturer(const cwsim_board *b)
{
    (void)b;
    return "NewAE Technology Inc."; /* §1.1: the iManufacturer string descriptor's value */
}

uint16_t cwsim_board_vid(const cwsim_board *b)
{
    (void)b;
    return 0x2B3E; /* §1.1 idVendor */
}

uint16_t cwsim_board_pid(const cwsim_board *b)
{
    return b->kd->pid;
}

uint16_t cwsim_board_bcd_device(const cwsim_board *b)
{
    (void)b;
    return 0x0900; /* §1.1 USB_DEVICE_MAJOR_VERSION 9, minor 0 */
}

unsigned cwsim_board_speed_mbps(const cwsim_board *b)
{
    return b->kd->high_speed ? 480u : 12u;
}

uint8_t cwsim_board_ep_bulk_in(const cwsim_board *b)
{
    return b->kd->ep_in;
}

uint8_t cwsim_board_ep_bulk_out(const cwsim_board *b)
{
    return b->kd->ep_out;
}

void cwsim_board_fw_version(const cwsim_board *b, uint8_t ver[3])
{
    memcpy(ver, b->fw, 3);
}

size_t cwsim_board_descriptors(const cwsim_board *b, const uint8_t **out)
{
    *out = b->desc;
    return b->desc_len;
}

int cwsim_board_present(const cwsim_board *b)
{
    if (b->unplugged)
        return 0;
    return b->reenum_until == 0 || b->sim->now >= b->reenum_until;
}

unsigned cwsim_board_generation(const cwsim_board *b)
{
    return b->generation;
}

int cwsim_board_fpga_done(const cwsim_board *b)
{
    return b->kd->has_fpga && b->fpga.done;
}

size_t cwsim_board_fpga_peek(const cwsim_board *b, unsigned addr, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = fpga_peek_byte(b, addr, (unsigned)i);
    return len;
}

void cwsim_board_default_setup(cwsim_board *b)
{
    board_default_setup(b);
    wiring_update(b);
}

/* ---- transfers: the checks every transfer goes through ------------------------------------ */

/* Faults and presence (contract.md §5: usb-stall-after, usb-timeout-after, unplug-after act on
 * transfer N+1 and every later one). Returns 0 to go on, or the transfer's result. */
static int usb_gate(cwsim_board *b, unsigned timeout_ms)
{
    cwsim *sim = b->sim;
    uint64_t n = ++b->transfers;
    if (sim_fault_on(sim, F_UNPLUG_AFTER) && n > (uint64_t)sim_fault_num(sim, F_UNPLUG_AFTER)) {
        b->unplugged = 1;
        wiring_update(b);
    }
    if (!cwsim_board_present(b))
        return CWSIM_NODEV;
    if (sim_fault_on(sim, F_USB_STALL_AFTER) &&
        n > (uint64_t)sim_fault_num(sim, F_USB_STALL_AFTER)) {
        sim_pass_usb(b, sim->usb_latency);
        b->cnt.stalls++;
        return CWSIM_STALL;
    }
    if (sim_fault_on(sim, F_USB_TIMEOUT_AFTER) &&
        n > (uint64_t)sim_fault_num(sim, F_USB_TIMEOUT_AFTER)) {
        sim_pass_usb(b, (uint64_t)timeout_ms * 1000000u);
        b->cnt.timeouts++;
        return CWSIM_TIMEOUT;
    }
    return 0;
}

int cwsim_board_control(cwsim_board *b, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue,
                        uint16_t wIndex, uint8_t *data, uint16_t wLength, unsigned timeout_ms)
{
    if (b == NULL || (wLength > 0 && data == NULL))
        return CWSIM_INVALID;
    if (bmRequestType & 0x80)
        b->cnt.ctrl_in++;
    else
        b->cnt.ctrl_out++;
    int r = usb_gate(b, timeout_ms);
    if (r != 0)
        return r;
    r = usb_control(b, bmRequestType, bRequest, wValue, wIndex, data, wLength, timeout_ms);
    if (r == CWSIM_STALL)
        b->cnt.stalls++;
    else if (r == CWSIM_TIMEOUT)
        b->cnt.timeouts++;
    wiring_update(b);
    return r;
}

int cwsim_board_bulk(cwsim_board *b, uint8_t endpoint, uint8_t *data, int len, unsigned timeout_ms)
{
    if (b == NULL || len < 0 || (len > 0 && data == NULL))
        return CWSIM_INVALID;
    if (endpoint & 0x80)
        b->cnt.bulk_in++;
    else
        b->cnt.bulk_out++;
    int r = usb_gate(b, timeout_ms);
    if (r != 0)
        return r;
    r = usb_bulk(b, endpoint, data, len, timeout_ms);
    if (r > 0) {
        if (endpoint & 0x80)
            b->cnt.bulk_in_bytes += (uint64_t)r;
        else
            b->cnt.bulk_out_bytes += (uint64_t)r;
    }
    if (r == CWSIM_STALL)
        b->cnt.stalls++;
    else if (r == CWSIM_TIMEOUT)
        b->cnt.timeouts++;
    wiring_update(b);
    return r;
}
