/* SPDX-License-Identifier: MIT */
/* Boot, sync and run states of the simulated STM32: start-up, BOOT0 and nRST (contract.md §5),
 * autobaud on 0x7F at 1200-115200 baud with even parity (target-protocols.md §A.3), what an
 * already-synced bootloader does with 0x7F (§A.2 note, §A.10), the already-synced and
 * boot0-stuck-low faults, parity errors, Go (§A.4), and the application model (contract.md §5:
 * silent/banner, 38400 8N1 scaled by the clock, baud-skew). */
#include "check.h"
#include "stm32_host.h"

static const char *const PART = "stm32f100xb";

static void startup_and_sync(void)
{
    host h;
    if (host_open(&h, PART) != 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_OFF);
    host_send1(&h, 0x7F); /* unpowered: nothing */
    CHECK_EQ_INT(host_byte(&h, 10 * MS), NOREPLY);
    cwsim_stm32_set_boot0(h.chip, 1, h.now);
    cwsim_stm32_set_power(h.chip, 1, h.now);
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_STARTING);
    host_send1(&h, 0x7F); /* arrives before the bootloader runs: ignored */
    CHECK_EQ_INT(host_byte(&h, 10 * MS), NOREPLY);
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_BOOTLOADER);
    /* anything but 0x7F is ignored before sync (§A.9). Not 0xFF: at 8E1 its frame is a 0x7F
     * at 8/9 of the baud (the even-parity 0 after eight 1s), and the autobaud takes it. */
    const uint8_t junk[] = {0x00, 0x55, 0x0F, 0x79, 0x7E, 0x3F};
    host_send(&h, junk, sizeof junk);
    CHECK_EQ_INT(host_byte(&h, 10 * MS), NOREPLY);
    CHECK_EQ_INT(bl_sync(&h), ACK);
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_SYNCED);
    cwsim_uart_format bf = cwsim_stm32_bootloader_format(h.chip);
    CHECK(bf.baud > 115199 && bf.baud < 115201);
    /* the ACK went out in 8E1 and decoded cleanly */
    CHECK_EQ_INT(h.rx_err[h.rx_len - 1], 0);
    /* synced: a second 0x7F is a command byte (no reply), a third is its bad complement */
    host_send1(&h, 0x7F);
    CHECK_EQ_INT(host_byte(&h, 100 * MS), NOREPLY);
    CHECK_EQ_INT(bl_sync(&h), NACK);
    CHECK_EQ_INT(bl_cmd(&h, 0x02), ACK); /* and it still works */
    uint8_t r[4];
    CHECK_EQ_INT(host_recv(&h, r, 4, SEC), 4);
    CHECK_EQ_INT(r[1], 0x04);
    CHECK_EQ_INT(r[2], 0x20);
    /* an nRST pulse: back to an unsynced bootloader (BOOT0 still high) */
    host_reset(&h);
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_BOOTLOADER);
    CHECK_EQ_INT(bl_cmd(&h, 0x02), NOREPLY);
    CHECK_EQ_INT(bl_sync(&h), ACK);
    /* held in reset: nothing */
    cwsim_stm32_set_nrst(h.chip, 1, h.now);
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_RESET);
    CHECK_EQ_INT(bl_sync(&h), NOREPLY);
    cwsim_stm32_counters cnt;
    cwsim_stm32_counters_get(h.chip, &cnt);
    CHECK_EQ_INT(cnt.resets, 2);
    CHECK(cnt.acks >= 4);
    host_close(&h);
}

/* §A.3: autobaud over 1200..115200; outside that range the bootloader does not answer. */
static void autobaud(void)
{
    static const double ok_bauds[] = {
        1200,  2400,  9600,   19200,
        38400, 57600, 115200, 115108.4 /* a CW-Lite's "115200", cw-usb §5.1 */};
    for (size_t i = 0; i < sizeof ok_bauds / sizeof ok_bauds[0]; i++) {
        host h;
        if (host_open(&h, PART) != 0)
            continue;
        h.fmt = host_format(ok_bauds[i], CWSIM_PARITY_EVEN);
        host_boot(&h, 1);
        CHECK_EQ_INT(bl_sync(&h), ACK);
        cwsim_uart_format f = cwsim_stm32_bootloader_format(h.chip);
        CHECK(f.baud > ok_bauds[i] * 0.999 && f.baud < ok_bauds[i] * 1.001);
        CHECK_EQ_INT(f.parity, CWSIM_PARITY_EVEN);
        CHECK_EQ_INT(bl_cmd(&h, 0x01), ACK); /* Get Version at that baud */
        uint8_t v[4];
        CHECK_EQ_INT(host_recv(&h, v, 4, 10 * SEC), 4);
        CHECK_EQ_INT(v[0], 0x22);
        CHECK_EQ_INT(v[3], ACK);
        host_close(&h);
    }
    static const double bad_bauds[] = {600, 1100, 128000, 230400, 460800};
    for (size_t i = 0; i < sizeof bad_bauds / sizeof bad_bauds[0]; i++) {
        host h;
        if (host_open(&h, PART) != 0)
            continue;
        h.fmt = host_format(bad_bauds[i], CWSIM_PARITY_EVEN);
        host_boot(&h, 1);
        CHECK_EQ_INT(bl_sync(&h), NOREPLY);
        CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_BOOTLOADER);
        host_close(&h);
    }
}

