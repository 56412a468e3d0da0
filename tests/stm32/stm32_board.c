/* SPDX-License-Identifier: MIT */
/* The STM32 chip behind a simulated CW-Lite (cwsim_stm32_attach, CW308 wiring): bootloader
 * entry with PDIC = BOOT0 and an nRST pulse as the CW does it (target-protocols.md §A.2), the
 * AN3155 exchange through the board's USART bridge at 115200 8E1 (§A.1, cw-usb-protocol.md §5),
 * the application's banner at 38400 8N1 on the board clock, wiring faults, and the state
 * folder written when the world is freed; on a Husky, the application on its PLL's clock. */
#include "check.h"
#include "stm32_host.h"

#define REQ_USART_DATA 0x1A /* cw-usb-protocol.md §5, target-protocols.md §A.1 */
#define REQ_USART_CFG  0x1B
#define REQ_MEM_READ   0x12 /* cw-usb-protocol.md §2.5 */
#define REQ_MEM_WRITE  0x13
#define REG_IOROUTE    55 /* cw-usb-protocol.md §4.1 */
#define REG_IOREAD     59 /* cw-usb-protocol.md §4.2 */

static int ctrl(cwsim_board *b, uint8_t type, uint8_t req, uint16_t value, uint8_t *data,
                uint16_t len)
{
    return cwsim_board_control(b, type, req, value, 0, data, len, 1000);
}

static void reg_read(cwsim_board *b, unsigned addr, uint8_t *out, unsigned len)
{
    uint8_t hdr[8] = {(uint8_t)len, 0, 0, 0, (uint8_t)addr, 0, 0, 0};
    CHECK_EQ_INT(ctrl(b, 0x41, REQ_MEM_READ, 0, hdr, 8), 8);
    CHECK_EQ_INT(ctrl(b, 0xC1, REQ_MEM_READ, 0, out, (uint16_t)len), (int)len);
}

static void reg_write(cwsim_board *b, unsigned addr, const uint8_t *in, unsigned len)
{
    uint8_t m[8 + 16] = {(uint8_t)len, 0, 0, 0, (uint8_t)addr, 0, 0, 0};
    memcpy(m + 8, in, len);
    CHECK_EQ_INT(ctrl(b, 0x41, REQ_MEM_WRITE, 0, m, (uint16_t)(8 + len)), (int)(8 + len));
}

/* IOROUTE byte 6 (cw-usb-protocol.md §4.1): nRST bits 1..0, PDIC bits 5..4; enable + level. */
static void set_xio(cwsim_board *b, unsigned shift, int level /* -1: high-Z */)
{
    uint8_t io[8];
    reg_read(b, REG_IOROUTE, io, 8);
    unsigned f = level < 0 ? ((unsigned)io[6] >> shift & 2u) : level ? 3u : 1u;
    io[6] = (uint8_t)(((unsigned)io[6] & ~(3u << shift)) | f << shift);
    reg_write(b, REG_IOROUTE, io, 8);
}

/* The CW's reset pulse (§A.2): nRST low 10 ms, released, 25 ms. */
static void pulse_reset(cwsim *sim, cwsim_board *b)
{
    set_xio(b, 0, 0);
    cwsim_advance_ns(sim, 10 * MS);
    set_xio(b, 0, -1);
    cwsim_advance_ns(sim, 25 * MS);
}

static void usart_init(cwsim_board *b, uint32_t baud, uint8_t parity_index)
{
    uint8_t cfg[7] = {(uint8_t)baud,
                      (uint8_t)(baud >> 8),
                      (uint8_t)(baud >> 16),
                      (uint8_t)(baud >> 24),
                      0,
                      parity_index,
                      8};
    CHECK_EQ_INT(ctrl(b, 0x41, REQ_USART_CFG, 0x0010, cfg, 7), 7);
    CHECK_EQ_INT(ctrl(b, 0x41, REQ_USART_CFG, 0x0011, NULL, 0), 0);
}

