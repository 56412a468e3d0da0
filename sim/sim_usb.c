/* SPDX-License-Identifier: MIT */
/* libcwsim USB device: descriptors, standard and CDC class requests, the NAEUSB vendor request
 * handlers of the firmware as shipped, and the bulk endpoints. Documents: cw-usb-protocol.md §1
 * (identity, descriptors, endpoints), §2 (requests, transfer rules, bus lock, register access),
 * §3 (bitstream), §5 (USART requests), §7.2 (Nano), §8 (errors). */
#include "sim_internal.h"

#include <string.h>

/* §2.1 ctrlbuffer[128]: longer OUT data stages stall */
#define CTRL_BUF 128
/* §7.2 the Nano's sample buffer: 100 000 bytes */
#define NANO_SAMPLES 100000u
/* Re-enumeration after 0x22/0x10 RESET: the board is gone this long (inferred; Python sleeps
 * 2 s before reconnecting). */
#define REENUM_NS 500000000ull
/* Bulk payload throughput used for transfer time (inferred estimates: high-speed bulk on a
 * typical host; full speed for the Nano). */
#define HS_BULK_BYTES_PER_S 40e6
#define FS_BULK_BYTES_PER_S 1e6

int usb_feature(const cwsim_board *b, int feat)
{
    return sim_version_u32(b->fw) >= b->kd->feat_min[feat];
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* ---- descriptors (§1.1, §1.2) -------------------------------------------------------------- */

typedef struct dbuf {
    uint8_t *p;
    size_t n;
} dbuf;

static void d_add(dbuf *d, const uint8_t *bytes, size_t n)
{
    memcpy(d->p + d->n, bytes, n);
    d->n += n;
}

static void d_ep(dbuf *d, uint8_t addr, uint8_t attr, unsigned mps, uint8_t interval)
{
    const uint8_t e[7] = {7, 0x05, addr, attr, (uint8_t)mps, (uint8_t)(mps >> 8), interval};
    d_add(d, e, sizeof e);
}

static uint16_t bcd_usb(const cwsim_board *b)
{
    /* §1.1: bcdUSB patched to 0x0210 so Windows fetches the BOS descriptor (MS OS 2.0);
     * firmware without the WCID feature reports 0x0200 (inferred) */
    return usb_feature(b, FEAT_WCID) ? 0x0210 : 0x0200;
}

/* The configuration descriptor at high (hs = 1) or full speed. Layout: vendor interface 0 with
 * its bulk pair (one alternate setting), then the IAD and the CDC-ACM pair (interfaces 1, 2),
 * as in the ASF composite descriptors the firmware uses; functional-descriptor details and
 * intervals follow ASF defaults (inferred). */
static size_t build_config(const cwsim_board *b, uint8_t *out, int hs, uint8_t type)
{
    const sim_kind_desc *kd = b->kd;
    unsigned bulk = hs ? 512u : 64u; /* §1.1: bulk max packet 512 (HS), 64 (FS) */
    dbuf d = {out, 0};
    const uint8_t cfg[9] = {9, type, 0, 0, 3, 1, 0, 0x80, (uint8_t)(kd->max_power_ma / 2)};
    d_add(&d, cfg, sizeof cfg);
    const uint8_t vif[9] = {9, 0x04, 0, 0, 2, 0xFF, 0xFF, 0xFF, 0};
    d_add(&d, vif, sizeof vif);
    d_ep(&d, kd->ep_in, 0x02, bulk, 0);
    d_ep(&d, kd->ep_out, 0x02, bulk, 0);
    const uint8_t iad[8] = {8, 0x0B, 1, 2, 0x02, 0x02, 0x01, 0};
    d_add(&d, iad, sizeof iad);
    const uint8_t comm[9] = {9, 0x04, 1, 0, 1, 0x02, 0x02, 0x01, 0};
    d_add(&d, comm, sizeof comm);
    const uint8_t hdr[5] = {5, 0x24, 0x00, 0x10, 0x01};  /* CDC 1.10 */
    const uint8_t call[5] = {5, 0x24, 0x01, 0x01, 0x02}; /* call management, data iface 2 */
    const uint8_t acm[4] = {4, 0x24, 0x02, 0x02};        /* line requests */
    const uint8_t uni[5] = {5, 0x24, 0x06, 0x01, 0x02};  /* union: 1 controls 2 */
    d_add(&d, hdr, sizeof hdr);
    d_add(&d, call, sizeof call);
    d_add(&d, acm, sizeof acm);
    d_add(&d, uni, sizeof uni);
    d_ep(&d, kd->cdc_notify, 0x03, 64, 0x10);
    const uint8_t data[9] = {9, 0x04, 2, 0, 2, 0x0A, 0x00, 0x00, 0};
    d_add(&d, data, sizeof data);
    d_ep(&d, kd->cdc_in, 0x02, bulk, 0);
    d_ep(&d, kd->cdc_out, 0x02, bulk, 0);
    out[2] = (uint8_t)d.n;
    out[3] = (uint8_t)(d.n >> 8);
    return d.n;
}

void usb_build_descriptors(cwsim_board *b)
{
    const sim_kind_desc *kd = b->kd;
    uint16_t bcd = bcd_usb(b);
    const uint8_t dev[18] = {18,
                             0x01,
                             (uint8_t)bcd,
                             (uint8_t)(bcd >> 8),
                             0, /* class at interface level (ASF composite, inferred) */
                             0,
                             0,
                             64, /* §1.1 EP0 max packet 64 */
                             0x3E,
                             0x2B,
                             (uint8_t)kd->pid,
                             (uint8_t)(kd->pid >> 8),
                             0x00,
                             0x09, /* bcdDevice 0x0900 */
                             1,
                             2,
                             3, /* §1.1 string indices */
                             1};
    memcpy(b->desc, dev, sizeof dev);
    b->desc_len = sizeof dev + build_config(b, b->desc + sizeof dev, kd->high_speed, 0x02);
    b->desc_other_len = kd->high_speed ? build_config(b, b->desc_other, 0, 0x07) : 0;
}

/* MS OS 2.0 descriptor set (§1.1 WCID): WinUSB on interface 0. The exact set the firmware
 * returns is not in the document: this is a minimal valid one (inferred). */
static size_t msos_set(uint8_t *out)
{
    static const uint8_t set[46] = {
        10, 0, 0x00, 0x00, 0x00, 0x00, 0x03, 0x06, 46,  0, /* set header, Windows 8.1 */
        8,  0, 0x01, 0x00, 0,    0,    36,   0,            /* configuration subset */
        8,  0, 0x02, 0x00, 0,    0,    28,   0,            /* function subset, interface 0 */
        20, 0, 0x03, 0x00, 'W',  'I',  'N',  'U',  'S', 'B', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(out, set, sizeof set);
    return sizeof set;
}

static size_t bos(uint8_t *out)
{
    static const uint8_t d[33] = {
        5, 0x0F, 33, 0, 1,    /* BOS header */
        28, 0x10, 0x05, 0x00, /* platform capability */
        /* MS OS 2.0 platform capability UUID {D8DD60DF-4589-4CC7-9CD2-659D9E648A9F} in GUID
         * wire order: the first three fields little-endian (Microsoft OS 2.0 descriptors
         * specification; NewAE's firmware sends the same bytes) */
        0xDF, 0x60, 0xDD, 0xD8, 0x89, 0x45, 0xC7, 0x4C, 0x9C, 0xD2, 0x65, 0x9D, 0x9E, 0x64, 0x8A,
        0x9F, 0x00, 0x00, 0x03, 0x06, /* Win 8.1 */
        46, 0, 0x01, 0x00};           /* set length, vendor code 0x01 (§1.1), no alt enum */
    memcpy(out, d, sizeof d);
    return sizeof d;
}

static size_t string_desc(const cwsim_board *b, unsigned index, uint8_t *out)
{
    const char *s;
    switch (index) {
    case 0:
        out[0] = 4;
        out[1] = 0x03;
        out[2] = 0x09; /* US English */
        out[3] = 0x04;
        return 4;
    case 1:
        s = cwsim_board_manufacturer(b);
        break;
    case 2:
        s = b->kd->product;
        break;
    case 3:
        s = b->serial;
        break;
    default:
        return 0;
    }
    size_t n = strlen(s);
    out[0] = (uint8_t)(2 + 2 * n);
    out[1] = 0x03;
    for (size_t i = 0; i < n; i++) {
        out[2 + 2 * i] = (uint8_t)s[i];
        out[3 + 2 * i] = 0;
    }
    return 2 + 2 * n;
}

/* ---- SAM state ----------------------------------------------------------------------------- */

void sam_reset(cwsim_board *b)
{
    b->lock = LOCK_FREE;
    b->ctrl_read_len = 0;
    b->bulk_in_left = 0;
    b->bulk_out_mode = BULK_OUT_REG;
    b->bulk_pending_len = 0;
    b->errors = 0;
    b->led = 0;
    b->slow_clock = 0;
    b->mpsse = 0;
    b->cdc_flags = 0;
    b->sam_nrst = CWSIM_Z;
    memset(b->halt, 0, sizeof b->halt);
    usart_reset(b);
    memset(b->pll.result, 0, sizeof b->pll.result); /* the SAM's copy; the PLL keeps running */
    b->smc_fast = 0;
    /* Nano: everything is in the SAM; power-up values are (unconfirmed): GPIOs inputs, target
     * clock off, capture idle */
    b->nano_out = b->nano_level = 0;
    b->nano_clkdiv = 0;
    memset(b->nano_adc, 0, sizeof b->nano_adc);
    b->nano_samples = 0;
    memset(b->nano_glitch, 0, sizeof b->nano_glitch);
    b->nano_done = 0;
    memset(b->stream, 0, sizeof b->stream);
}

static int valid_ep(const cwsim_board *b, unsigned ep)
{
    const sim_kind_desc *kd = b->kd;
    return ep == kd->ep_in || ep == kd->ep_out || ep == kd->cdc_in || ep == kd->cdc_out ||
           ep == kd->cdc_notify;
}

/* ---- standard requests (USB 2.0 ch. 9) ------------------------------------------------------ */

static int std_request(cwsim_board *b, uint8_t bm, uint8_t req, uint16_t val, uint16_t idx,
                       uint8_t *resp, size_t *rlen, uint16_t len)
{
    unsigned rcpt = bm & 0x1Fu;
    int in = (bm & 0x80) != 0;
    switch (req) {
    case 0x00: /* GET_STATUS */
        if (!in)
            return CWSIM_STALL;
        resp[0] = resp[1] = 0; /* bus-powered (§1.1), no remote wakeup */
        if (rcpt == 1 && (!b->config || (idx & 0xFFu) > 2))
            return CWSIM_STALL;
        if (rcpt == 2) {
            unsigned ep = idx & 0x8Fu;
            if ((ep & 0x0Fu) != 0 && !valid_ep(b, ep))
                return CWSIM_STALL;
            resp[0] = b->halt[(ep & 0x80) ? 1 : 0][ep & 0x0F];
        } else if (rcpt > 2) {
            return CWSIM_STALL;
        }
        *rlen = 2;
        return 0;
    case 0x01: /* CLEAR_FEATURE */
    case 0x03: /* SET_FEATURE */
        if (in)
            return CWSIM_STALL;
        if (rcpt == 2 && val == 0) { /* ENDPOINT_HALT */
            unsigned ep = idx & 0x8Fu;
            if ((ep & 0x0Fu) == 0)
                return 0;
            if (!valid_ep(b, ep) || !b->config)
                return CWSIM_STALL;
            b->halt[(ep & 0x80) ? 1 : 0][ep & 0x0F] = req == 0x03;
            return 0;
        }
        if (rcpt == 0 && (val == 1 || (val == 2 && req == 0x03)))
            return 0; /* DEVICE_REMOTE_WAKEUP, TEST_MODE */
        return CWSIM_STALL;
    case 0x05: /* SET_ADDRESS */
        return in ? CWSIM_STALL : 0;
    case 0x06: { /* GET_DESCRIPTOR */
        if (!in)
            return CWSIM_STALL;
        unsigned type = val >> 8, index = val & 0xFFu;
        size_t n = 0;
        switch (type) {
        case 1:
            memcpy(resp, b->desc, 18);
            n = 18;
            break;
        case 2:
            if (index != 0)
                return CWSIM_STALL;
            n = b->desc_len - 18;
            memcpy(resp, b->desc + 18, n);
            break;
        case 3:
            n = string_desc(b, index, resp);
            if (n == 0)
                return CWSIM_STALL;
            break;
        case 6: { /* device qualifier: high-speed capable devices only */
            if (!b->kd->high_speed)
                return CWSIM_STALL;
            uint16_t bcd = bcd_usb(b);
            const uint8_t q[10] = {10, 0x06, (uint8_t)bcd, (uint8_t)(bcd >> 8), 0, 0, 0, 64, 1, 0};
            memcpy(resp, q, sizeof q);
            n = sizeof q;
            break;
        }
        case 7:
            if (!b->kd->high_speed || index != 0)
                return CWSIM_STALL;
            memcpy(resp, b->desc_other, b->desc_other_len);
            n = b->desc_other_len;
            break;
        case 0x0F:
            if (bcd_usb(b) < 0x0201)
                return CWSIM_STALL;
            n = bos(resp);
            break;
        default:
            return CWSIM_STALL;
        }
        *rlen = n < len ? n : len; /* descriptors are cut to wLength */
        return 0;
    }
    case 0x08: /* GET_CONFIGURATION */
        if (!in)
            return CWSIM_STALL;
        resp[0] = (uint8_t)b->config;
        *rlen = 1;
        return 0;
    case 0x09: /* SET_CONFIGURATION */
        if (in || val > 1)
            return CWSIM_STALL;
        b->config = val;
        memset(b->halt, 0, sizeof b->halt);
        b->usart.cdc_enabled = val == 1; /* the CDC function is enabled by the configuration */
        return 0;
    case 0x0A: /* GET_INTERFACE */
        if (!in || !b->config || idx > 2)
            return CWSIM_STALL;
        resp[0] = 0;
        *rlen = 1;
        return 0;
    case 0x0B: /* SET_INTERFACE: one alternate setting per interface */
        if (in || !b->config || idx > 2 || val != 0)
            return CWSIM_STALL;
        return 0;
    default:
        return CWSIM_STALL;
    }
}

/* ---- CDC-ACM class requests on interface 1 (§5.6) -------------------------------------------- */

static int cdc_request(cwsim_board *b, uint8_t bm, uint8_t req, uint16_t idx, const uint8_t *data,
                       uint16_t len, uint8_t *resp, size_t *rlen)
{
    unsigned iface = idx & 0xFFu;
    if ((bm & 0x1Fu) != 1 || (iface != 1 && iface != 2) || !b->config || b->mpsse)
        return CWSIM_STALL;
    int in = (bm & 0x80) != 0;
    switch (req) {
    case 0x20: /* SET_LINE_CODING */
        if (in || len != 7)
            return CWSIM_STALL;
        usart_line_coding(b, data);
        return 0;
    case 0x21: /* GET_LINE_CODING */
        if (!in)
            return CWSIM_STALL;
        memcpy(resp, b->usart.line_coding, 7);
        *rlen = 7;
        return 0;
    case 0x22: /* SET_CONTROL_LINE_STATE */
    case 0x23: /* SEND_BREAK: only CW310/CW340 force TX low (§5.6) */
        return in ? CWSIM_STALL : 0;
    default:
        return CWSIM_STALL;
    }
}

/* ---- vendor requests (§2.3) ----------------------------------------------------------------- */

static int has_fpga(const cwsim_board *b)
{
    return b->kd->has_fpga;
}

/* §2.5: OUT 0x10..0x13 take the FPGA bus lock in the SETUP stage; a held lock makes the handler
 * decline, so the request stalls. */
static int take_lock(cwsim_board *b)
{
    if (b->lock != LOCK_FREE)
        return -1;
    b->lock = LOCK_USB;
    return 0;
}

/* SETUP stage of a vendor OUT: does a handler accept it? (Side effects of the SETUP stage,
 * such as the bus lock, happen here.) */
static int vendor_out_accept(cwsim_board *b, uint8_t req, uint16_t val)
{
    unsigned sub = val & 0xFFu;
    int nano = b->kd->kind == CWSIM_NANO;
    switch (req) {
    case 0x10:
    case 0x12:
        return nano ? 1 : take_lock(b) == 0;
    case 0x11:
    case 0x13:
        return has_fpga(b) && take_lock(b) == 0;
    case 0x14: /* streaming: Pro, Husky */
        return b->kd->kind == CWSIM_CW1200 || b->kd->kind == CWSIM_HUSKY;
    case 0x16: /* FPGA programming */
        return has_fpga(b) && (sub == 0xA0 || sub == 0xA1 || sub == 0xA2 || sub == 0xB0 ||
                               sub == 0xB1 || sub == 0xB2);
    case 0x1A: /* USART data; an unknown port is accepted and ignored (§5.3) */
    case 0x1B: /* USART config; unknown sub-commands and ports: accepted, ignored (§8) */
    case 0x22: /* SAM config: sub-commands act in the callback; unknown ones do nothing */
        return 1;
    case 0x20: /* XPROG, not compiled into the Nano */
    case 0x21: /* AVR ISP */
        return !nano && b->hook[req - 0x20] != NULL;
    case 0x24:
    case 0x25:
    case 0x28:
    case 0x2A:
    case 0x2C:
    case 0x2D:
        return nano;
    case 0x27:
        return nano || b->kd->kind == CWSIM_HUSKY;
    case 0x29:
        return nano || b->kd->kind == CWSIM_HUSKY;
    case 0x31:
        return usb_feature(b, FEAT_CDC);
    case 0x35: /* target SPI utility: sub 0xA0-0xA8 */
        return usb_feature(b, FEAT_TARGET_SPI) && sub >= 0xA0 && sub <= 0xA8;
    default:
        return 0;
    }
}

static void nano_gpio(cwsim_board *b, unsigned mode, uint8_t mask)
{
    mask &= 0x74; /* §7.2: bit2 TIO3, bit4 PDIC, bit5 PDID, bit6 nRST; bits 0, 1, 3 ignored */
    switch (mode) {
    case 1: /* output */
        b->nano_out |= mask;
        break;
    case 3: /* low */
        b->nano_level &= (uint8_t)~mask;
        break;
    case 4: /* high */
        b->nano_level |= mask;
        break;
    case 2: /* input */
    case 5: /* peripheral A */
    case 6: /* peripheral B: not driven as GPIO (inferred) */
        b->nano_out &= (uint8_t)~mask;
        break;
    default:
        break;
    }
}

/* The callback after the status stage: the data is in ctrlbuf (len bytes; beyond them the
 * buffer holds whatever earlier requests left, as on the board). */
static void vendor_out_callback(cwsim_board *b, uint8_t req, uint16_t val, uint16_t len)
{
    const uint8_t *d = b->ctrlbuf;
    unsigned sub = val & 0xFFu, port = val >> 8;
    int nano = b->kd->kind == CWSIM_NANO;
    switch (req) {
    case 0x10: /* set up a bulk read [len][addr] */
        if (nano) {
            uint32_t n = le32(d);
            b->bulk_in_left = n > NANO_SAMPLES ? NANO_SAMPLES : n; /* address ignored */
            return;
        }
        fpga_latch(b, le32(d + 4));
        b->bulk_in_left = le32(d);
        b->lock = b->bulk_in_left ? LOCK_BLOCKIN : LOCK_FREE;
        return;
    case 0x11: /* set up a bulk write: the length is ignored; the bulk-OUT job is aborted and
                  re-armed (pending bytes dropped, inferred) and the lock is free at once */
        fpga_latch(b, le32(d + 4));
        b->bulk_out_mode = BULK_OUT_REG;
        b->bulk_pending_len = 0;
        b->lock = LOCK_FREE;
        return;
    case 0x12: /* set up a control read */
        if (nano) {
            uint32_t n = le32(d);
            b->ctrl_read_len = n > NANO_SAMPLES ? NANO_SAMPLES : n;
            return;
        }
        fpga_latch(b, le32(d + 4));
        b->ctrl_read_len = le32(d);
        b->lock = LOCK_CTRLMEM;
        return;
    case 0x13: { /* control write: len bytes from ctrlbuf[8..]; past 120 would read beyond the
                    128-byte buffer, so it is cut there (inferred) */
        uint32_t n = le32(d);
        fpga_latch(b, le32(d + 4));
        if (n > CTRL_BUF - 8)
            n = CTRL_BUF - 8;
        for (uint32_t i = 0; i < n; i++)
            fpga_write_byte(b, d[8 + i]);
        b->lock = LOCK_FREE;
        return;
    }
    case 0x14: /* streaming set-up: stored, not simulated */
        memcpy(b->stream, d, len < sizeof b->stream ? len : sizeof b->stream);
        return;
    case 0x16:
        switch (sub) {
        case 0xA0: /* PROGRAM_B low: erase; serial port at prog_freq (4 bytes) or 10 MHz */
            fpga_program_b(b, 1);
            b->fpga.prog_hz = (len == 4 && le32(d) > 0) ? le32(d) : 10000000u;
            if (b->kd->kind == CWSIM_HUSKY)
                usart_reset(b); /* §5.7: USART0 is the programming port; INIT again after */
            return;
        case 0xA1: /* release PROGRAM_B; bulk OUT -> bitstream (bundled: abort and re-arm) */
            fpga_program_b(b, 0);
            b->bulk_out_mode = BULK_OUT_BITSTREAM;
            b->bulk_pending_len = 0;
            return;
        case 0xA2: /* bulk OUT back to register writes; the job is aborted and re-armed */
        case 0xB2:
            b->bulk_out_mode = BULK_OUT_REG;
            b->bulk_pending_len = 0;
            return;
        case 0xB0: /* programming an FPGA on the target (not simulated); drives nRST high */
            b->sam_nrst = CWSIM_HIGH;
            return;
        case 0xB1:
            b->bulk_out_mode = BULK_OUT_TARGET_BITSTREAM;
            b->bulk_pending_len = 0;
            return;
        default:
            return;
        }
    case 0x1A:
        if (port != 0)
            return;
        for (uint16_t i = 0; i < len; i++)
            usart_putchar(b, d[i]);
        return;
    case 0x1B:
        if (port != 0)
            return;
        if (sub == 0x10 && len == 7) /* INIT: exactly 7 bytes, else silently ignored */
            usart_init_cmd(b, d);
        else if (sub == 0x11)
            usart_enable(b, 1);
        else if (sub == 0x12)
            usart_enable(b, 0);
        return; /* 0x20 XON/XOFF: not in the bundled firmware, accepted and ignored */
    case 0x20:
    case 0x21:
        return; /* handled by the hook in vendor_request */
    case 0x22:
        switch (sub) {
        case 0x01: /* SLOW_CLOCK_ON */
        case 0x02: /* SLOW_CLOCK_OFF */
            b->slow_clock = sub == 0x01;
            usart_refresh(b);
            return;
        case 0x03: /* ENTER_BOOTLOADER: target power off, detach, come back as SAM-BA */
            b->post = POST_BOOTLOADER;
            return;
        case 0x10:
            if (usb_feature(b, FEAT_RESET))
                b->post = POST_RESET;
            return;
        case 0x11:
            if (usb_feature(b, FEAT_LOCK_RESET))
                b->lock = LOCK_FREE;
            return;
        case 0x12:
            if (usb_feature(b, FEAT_ERR_LED))
                b->led = (uint8_t)(val >> 8);
            return;
        case 0x13:
            if (usb_feature(b, FEAT_ERR_LED))
                b->errors = 0;
            return;
        case 0x42: /* ENABLE_MPSSE: interface 1 becomes a vendor interface; Lite: nRST low */
            if (usb_feature(b, FEAT_MPSSE)) {
                b->mpsse = 1;
                if (b->kd->kind == CWSIM_CWLITE)
                    b->sam_nrst = CWSIM_LOW;
            }
            return;
        default: /* 0x43 SWD pin, 0xF0 Nano clock phase: nothing to simulate */
            return;
        }
    case 0x25:
        nano_gpio(b, sub, d[0]);
        return;
    case 0x27:
        if (nano) { /* [div,0,0]: 1,2,4,...,64, others 64, 0 off */
            uint8_t v = d[0];
            if (v != 0 && (v > 64 || (v & (v - 1)) != 0))
                v = 64;
            b->nano_clkdiv = v;
        } else {
            b->smc_fast = d[0]; /* Husky FPGA read timing */
        }
        return;
    case 0x28:
        if (len == 5)
            memcpy(b->nano_adc, d, 5);
        return;
    case 0x29:
        if (nano) {
            if (val == 1)
                b->nano_done = 1; /* arm: no capture is simulated, done at once (inferred) */
            return;
        }
        husky_pll_ctrl_out(b, d, len); /* §4.9.1 */
        return;
    case 0x2A:
        if (len == 4)
            b->nano_samples = le32(d);
        return;
    case 0x2C:
        if (len == 8)
            memcpy(b->nano_glitch, d, 8);
        return;
    case 0x31:
        b->cdc_flags = (uint8_t)(val & 0x0F);
        return;
    default:
        return; /* 0x24, 0x2D, 0x35: nothing to simulate */
    }
}

/* A vendor IN request: fill resp, set *rlen; or return CWSIM_STALL. */
static int vendor_in(cwsim_board *b, uint8_t req, uint16_t val, uint16_t len, uint8_t *resp,
                     size_t *rlen)
{
    unsigned sub = val & 0xFFu, port = val >> 8;
    int nano = b->kd->kind == CWSIM_NANO;
    /* §2.2: the Nano's own handler declines wLength > 128 and the chain goes on */
    int nano_req = req == 0x10 || req == 0x12 || (req >= 0x24 && req <= 0x2D);
    if (nano && nano_req && len > 128)
        return CWSIM_STALL;
    switch (req) {
    case 0x12: { /* payload = the latched len; clears it; releases the lock */
        uint32_t n = b->ctrl_read_len;
        if (n > CTRL_BUF)
            n = CTRL_BUF; /* respbuf[128] (inferred) */
        for (uint32_t i = 0; i < n; i++)
            resp[i] = nano ? 0 : fpga_read_byte(b); /* Nano: the (empty) sample buffer */
        *rlen = n;
        b->ctrl_read_len = 0;
        if (!nano)
            b->lock = LOCK_FREE;
        return 0;
    }
    case 0x14: /* Pro stream status: 9 bytes (unconfirmed in firmware) */
        if (b->kd->kind != CWSIM_CW1200)
            return CWSIM_STALL;
        memset(resp, 0, 9);
        *rlen = 9;
        return 0;
    case 0x15: /* FPGA status: byte0 bit0 = DONE */
        if (!has_fpga(b))
            return CWSIM_STALL;
        memset(resp, 0, 4);
        resp[0] = b->fpga.done ? 1 : 0;
        *rlen = 4;
        return 0;
    case 0x17: /* firmware version */
        memcpy(resp, b->fw, 3);
        *rlen = 3;
        return 0;
    case 0x1A: { /* USART receive: min(wLength,128) bytes, 0xFF where nothing is buffered */
        if (port != 0)
            return CWSIM_STALL;
        size_t n = len < CTRL_BUF ? len : CTRL_BUF;
        for (size_t i = 0; i < n; i++) {
            uint8_t v;
            resp[i] = circ_pop(&b->usart.rx, &v) == 0 ? v : 0xFF;
        }
        *rlen = n;
        return 0;
    }
    case 0x1B:
        if (port != 0)
            return CWSIM_STALL;
        if (sub == 0x14 || (sub == 0x18 && usb_feature(b, FEAT_TX_IN_WAIT))) {
            if (len < 4)
                return CWSIM_STALL;
            if (sub == 0x14) {
                put_le32(resp, circ_count(&b->usart.rx));
                b->usart.rx_dropped = 0;
                b->errors &= (uint16_t)~0x01u;
            } else {
                put_le32(resp, circ_count(&b->usart.tx));
                b->usart.tx_dropped = 0;
                b->errors &= (uint16_t)~0x02u;
            }
            *rlen = 4;
            return 0;
        }
        if (sub == 0x10) {
            *rlen = 0;
            return 0;
        }
        return CWSIM_STALL; /* 0x20 XON/XOFF status stalls on the bundled firmware */
    case 0x20:
    case 0x21:
        return CWSIM_STALL; /* engines are hooks (vendor_request) */
    case 0x22:
        if (sub == 0x42 && usb_feature(b, FEAT_MPSSE_ENABLED)) {
            resp[0] = (uint8_t)b->mpsse;
            *rlen = 1;
            return 0;
        }
        if (!usb_feature(b, FEAT_ERR_LED))
            return CWSIM_STALL;
        resp[0] = (uint8_t)b->errors;
        resp[1] = (uint8_t)(b->errors >> 8);
        resp[2] = b->led;
        *rlen = 3;
        return 0;
    case 0x24: /* Nano "GPIO dir" / "GPIO in": empty replies */
    case 0x26:
        if (!nano)
            return CWSIM_STALL;
        *rlen = 0;
        return 0;
    case 0x27:
        if (!nano)
            return CWSIM_STALL;
        resp[0] = b->nano_clkdiv;
        resp[1] = resp[2] = 0;
        *rlen = 3;
        return 0;
    case 0x28:
        if (!nano)
            return CWSIM_STALL;
        memcpy(resp, b->nano_adc, 5);
        *rlen = 5;
        return 0;
    case 0x29:
        if (nano) {
            resp[0] = b->nano_done;
            *rlen = 1;
            return 0;
        }
        if (b->kd->kind != CWSIM_HUSKY)
            return CWSIM_STALL;
        husky_pll_ctrl_in(b, resp); /* §4.9.1: [status][lo][hi], then all three cleared */
        *rlen = 3;
        return 0;
    case 0x2A:
        if (!nano)
            return CWSIM_STALL;
        put_le32(resp, b->nano_samples);
        *rlen = 4;
        return 0;
    case 0x2B:
        if (!nano)
            return CWSIM_STALL;
        put_le32(resp, NANO_SAMPLES);
        *rlen = 4;
        return 0;
    case 0x2C:
        if (!nano)
            return CWSIM_STALL;
        memcpy(resp, b->nano_glitch, 8);
        *rlen = 8;
        return 0;
    case 0x31: { /* one flag per port, min(4, wLength) bytes */
        if (!usb_feature(b, FEAT_CDC))
            return CWSIM_STALL;
        size_t n = len < 4 ? len : 4;
        for (size_t i = 0; i < n; i++)
            resp[i] = (uint8_t)(((unsigned)b->cdc_flags >> i) & 1u);
        *rlen = n;
        return 0;
    }
    case 0x35: /* target SPI utility: replies are not in the document (stub: empty) */
        if (!usb_feature(b, FEAT_TARGET_SPI) || sub < 0xA0 || sub > 0xA8)
            return CWSIM_STALL;
        *rlen = 0;
        return 0;
    case 0x40: /* build date, "HH:MM:SS Mmm DD YYYY", no NUL */
        if (!usb_feature(b, FEAT_BUILD_DATE))
            return CWSIM_STALL;
        memcpy(resp, b->kd->build_date, 20);
        *rlen = 20;
        return 0;
    default:
        return CWSIM_STALL;
    }
}

int cwsim_board_set_vendor_hook(cwsim_board *b, uint8_t bRequest, cwsim_vendor_hook hook, void *ctx)
{
    if (bRequest != 0x20 && bRequest != 0x21)
        return -1;
    b->hook[bRequest - 0x20] = hook;
    b->hook_ctx[bRequest - 0x20] = ctx;
    return 0;
}

/* *direct = 1 when an engine hook wrote an IN reply straight into data. */
static int vendor_request(cwsim_board *b, uint8_t bm, uint8_t req, uint16_t val, uint16_t idx,
                          uint8_t *data, uint16_t len, uint8_t *resp, size_t *rlen, int *direct)
{
    int in = (bm & 0x80) != 0;
    unsigned rcpt = bm & 0x1Fu;
    /* §1.1 MS OS 2.0: bmRequestType 0xC0, bRequest 0x01, answered before any class dispatch
     * (wIndex 7 = MS_OS_20_DESCRIPTOR_INDEX) */
    if (bm == 0xC0 && req == 0x01 && usb_feature(b, FEAT_WCID)) {
        if (idx != 7)
            return CWSIM_STALL;
        *rlen = msos_set(resp);
        return 0;
    }
    /* §2.1: only when configured; recipient device or interface; wIndex low byte names the
     * interface, 2 is rewritten to 1 */
    if (!b->config || rcpt > 1)
        return CWSIM_STALL;
    unsigned iface = idx & 0xFFu;
    if (iface == 2)
        iface = 1;
    if (iface == 1) {
        if (!b->mpsse)
            return CWSIM_STALL; /* the CDC class declines vendor requests */
        *rlen = 0;              /* §2.2: the MPSSE handler swallows them */
        return in ? 0 : len;
    }
    if (iface != 0)
        return CWSIM_STALL;

    if ((req == 0x20 || req == 0x21) && b->kd->kind != CWSIM_NANO && b->hook[req - 0x20]) {
        /* The engines (sim/engines/). OUT data goes through the shared 128-byte buffer, so an
         * engine that reads past wLength sees what earlier requests left there. */
        uint8_t *buf = data;
        if (!in) {
            if (len > CTRL_BUF)
                return CWSIM_STALL;
            if (len > 0)
                memcpy(b->ctrlbuf, data, len);
            buf = b->ctrlbuf;
        }
        int r = b->hook[req - 0x20](b->hook_ctx[req - 0x20], b, bm, req, val, idx, buf, len);
        *direct = 1;
        if (r >= 0 && in)
            *rlen = (size_t)r;
        return r < 0 ? r : 0;
    }
    if (in)
        return vendor_in(b, req, val, len, resp, rlen);
    if (!vendor_out_accept(b, req, val))
        return CWSIM_STALL;
    if (len > CTRL_BUF)
        return CWSIM_STALL; /* §2.1: the data stage stalls; SETUP side effects remain */
    if (len > 0)
        memcpy(b->ctrlbuf, data, len);
    vendor_out_callback(b, req, val, len);
    return 0;
}

static void post_action(cwsim_board *b)
{
    int p = b->post;
    b->post = POST_NONE;
    if (p == POST_RESET) {
        /* §2.3 0x22/0x10: detach, reset the SAM, re-enumerate. The FPGA keeps its
         * configuration (inferred). */
        sam_reset(b);
        b->usart.cdc_enabled = 1;
        b->generation++;
        b->reenum_until = b->sim->now + REENUM_NS;
        if (b->reenum_until == 0)
            b->reenum_until = 1;
    } else if (p == POST_BOOTLOADER) {
        /* §2.3 0x22/0x03: the board comes back as SAM-BA 0x03EB:0x6124, not simulated: it is
         * gone for the rest of the run */
        b->unplugged = 1;
    }
}

int usb_control(cwsim_board *b, uint8_t bm, uint8_t req, uint16_t val, uint16_t idx, uint8_t *data,
                uint16_t len, unsigned timeout_ms)
{
    uint64_t lat = b->sim->usb_latency, half = lat / 2;
    int in = (bm & 0x80) != 0;
    unsigned type = (bm >> 5) & 3u;
    uint8_t resp[512];
    size_t rlen = 0;
    int r, direct = 0;
    (void)timeout_ms;
    if (in && len == 0) { /* §2.1: IN with wLength 0 is stalled */
        sim_pass_usb(b, lat);
        return CWSIM_STALL;
    }
    sim_pass_usb(b, half); /* the request acts in the middle of the transfer */
    if (type == 0)
        r = std_request(b, bm, req, val, idx, resp, &rlen, len);
    else if (type == 1)
        r = cdc_request(b, bm, req, idx, data, len, resp, &rlen);
    else if (type == 2)
        r = vendor_request(b, bm, req, val, idx, data, len, resp, &rlen, &direct);
    else
        r = CWSIM_STALL;
    if (r >= 0 && in) {
        if (rlen > len) {
            /* §2.1: the firmware does not clip IN payloads to wLength (inferred overflow) */
            if (!direct)
                memcpy(data, resp, len);
            r = CWSIM_OVERFLOW;
        } else {
            if (!direct)
                memcpy(data, resp, rlen);
            r = (int)rlen;
        }
    } else if (r >= 0) {
        r = len;
    }
    wiring_update(b); /* the target sees a register change when it happens */
    sim_pass_usb(b, lat - half);
    post_action(b);
    return r;
}

/* ---- bulk endpoints ------------------------------------------------------------------------- */

static uint64_t bulk_ns(const cwsim_board *b, size_t n)
{
    double rate = b->kd->high_speed ? HS_BULK_BYTES_PER_S : FS_BULK_BYTES_PER_S;
    return b->sim->usb_latency + (uint64_t)((double)n * 1e9 / rate);
}

static void bulk_deliver(cwsim_board *b)
{
    for (size_t i = 0; i < b->bulk_pending_len; i++) {
        uint8_t v = b->bulk_pending[i];
        switch (b->bulk_out_mode) {
        case BULK_OUT_REG:
            if (b->kd->has_fpga)
                fpga_write_byte(b, v);
            break;
        case BULK_OUT_BITSTREAM:
            fpga_config_byte(b, v);
            break;
        default:
            break; /* an FPGA on the target: not simulated */
        }
    }
    b->bulk_pending_len = 0;
}

/* Wait (virtual time) until pred holds or the timeout passes; 0 = "forever" returns at once. */
static int wait_for(cwsim_board *b, int (*pred)(const cwsim_board *), unsigned timeout_ms)
{
    cwsim *sim = b->sim;
    uint64_t deadline = sim->now + (uint64_t)timeout_ms * 1000000u;
    while (!pred(b) && timeout_ms > 0 && sim->now < deadline) {
        uint64_t t = sim_next_event(sim);
        if (t > deadline)
            t = deadline;
        if (t < sim->now)
            t = sim->now;
        b->cnt.usb_ns += t - sim->now;
        sim_run_until(sim, t);
    }
    return pred(b);
}

static int never(const cwsim_board *b)
{
    (void)b;
    return 0;
}

static int cdc_has_data(const cwsim_board *b)
{
    return circ_count(&b->usart.cdc) > 0;
}

int usb_bulk(cwsim_board *b, uint8_t ep, uint8_t *data, int len, unsigned timeout_ms)
{
    const sim_kind_desc *kd = b->kd;
    unsigned mps = kd->high_speed ? 512u : 64u;
    size_t n = (size_t)len;
    if (!b->config || !valid_ep(b, ep))
        return CWSIM_INVALID;
    if ((ep & 0x80) == 0 && (ep == kd->cdc_notify))
        return CWSIM_INVALID;
    if (b->halt[(ep & 0x80) ? 1 : 0][ep & 0x0F]) {
        sim_pass_usb(b, b->sim->usb_latency);
        return CWSIM_STALL;
    }
    if (ep == kd->ep_in) {
        if (b->bulk_in_left == 0) {
            /* §8: no job queued (no 0x10): the device NAKs until the host times out */
            wait_for(b, never, timeout_ms);
            return CWSIM_TIMEOUT;
        }
        size_t left = b->bulk_in_left;
        int overflow = 0;
        size_t take = n;
        if (n >= left) {
            take = left;
        } else if (n % mps != 0) {
            /* the device sends a full packet into a smaller buffer: EOVERFLOW */
            overflow = 1;
            take = ((n + mps - 1) / mps) * mps;
            if (take > left)
                take = left;
        }
        sim_pass_usb(b, bulk_ns(b, take));
        for (size_t i = 0; i < take; i++) {
            uint8_t v = kd->has_fpga ? fpga_read_byte(b) : 0; /* Nano: the sample buffer */
            if (i < n)
                data[i] = v;
        }
        b->bulk_in_left -= (uint32_t)take;
        if (b->bulk_in_left == 0 && b->lock == LOCK_BLOCKIN)
            b->lock = LOCK_FREE; /* §2.5: blockin until the bulk IN completes */
        return overflow ? CWSIM_OVERFLOW : (int)take;
    }
    if (ep == kd->ep_out) {
        uint64_t t = bulk_ns(b, n);
        if (b->bulk_out_mode == BULK_OUT_BITSTREAM && b->fpga.prog_hz > 0) {
            /* every byte is clocked out to the FPGA before more is accepted (§3.4) */
            uint64_t prog = (uint64_t)((double)n * 8e9 / b->fpga.prog_hz);
            if (prog > t)
                t = prog;
        }
        sim_pass_usb(b, t);
        /* §2.5: a 1024-byte buffer; the callback runs when it is full or a short packet
         * (or a ZLP) ends the transfer. A transfer that is an exact multiple of the max packet
         * size and leaves the buffer part-filled waits for more data (inferred). */
        for (size_t i = 0; i < n; i++) {
            b->bulk_pending[b->bulk_pending_len++] = data[i];
            if (b->bulk_pending_len == sizeof b->bulk_pending)
                bulk_deliver(b);
        }
        if (n == 0 || n % mps != 0)
            bulk_deliver(b);
        return len;
    }
    if (ep == kd->cdc_in) {
        sim_pass_usb(b, b->sim->usb_latency);
        if (!wait_for(b, cdc_has_data, timeout_ms))
            return CWSIM_TIMEOUT;
        size_t got = 0;
        uint8_t v;
        while (got < n && circ_pop(&b->usart.cdc, &v) == 0)
            data[got++] = v;
        return (int)got;
    }
    if (ep == kd->cdc_out) {
        sim_pass_usb(b, bulk_ns(b, n));
        for (size_t i = 0; i < n; i++)
            usart_putchar(b, data[i]); /* §5.6: the bundled firmware shares the TX buffer */
        return len;
    }
    /* CDC notify (interrupt IN): the firmware never sends notifications here */
    wait_for(b, never, timeout_ms);
    return CWSIM_TIMEOUT;
}