/* An 8N1 0x7F is a valid 8E1 frame (its stop bit sits where the even parity bit goes), so a
 * host with the wrong parity syncs; later bytes then carry parity errors and are dropped. */
static void parity(void)
{
    host h;
    if (host_open(&h, PART) != 0)
        return;
    h.fmt = host_format(115200, CWSIM_PARITY_NONE);
    host_boot(&h, 1);
    CHECK_EQ_INT(bl_sync(&h), ACK);
    /* 0x02 has one bit set: an 8N1 frame puts 1 in the parity slot, even parity wants 1: ok;
     * 0xFD has seven: ok too. Get Version's 0x01 0xFE likewise. Get's 0x00 0xFF: both bad. */
    CHECK_EQ_INT(bl_cmd(&h, 0x00), NOREPLY);
    cwsim_stm32_counters cnt;
    cwsim_stm32_counters_get(h.chip, &cnt);
    CHECK_EQ_INT(cnt.rx_errors, 2);
    host_close(&h);

    if (host_open(&h, PART) != 0)
        return;
    host_boot(&h, 1);
    CHECK_EQ_INT(bl_sync(&h), ACK);
    h.fmt = host_format(115200, CWSIM_PARITY_ODD); /* every byte has a parity error */
    CHECK_EQ_INT(bl_cmd(&h, 0x02), NOREPLY);
    cwsim_stm32_counters_get(h.chip, &cnt);
    CHECK_EQ_INT(cnt.rx_errors, 2);
    h.fmt = host_format(115200, CWSIM_PARITY_EVEN);
    CHECK_EQ_INT(bl_cmd(&h, 0x02), ACK); /* nothing half-received: the bootloader is idle */
    host_close(&h);
}

static void boot0_low_and_fault(void)
{
    host h;
    /* BOOT0 low, blank flash: the core faults on erased vectors, nothing answers */
    if (host_open(&h, PART) != 0)
        return;
    host_boot(&h, 0);
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_HALTED);
    CHECK_EQ_INT(bl_sync(&h), NOREPLY);
    host_close(&h);

    /* boot0-stuck-low: BOOT0 driven high, the chip never sees it */
    const char *const f[] = {"boot0-stuck-low", NULL};
    if (host_open_in(&h, PART, NULL, f) != 0)
        return;
    host_boot(&h, 1);
    CHECK(cwsim_stm32_get_mode(h.chip) != CWSIM_STM32_BOOTLOADER);
    CHECK_EQ_INT(bl_sync(&h), NOREPLY);
    host_reset(&h);
    CHECK_EQ_INT(bl_sync(&h), NOREPLY);
    host_close(&h);
}

static void already_synced(void)
{
    const char *const f[] = {"already-synced", NULL};
    host h;
    if (host_open_in(&h, PART, NULL, f) != 0)
        return;
    host_boot(&h, 1);
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_SYNCED);
    /* stm32flash's first 0x7F gets a NACK: "the interface was not closed properly" */
    CHECK_EQ_INT(bl_sync(&h), NACK);
    CHECK_EQ_INT(bl_cmd(&h, 0x01), ACK);
    uint8_t v[4];
    CHECK_EQ_INT(host_recv(&h, v, 4, SEC), 4);
    CHECK_EQ_INT(v[0], 0x22);
    host_close(&h);

    /* even with BOOT0 low: the earlier session left the bootloader running */
    if (host_open_in(&h, PART, NULL, f) != 0)
        return;
    host_boot(&h, 0);
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_SYNCED);
    host_close(&h);

    /* any nRST pulse clears it: the CW's sequence (§A.2) pulses reset, then syncs */
    if (host_open_in(&h, PART, NULL, f) != 0)
        return;
    host_boot(&h, 1);
    host_reset(&h);
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_BOOTLOADER);
    CHECK_EQ_INT(bl_sync(&h), ACK);
    host_reset(&h);
    CHECK_EQ_INT(bl_sync(&h), ACK); /* and it stays cleared */
    host_close(&h);
}