static void usart_send(cwsim_board *b, const uint8_t *d, size_t n)
{
    while (n > 0) {
        uint8_t chunk[58]; /* SERIAL_MAX_WRITE, §A.1 */
        size_t k = n < sizeof chunk ? n : sizeof chunk;
        memcpy(chunk, d, k);
        CHECK_EQ_INT(ctrl(b, 0x41, REQ_USART_DATA, 0, chunk, (uint16_t)k), (int)k);
        d += k;
        n -= k;
    }
}

/* Poll the board's RX buffer until n bytes came or timeout_ns of virtual time passed. */
static size_t usart_recv(cwsim *sim, cwsim_board *b, uint8_t *out, size_t n, uint64_t timeout_ns)
{
    size_t got = 0;
    uint64_t end = cwsim_now_ns(sim) + timeout_ns;
    while (got < n && cwsim_now_ns(sim) < end) {
        uint8_t cnt[4];
        CHECK_EQ_INT(ctrl(b, 0xC1, REQ_USART_CFG, 0x0014, cnt, 4), 4);
        unsigned avail = cnt[0] | (unsigned)cnt[1] << 8;
        if (avail == 0) {
            cwsim_advance_ns(sim, MS);
            continue;
        }
        if (avail > n - got)
            avail = (unsigned)(n - got);
        if (avail > 128)
            avail = 128;
        CHECK_EQ_INT(ctrl(b, 0xC1, REQ_USART_DATA, 0, out + got, (uint16_t)avail), (int)avail);
        got += avail;
    }
    return got;
}

static int exchange(cwsim *sim, cwsim_board *b, const uint8_t *tx, size_t ntx, uint8_t *rx,
                    size_t nrx)
{
    usart_send(b, tx, ntx);
    return (int)usart_recv(sim, b, rx, nrx, SEC);
}

/* One CDCI6214 access through the Husky's I2C bridge (cw-usb-protocol.md §4.9.1). */
static uint16_t pll_access(cwsim_board *b, int write, unsigned addr, unsigned value)
{
    uint8_t d[5] = {(uint8_t)write, (uint8_t)addr, 0, (uint8_t)value, (uint8_t)(value >> 8)};
    uint8_t r[3];
    CHECK_EQ_INT(ctrl(b, 0x41, 0x29, 0, d, 5), 5);
    CHECK_EQ_INT(ctrl(b, 0xC1, 0x29, 0, r, 3), 3);
    CHECK_EQ_INT(r[0], 2);
    return (uint16_t)(r[1] | r[2] << 8);
}

static void pll_rmw(cwsim_board *b, unsigned addr, unsigned set, unsigned clear)
{
    pll_access(b, 1, addr, (pll_access(b, 0, addr, 0) & ~clear) | set);
}

/* The Husky's target clock: ip_rdiv d, PSFB 5 and divider mul, prescaler A p, output divider
 * out on channel 1 (the ADC at out / 4 on channel 3), then a reset and the 5 ms it takes to lock
 * (cw-usb-protocol.md §4.9.3, §4.9.4). */
static void husky_clock(cwsim *sim, cwsim_board *b, unsigned d, unsigned mul, unsigned p,
                        unsigned out)
{
    pll_rmw(b, 0x01, 0x0200, 0x0300); /* the crystal, chosen by the register */
    pll_rmw(b, 0x1E, p - 4, 0x03);
    pll_rmw(b, 0x1B, d, 0xFF);
    pll_rmw(b, 0x1D, 0x4000 | mul, 0xFFFF);
    pll_rmw(b, 0x25, out, 0xFFFF);
    pll_rmw(b, 0x31, out / 4, 0xFFFF);
    pll_rmw(b, 0x00, 0x0004, 0);
    cwsim_advance_ns(sim, 10 * MS);
    CHECK_EQ_INT(pll_access(b, 0, 0x07, 0) & 0x0800, 0x0800);
}

/* An F1 on a Husky: programmed through the bootloader, then its application talks at 38400 on
 * the PLL's 7.37 MHz and is garbled at 8 MHz (the F1 quirk, target-protocols.md §A.7): the
 * chip runs on the clock the Husky makes. */