/* Program a few words into flash through the bootloader. */
static void program_something(host *h)
{
    uint8_t d[16];
    fill_pattern(d, sizeof d, 7);
    CHECK_EQ_INT(bl_write(h, 0x08000000, d, sizeof d), 0);
}

static const char *banner_of(const char *part, char *buf, size_t len)
{
    snprintf(buf, len, "cwsim %s application\r\n", part);
    return buf;
}

/* contract.md §5: the application after reset with BOOT0 low, when flash is not blank */
static void application(void)
{
    char want[80];
    banner_of(PART, want, sizeof want);
    size_t wl = strlen(want);
    uint8_t got[128];
    static const struct {
        double clock, skew, host_baud;
        int clean;
    } cases[] = {
        {7384600, 0, 38400, 1}, /* the nominal CW308 clock: 38400 exactly */
        {8000000, 0, 38400, 0}, /* the F1 quirk clock (§A.7): 8 % off, garbage */
        {8000000, 0, 38400 * 8.0 / 7.3846, 1},
        {3692300, 0, 19200, 1},  /* half the clock: half the baud */
        {7384600, 10, 38400, 0}, /* baud-skew=10: 10 % off, garbage at 38400 */
        {7384600, 10, 42240, 1}, /* ... and clean at 38400 x 1.1 */
        {7384600, -4, 38400, 1}, /* 4 % is within a UART's tolerance */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        host h;
        char skew[32];
        snprintf(skew, sizeof skew, "baud-skew=%g", cases[i].skew);
        const char *const f[] = {cases[i].skew != 0 ? skew : NULL, NULL};
        if (host_open_in(&h, PART, NULL, f) != 0)
            continue;
        CHECK_EQ_INT(cwsim_stm32_set_app(h.chip, "banner", NULL, 0), 0);
        CHECK_EQ_INT(host_bootloader(&h), 0);
        program_something(&h);
        cwsim_stm32_set_clock(h.chip, cases[i].clock, h.now);
        cwsim_stm32_set_boot0(h.chip, 0, h.now);
        h.fmt = host_format(cases[i].host_baud, CWSIM_PARITY_NONE);
        host_flush(&h);
        host_reset(&h);
        CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_APP);
        size_t n = host_recv(&h, got, sizeof got, SEC);
        CHECK_EQ_INT(n, wl); /* every frame arrives, whatever the receiver makes of it */
        int clean = n == wl && memcmp(got, want, wl) == 0;
        for (size_t k = h.rx_len - n; k < h.rx_len; k++)
            clean = clean && h.rx_err[k] == 0;
        CHECK_EQ_INT(clean, cases[i].clean);
        host_close(&h);
    }

    /* no clock: silent; silent model: silent; the bootloader does not answer in either */
    for (int k = 0; k < 2; k++) {
        host h;
        if (host_open(&h, PART) != 0)
            continue;
        if (k == 0)
            cwsim_stm32_set_app(h.chip, "banner", NULL, 0);
        CHECK_EQ_INT(host_bootloader(&h), 0);
        program_something(&h);
        if (k == 1)
            cwsim_stm32_set_clock(h.chip, 7384600, h.now);
        cwsim_stm32_set_boot0(h.chip, 0, h.now);
        host_flush(&h);
        host_reset(&h);
        CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_APP);
        CHECK_EQ_INT(host_recv(&h, got, sizeof got, SEC), 0);
        CHECK_EQ_INT(bl_sync(&h), NOREPLY);
        host_close(&h);
    }
    char err[200] = "";
    host h;
    if (host_open(&h, PART) == 0) {
        CHECK_EQ_INT(cwsim_stm32_set_app(h.chip, "ss3-aes", err, sizeof err), -1);
        CHECK(strstr(err, "silent, banner, ss1-aes, ss2-aes") != NULL);
        host_close(&h);
    }
}

/* Go (§A.4): ACK, address, ACK, then the jump once the ACK is out */
static void go(void)
{
    char want[80];
    banner_of(PART, want, sizeof want);
    host h;
    if (host_open(&h, PART) != 0)
        return;
    cwsim_stm32_set_app(h.chip, "banner", NULL, 0);
    cwsim_stm32_set_clock(h.chip, 7384600, h.now);
    CHECK_EQ_INT(host_bootloader(&h), 0);
    /* blank flash: Go is accepted, the core then halts */
    CHECK_EQ_INT(bl_cmd(&h, 0x21), ACK);
    CHECK_EQ_INT(bl_addr(&h, 0x08000000), ACK);
    host_wait(&h, 10 * MS);
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_HALTED);
    host_reset(&h);
    CHECK_EQ_INT(bl_sync(&h), ACK);
    program_something(&h);
    /* bad address checksum, option bytes, system memory, reserved RAM, nowhere: NACK */
    CHECK_EQ_INT(bl_cmd(&h, 0x21), ACK);
    const uint8_t badx[5] = {0x08, 0x00, 0x00, 0x00, 0x00};
    host_send(&h, badx, 5);
    CHECK_EQ_INT(host_reply(&h), NACK);
    static const uint32_t nogo[] = {0x1FFFF800, 0x1FFFF000, 0x20000000, 0x40000000, 0x08020000};
    for (size_t i = 0; i < sizeof nogo / sizeof nogo[0]; i++) {
        CHECK_EQ_INT(bl_cmd(&h, 0x21), ACK);
        CHECK_EQ_INT(bl_addr(&h, nogo[i]), NACK);
    }
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_SYNCED);
    /* Go to flash: the application runs, its banner at 38400 8N1 */
    CHECK_EQ_INT(bl_cmd(&h, 0x21), ACK);
    CHECK_EQ_INT(bl_addr(&h, 0x08000000), ACK);
    h.fmt = host_format(38400, CWSIM_PARITY_NONE);
    uint8_t got[64];
    size_t n = host_recv(&h, got, strlen(want), SEC);
    CHECK_EQ_INT(n, strlen(want));
    CHECK_MEM(got, want, strlen(want));
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_APP);
    host_close(&h);

    /* Go to RAM: stm32flash's reset stub (§A.10) resets the chip; other code halts it */
    for (int stub = 0; stub < 2; stub++) {
        if (host_open(&h, PART) != 0)
            return;
        CHECK_EQ_INT(host_bootloader(&h), 0);
        uint8_t code[32];
        memset(code, 0, sizeof code);
        if (stub) {
            const uint8_t lit[8] = {0x0C, 0xED, 0x00, 0xE0, 0x04, 0x00, 0xFA, 0x05};
            memcpy(code + 16, lit, 8);
        }
        CHECK_EQ_INT(bl_write(&h, 0x20000200, code, sizeof code), 0);
        CHECK_EQ_INT(bl_cmd(&h, 0x21), ACK);
        CHECK_EQ_INT(bl_addr(&h, 0x20000200), ACK);
        host_wait(&h, 10 * MS);
        CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip),
                     stub ? CWSIM_STM32_BOOTLOADER : CWSIM_STM32_HALTED);
        CHECK_EQ_INT(bl_sync(&h), stub ? ACK : NOREPLY);
        host_close(&h);
    }
}

/* Power cycles: RAM is lost, flash stays. */
static void power_cycle(void)
{
    host h;
    if (host_open(&h, PART) != 0)
        return;
    CHECK_EQ_INT(host_bootloader(&h), 0);
    uint8_t d[8] = {1, 2, 3, 4, 5, 6, 7, 8}, r[8];
    CHECK_EQ_INT(bl_write(&h, 0x20001000, d, 8), 0);
    CHECK_EQ_INT(bl_write(&h, 0x08000400, d, 8), 0);
    cwsim_stm32_set_power(h.chip, 0, h.now);
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_OFF);
    host_wait(&h, 100 * MS);
    CHECK_EQ_INT(host_bootloader(&h), 0);
    CHECK_EQ_INT(bl_read(&h, 0x20001000, r, 8), 0);
    CHECK(r[0] != 1 || r[7] != 8);
    CHECK_EQ_INT(bl_read(&h, 0x08000400, r, 8), 0);
    CHECK_MEM(r, d, 8);
    host_close(&h);
}

int main(void)
{
    startup_and_sync();
    autobaud();
    parity();
    boot0_low_and_fault();
    already_synced();
    application();
    go();
    power_cycle();
    return check_report("stm32_boot");
}