static void husky(void)
{
    char err[300] = "";
    cwsim *sim;
    if (cwsim_new(&sim, err, sizeof err) != 0) {
        fprintf(stderr, "set-up: %s\n", err);
        CHECK(0);
        return;
    }
    cwsim_board *b = cwsim_board_add(sim, CWSIM_HUSKY, NULL, err, sizeof err);
    cwsim_stm32 *chip = b != NULL ? cwsim_stm32_attach(b, "CW308_STM32F1", err, sizeof err) : NULL;
    CHECK(chip != NULL);
    if (chip == NULL) {
        fprintf(stderr, "%s\n", err);
        cwsim_free(sim);
        return;
    }
    uint8_t hs2 = 0x43, io[8];
    reg_write(b, 38, &hs2, 1); /* HS2 = the PLL's channel 1 (§4.3) */
    reg_read(b, REG_IOROUTE, io, 8);
    io[0] = 0x02; /* TIO1 = board RX, TIO2 = board TX (§6.1) */
    io[1] = 0x01;
    reg_write(b, REG_IOROUTE, io, 8);
    cwsim_target_view tv;
    cwsim_board_target_view(b, &tv);
    CHECK(tv.clock_hz == 0.0); /* the PLL's power-up values give no clock */
    husky_clock(sim, b, 11, 454, 4, 84);
    cwsim_board_target_view(b, &tv);
    CHECK(tv.clock_hz > 7370129 && tv.clock_hz < 7370131);

    set_xio(b, 4, 1);
    pulse_reset(sim, b);
    CHECK_EQ_INT(cwsim_stm32_get_mode(chip), CWSIM_STM32_BOOTLOADER);
    usart_init(b, 115200, 2);
    uint8_t r[300];
    CHECK_EQ_INT(exchange(sim, b, (const uint8_t[]){0x7F}, 1, r, 1), 1);
    CHECK_EQ_INT(r[0], ACK);
    uint8_t blk[130] = {0x7F};
    uint8_t x = 0x7F;
    for (int i = 0; i < 128; i++) {
        blk[1 + i] = (uint8_t)(i * 7 + 1);
        x ^= blk[1 + i];
    }
    blk[129] = x;
    CHECK_EQ_INT(exchange(sim, b, (const uint8_t[]){0x31, 0xCE}, 2, r, 1), 1);
    CHECK_EQ_INT(exchange(sim, b, (const uint8_t[]){0x08, 0x00, 0x00, 0x00, 0x08}, 5, r, 1), 1);
    CHECK_EQ_INT(exchange(sim, b, blk, sizeof blk, r, 1), 1);
    CHECK_EQ_INT(r[0], ACK);

    CHECK_EQ_INT(cwsim_stm32_set_app(chip, "banner", err, sizeof err), 0);
    set_xio(b, 4, 0);
    usart_init(b, 38400, 0);
    pulse_reset(sim, b);
    CHECK_EQ_INT(cwsim_stm32_get_mode(chip), CWSIM_STM32_APP);
    const char *banner = "cwsim stm32f100xb application\r\n";
    size_t bl = strlen(banner);
    CHECK_EQ_INT(usart_recv(sim, b, r, bl, SEC), bl);
    CHECK_MEM(r, banner, bl);
    /* 8 MHz: 12 MHz x 5 x 40 / 5 / 60; the application's 38400 baud is 8 % off */
    husky_clock(sim, b, 1, 40, 5, 60);
    cwsim_board_target_view(b, &tv);
    CHECK(tv.clock_hz > 7999999 && tv.clock_hz < 8000001);
    pulse_reset(sim, b);
    size_t got = usart_recv(sim, b, r, bl, SEC);
    CHECK(got != bl || memcmp(r, banner, bl) != 0);
    cwsim_free(sim);
}

int main(void)
{
    char err[300] = "", dir[64] = "/tmp/cwlua-stm32-test.XXXXXX";
    cwsim *sim;
    if (mkdtemp(dir) == NULL || cwsim_new(&sim, err, sizeof err) != 0 ||
        cwsim_state_open(sim, dir, err, sizeof err) != 0) {
        fprintf(stderr, "set-up: %s\n", err);
        return 1;
    }
    cwsim_board *b = cwsim_board_add(sim, CWSIM_CWLITE, NULL, err, sizeof err);
    CHECK(b != NULL);
    if (b == NULL)
        return check_report("stm32_board");
    cwsim_board_default_setup(b);
    CHECK(cwsim_stm32_attach(b, "nosuchpart", err, sizeof err) == NULL);
    cwsim_stm32 *chip = cwsim_stm32_attach(b, "CW308_STM32F1", err, sizeof err);
    CHECK(chip != NULL);
    if (chip == NULL) {
        fprintf(stderr, "%s\n", err);
        return check_report("stm32_board");
    }
    CHECK(strcmp(cwsim_stm32_part(chip)->name, "stm32f100xb") == 0);
    cwsim_advance_ns(sim, 10 * MS);
    /* powered, PDIC undriven (BOOT0 pulled low), blank flash: halted */
    CHECK_EQ_INT(cwsim_stm32_get_mode(chip), CWSIM_STM32_HALTED);
    /* the chip's TX (TIO1) idles high: the board reads it back (register 59 bit 0) */
    uint8_t rd[1];
    reg_read(b, REG_IOREAD, rd, 1);
    CHECK_EQ_INT(rd[0] & 1, 1);

    /* §A.2: PDIC high, reset pulse, then sync at 115200 8E1 */
    set_xio(b, 4, 1);
    pulse_reset(sim, b);
    CHECK_EQ_INT(cwsim_stm32_get_mode(chip), CWSIM_STM32_BOOTLOADER);
    usart_init(b, 115200, 2);
    uint8_t r[300];
    CHECK_EQ_INT(exchange(sim, b, (const uint8_t[]){0x7F}, 1, r, 1), 1);
    CHECK_EQ_INT(r[0], ACK);
    const uint8_t id[] = {0x79, 0x01, 0x04, 0x20, 0x79};
    CHECK_EQ_INT(exchange(sim, b, (const uint8_t[]){0x02, 0xFD}, 2, r, 5), 5);
    CHECK_MEM(r, id, 5);

    /* a 128-byte block as the CW writes it (§A.5 wire trace), then read back */
    uint8_t d[128];
    fill_pattern(d, sizeof d, 21);
    CHECK_EQ_INT(exchange(sim, b, (const uint8_t[]){0x31, 0xCE}, 2, r, 1), 1);
    CHECK_EQ_INT(r[0], ACK);
    CHECK_EQ_INT(exchange(sim, b, (const uint8_t[]){0x08, 0x00, 0x00, 0x80, 0x88}, 5, r, 1), 1);
    CHECK_EQ_INT(r[0], ACK);
    uint8_t blk[130];
    blk[0] = 0x7F;
    uint8_t x = 0x7F;
    for (int i = 0; i < 128; i++) {
        blk[1 + i] = d[i];
        x ^= d[i];
    }
    blk[129] = x;
    CHECK_EQ_INT(exchange(sim, b, blk, sizeof blk, r, 1), 1);
    CHECK_EQ_INT(r[0], ACK);
    CHECK_EQ_INT(exchange(sim, b, (const uint8_t[]){0x11, 0xEE}, 2, r, 1), 1);
    CHECK_EQ_INT(exchange(sim, b, (const uint8_t[]){0x08, 0x00, 0x00, 0x80, 0x88}, 5, r, 1), 1);
    CHECK_EQ_INT(exchange(sim, b, (const uint8_t[]){0x7F, 0x80}, 2, r, 129), 129);
    CHECK_EQ_INT(r[0], ACK);
    CHECK_MEM(r + 1, d, 128);
    cwsim_counters cc;
    cwsim_counters_get(sim, &cc);
    CHECK(cc.flash_ns >= 64 * 52500); /* 64 half-words, §A.7b */

    /* uart-tx-open: the chip hears nothing; cleared, it answers again */
    CHECK_EQ_INT(cwsim_fault_set(sim, "uart-tx-open", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(exchange(sim, b, (const uint8_t[]){0x02, 0xFD}, 2, r, 1), 0);
    CHECK_EQ_INT(cwsim_fault_clear(sim, "uart-tx-open"), 0);
    CHECK_EQ_INT(exchange(sim, b, (const uint8_t[]){0x02, 0xFD}, 2, r, 5), 5);
    CHECK_MEM(r, id, 5);
    /* the CW's sync retries without a reset (§A.2 attempts 3-5) meet a synced bootloader:
     * 0x7F is a command byte, the next 0x7F its bad complement */
    CHECK_EQ_INT(exchange(sim, b, (const uint8_t[]){0x7F}, 1, r, 1), 0);
    CHECK_EQ_INT(exchange(sim, b, (const uint8_t[]){0x7F}, 1, r, 1), 1);
    CHECK_EQ_INT(r[0], NACK);

    /* PDIC low and a reset: the application (banner) on the board clock at 38400 8N1 */
    CHECK_EQ_INT(cwsim_stm32_set_app(chip, "banner", err, sizeof err), 0);
    set_xio(b, 4, 0);
    usart_init(b, 38400, 0);
    pulse_reset(sim, b);
    CHECK_EQ_INT(cwsim_stm32_get_mode(chip), CWSIM_STM32_APP);
    const char *banner = "cwsim stm32f100xb application\r\n";
    size_t bl = strlen(banner);
    CHECK_EQ_INT(usart_recv(sim, b, r, bl, SEC), bl);
    CHECK_MEM(r, banner, bl);
    /* no-clock: the application is silent */
    CHECK_EQ_INT(cwsim_fault_set(sim, "no-clock", NULL, err, sizeof err), 0);
    pulse_reset(sim, b);
    CHECK_EQ_INT(usart_recv(sim, b, r, bl, SEC), 0);
    CHECK_EQ_INT(cwsim_fault_clear(sim, "no-clock"), 0);
    /* boot0-stuck-low: PDIC high, yet the application runs */
    CHECK_EQ_INT(cwsim_fault_set(sim, "boot0-stuck-low", NULL, err, sizeof err), 0);
    set_xio(b, 4, 1);
    pulse_reset(sim, b);
    CHECK_EQ_INT(cwsim_stm32_get_mode(chip), CWSIM_STM32_APP);
    CHECK_EQ_INT(cwsim_fault_clear(sim, "boot0-stuck-low"), 0);
    /* target power off and on: boots again with BOOT0 high */
    uint8_t io[8];
    reg_read(b, REG_IOROUTE, io, 8);
    io[5] |= 0x02;
    reg_write(b, REG_IOROUTE, io, 8);
    cwsim_advance_ns(sim, 10 * MS);
    CHECK_EQ_INT(cwsim_stm32_get_mode(chip), CWSIM_STM32_OFF);
    io[5] &= (uint8_t)~0x02;
    reg_write(b, REG_IOROUTE, io, 8);
    cwsim_advance_ns(sim, 10 * MS);
    CHECK_EQ_INT(cwsim_stm32_get_mode(chip), CWSIM_STM32_BOOTLOADER);

    /* the world's end saves the chip (the board frees it) */
    cwsim_free(sim);
    if (cwsim_new(&sim, err, sizeof err) == 0 && cwsim_state_open(sim, dir, err, sizeof err) == 0) {
        void *blob = NULL;
        size_t len = 0;
        CHECK_EQ_INT(cwsim_state_load(sim, "stm32f100xb.flash", &blob, &len, err, sizeof err), 0);
        CHECK_EQ_INT(len, 128 * 1024);
        if (blob != NULL && len == 128 * 1024)
            CHECK_MEM((uint8_t *)blob + 0x80, d, 128);
        free(blob);
        cwsim_free(sim);
    }
    host_remove_dir(dir);
    husky();
    return check_report("stm32_board");
}
