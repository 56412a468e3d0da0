/* SPDX-License-Identifier: MIT */
/* Protection and option bytes (target-protocols.md §A.4, §A.8): Readout Protect/Unprotect and
 * Write Protect/Unprotect with the system resets they cause, what a protected chip refuses,
 * write-protected sectors that acknowledge and keep their bytes, Write Memory to the option
 * bytes, and persistence in the state folder with the read-protected / write-protected faults
 * (contract.md §5). */
#include "check.h"
#include "stm32_host.h"

/* After a self-reset (§A.4): the ACK, then a fresh bootloader that needs a new 0x7F (§A.9). */
static int resynced(host *h)
{
    host_wait(h, 5 * MS);
    if (cwsim_stm32_get_mode(h->chip) != CWSIM_STM32_BOOTLOADER)
        return 0;
    return bl_sync(h) == ACK;
}

static void readout_protection(void)
{
    host h;
    if (host_open(&h, "stm32f100xb") != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    uint8_t d[64], r[64];
    fill_pattern(d, sizeof d, 9);
    CHECK_EQ_INT(bl_write(&h, 0x08001000, d, 64), 0);
    CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 0);

    /* Readout Protect: ACK, ACK, system reset */
    CHECK_EQ_INT(bl_cmd(&h, 0x82), ACK);
    CHECK_EQ_INT(host_byte(&h, 5 * SEC), ACK);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 1);
    /* refused: one NACK after the command (§A.8) */
    static const uint8_t refused[] = {0x11, 0x21, 0x31, 0x43, 0x63, 0x73, 0x82};
    for (size_t i = 0; i < sizeof refused; i++)
        CHECK_EQ_INT(bl_cmd(&h, refused[i]), NACK);
    CHECK_EQ_INT(bl_read(&h, 0x08001000, r, 4), 1);
    CHECK_EQ_INT(bl_write(&h, 0x20000400, d, 4), 1);
    CHECK_EQ_INT(bl_mass_erase(&h, 0x43), 1);
    /* still answered: Get, Get Version, Get ID */
    CHECK_EQ_INT(bl_cmd(&h, 0x00), ACK);
    CHECK_EQ_INT(host_recv(&h, r, 14, SEC), 14);
    CHECK_EQ_INT(bl_cmd(&h, 0x01), ACK);
    CHECK_EQ_INT(host_recv(&h, r, 4, SEC), 4);
    CHECK_EQ_INT(bl_cmd(&h, 0x02), ACK);
    CHECK_EQ_INT(host_recv(&h, r, 4, SEC), 4);
    /* flash unchanged underneath; the option bytes say so (RDP not 0xA5) */
    CHECK_EQ_INT(cwsim_stm32_peek(h.chip, 0x08001000, r, 64), 64);
    CHECK_MEM(r, d, 64);
    CHECK_EQ_INT(cwsim_stm32_peek(h.chip, 0x1FFFF800, r, 2), 2);
    CHECK(r[0] != 0xA5);
    /* survives a reset and a power cycle */
    host_reset(&h);
    CHECK_EQ_INT(bl_sync(&h), ACK);
    CHECK_EQ_INT(bl_cmd(&h, 0x11), NACK);

    /* Readout Unprotect: ACK, mass erase (20 ms, §A.7b), ACK, system reset */
    CHECK_EQ_INT(bl_cmd(&h, 0x92), ACK);
    uint64_t sent = h.now;
    CHECK_EQ_INT(host_byte(&h, 60 * SEC), ACK);
    uint64_t t = h.rx_at[h.rx_len - 1] - sent;
    CHECK(t >= 20 * MS && t < 20 * MS + 300000);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 0);
    CHECK_EQ_INT(bl_read(&h, 0x08001000, r, 64), 0);
    CHECK(all_ff(r, 64));
    CHECK_EQ_INT(bl_read(&h, 0x1FFFF800, r, 2), 0);
    CHECK_EQ_INT(r[0], 0xA5);
    CHECK_EQ_INT(r[1], 0x5A);
    /* Readout Unprotect on an unprotected chip still erases and resets */
    CHECK_EQ_INT(bl_write(&h, 0x08001000, d, 64), 0);
    CHECK_EQ_INT(bl_cmd(&h, 0x92), ACK);
    CHECK_EQ_INT(host_byte(&h, 60 * SEC), ACK);
    CHECK(resynced(&h));
    CHECK_EQ_INT(bl_read(&h, 0x08001000, r, 64), 0);
    CHECK(all_ff(r, 64));
    host_close(&h);

    /* F4: Readout Unprotect erases 1 MiB: about 16 s (§A.7b), x10 with slow-erase */
    const char *const slow[] = {"slow-erase", NULL};
    for (int k = 0; k < 2; k++) {
        if (host_open_in(&h, "stm32f415xg", NULL, k ? slow : NULL) != 0 ||
            host_bootloader(&h) != 0) {
            CHECK(0);
            return;
        }
        CHECK_EQ_INT(bl_cmd(&h, 0x82), ACK);
        CHECK_EQ_INT(host_byte(&h, 5 * SEC), ACK);
        CHECK(resynced(&h));
        CHECK_EQ_INT(bl_cmd(&h, 0x92), ACK);
        sent = h.now;
        CHECK_EQ_INT(host_byte(&h, LONGWAIT), ACK);
        t = h.rx_at[h.rx_len - 1] - sent;
        uint64_t want = (k ? 160 : 16) * SEC;
        CHECK(t >= want && t < want + 300000);
        CHECK(resynced(&h));
        CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 0);
        host_close(&h);
    }
}

static void write_protection(void)
{
    host h;
    if (host_open(&h, "stm32f100xb") != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    /* F100: sectors of 4 x 1 KiB pages (§A.6 "1 KiB x 4") */
    uint8_t d[16], r[16];
    fill_pattern(d, sizeof d, 5);
    CHECK_EQ_INT(bl_write(&h, 0x08000400, d, 16), 0); /* page 1, sector 0 */

    /* a bad checksum: NACK, no reset, nothing protected */
    CHECK_EQ_INT(bl_cmd(&h, 0x63), ACK);
    host_send(&h, (const uint8_t[]){0x00, 0x00, 0x01}, 3);
    CHECK_EQ_INT(host_byte(&h, SEC), NACK);
    CHECK_EQ_INT(bl_cmd(&h, 0x02), ACK); /* still synced */
    CHECK_EQ_INT(host_recv(&h, r, 4, SEC), 4);
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 0), 0);

    /* Write Protect sectors 0, 2 and a bogus 200 (not checked, §A.8): ACK, ACK, reset */
    CHECK_EQ_INT(bl_cmd(&h, 0x63), ACK);
    host_send(&h, (const uint8_t[]){0x02, 0x00, 0x02, 200, 0x02 ^ 0x02 ^ 200}, 5);
    CHECK_EQ_INT(host_byte(&h, 5 * SEC), ACK);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 0), 1);
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 1), 0);
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 2), 1);
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 31), 0);
    /* the option bytes show it: WRP0 bits 0 and 2 cleared, with its complement */
    CHECK_EQ_INT(bl_read(&h, 0x1FFFF808, r, 8), 0);
    CHECK_EQ_INT(r[0], 0xFA);
    CHECK_EQ_INT(r[1], 0x05);
    CHECK_EQ_INT(r[2], 0xFF);

    /* writes into protected sectors: ACK, bytes kept (§A.8); elsewhere: written */
    const uint8_t z[16] = {0};
    CHECK_EQ_INT(bl_write(&h, 0x08000400, z, 8), 0);
    CHECK_EQ_INT(bl_read(&h, 0x08000400, r, 16), 0);
    CHECK_MEM(r, d, 16);
    CHECK_EQ_INT(bl_write(&h, 0x08002000, z, 8), 0); /* page 8: sector 2 */
    CHECK_EQ_INT(bl_read(&h, 0x08002000, r, 8), 0);
    CHECK(all_ff(r, 8));
    CHECK_EQ_INT(bl_write(&h, 0x08001000, z, 8), 0); /* page 4: sector 1 */
    CHECK_EQ_INT(bl_read(&h, 0x08001000, r, 8), 0);
    CHECK_MEM(r, z, 8);
    /* a block across the boundary: the protected half kept, the other half written */
    CHECK_EQ_INT(bl_write(&h, 0x08000FF8, z, 16), 0);
    CHECK_EQ_INT(bl_read(&h, 0x08000FF8, r, 16), 0);
    CHECK(all_ff(r, 8));
    CHECK_MEM(r + 8, z, 8);
    /* erasing protected pages: ACK, not erased; unprotected ones are erased */
    const unsigned pages[] = {1, 4};
    CHECK_EQ_INT(bl_erase_pages(&h, 0x43, pages, 2), 0);
    CHECK_EQ_INT(bl_read(&h, 0x08000400, r, 16), 0);
    CHECK_MEM(r, d, 16);
    CHECK_EQ_INT(bl_read(&h, 0x08001000, r, 8), 0);
    CHECK(all_ff(r, 8));
    /* a mass erase with protected sectors: ACK, nothing erased (UNCONFIRMED) */
    CHECK_EQ_INT(bl_write(&h, 0x08001000, z, 8), 0);
    CHECK_EQ_INT(bl_mass_erase(&h, 0x43), 0);
    CHECK_EQ_INT(bl_read(&h, 0x08001000, r, 8), 0);
    CHECK_MEM(r, z, 8);

    /* Write Unprotect: ACK, ACK, reset; then everything is writable again */
    CHECK_EQ_INT(bl_cmd(&h, 0x73), ACK);
    CHECK_EQ_INT(host_byte(&h, 5 * SEC), ACK);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 0), 0);
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 2), 0);
    CHECK_EQ_INT(bl_mass_erase(&h, 0x43), 0);
    CHECK_EQ_INT(bl_read(&h, 0x08000400, r, 16), 0);
    CHECK(all_ff(r, 16));
    host_close(&h);

    /* F4: one sector per bit of nWRP (§A.6 "sectors x 1") */
    if (host_open(&h, "stm32f415xg") != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(bl_cmd(&h, 0x63), ACK);
    host_send(&h, (const uint8_t[]){0x00, 0x01, 0x01}, 3);
    CHECK_EQ_INT(host_byte(&h, 5 * SEC), ACK);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 1), 1);
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 0), 0);
    CHECK_EQ_INT(bl_write(&h, 0x08004000, z, 8), 0);
    CHECK_EQ_INT(bl_read(&h, 0x08004000, r, 8), 0);
    CHECK(all_ff(r, 8));
    CHECK_EQ_INT(bl_read(&h, 0x1FFFC008, r, 2), 0);
    CHECK_EQ_INT(r[0], 0xFD);
    CHECK_EQ_INT(r[1], 0x0F);
    host_close(&h);
}

/* Write Memory to the option bytes (§A.4): written, then a system reset */
static void option_bytes(void)
{
    host h;
    if (host_open(&h, "stm32f100xb") != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    uint8_t ob[16] = {0xA5, 0x5A, 0xFF, 0x00, 0x12, 0xED, 0xFF, 0x00,
                      0xFF, 0x00, 0xFE, 0x01, 0xFF, 0x00, 0xFF, 0x00};
    CHECK_EQ_INT(bl_write(&h, 0x1FFFF800, ob, 16), 0);
    CHECK(resynced(&h));
    uint8_t r[16];
    CHECK_EQ_INT(bl_read(&h, 0x1FFFF800, r, 16), 0);
    CHECK_MEM(r, ob, 16);
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 8), 1);
    CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 0);
    /* misaligned or past the end of the option bytes: NACK */
    CHECK_EQ_INT(bl_write(&h, 0x1FFFF802, ob, 4), 2);
    CHECK_EQ_INT(bl_write(&h, 0x1FFFF808, ob, 16), 3);
    /* writing RDP = 0x00 protects the chip (after its reset) */
    const uint8_t rdp[4] = {0x00, 0xFF, 0xFF, 0x00};
    CHECK_EQ_INT(bl_write(&h, 0x1FFFF800, rdp, 4), 0);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 1);
    CHECK_EQ_INT(bl_read(&h, 0x1FFFF800, r, 4), 1);
    /* Readout Unprotect brings back factory option bytes on an F1 (WRP cleared too) */
    CHECK_EQ_INT(bl_cmd(&h, 0x92), ACK);
    CHECK_EQ_INT(host_byte(&h, 60 * SEC), ACK);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 8), 0);
    host_close(&h);
}

static int blob_size(host *h, const char *name, size_t *len)
{
    void *data = NULL;
    char err[200];
    int r = cwsim_state_load(h->sim, name, &data, len, err, sizeof err);
    free(data);
    return r;
}

static void persistence(void)
{
    host h;
    char dir[128];
    uint8_t d[32], r[32];
    fill_pattern(d, sizeof d, 11);
    if (host_open_in(&h, "stm32f303xc", "", NULL) != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    snprintf(dir, sizeof dir, "%s", h.dir);
    CHECK_EQ_INT(bl_write(&h, 0x08030000, d, 32), 0);
    /* saved by itself after 200 ms of quiet, without a close */
    size_t len = 0;
    CHECK_EQ_INT(blob_size(&h, "stm32f303xc.flash", &len), 1);
    host_wait(&h, 300 * MS);
    CHECK_EQ_INT(blob_size(&h, "stm32f303xc.flash", &len), 0);
    CHECK_EQ_INT(len, 256 * 1024);
    CHECK_EQ_INT(blob_size(&h, "stm32f303xc.optbytes", &len), 0);
    CHECK_EQ_INT(len, 16);
    host_close(&h);
    /* a new world on the same folder: the same chip */
    if (host_open_in(&h, "CWLITEARM", dir, NULL) != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(bl_read(&h, 0x08030000, r, 32), 0);
    CHECK_MEM(r, d, 32);
    host_close(&h);

    /* read-protected: persistent chip state, kept after the fault is gone */
    const char *const rp[] = {"read-protected", NULL};
    if (host_open_in(&h, "stm32f303xc", dir, rp) != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 1);
    CHECK_EQ_INT(bl_read(&h, 0x08030000, r, 32), 1);
    host_close(&h);
    if (host_open_in(&h, "stm32f303xc", dir, NULL) != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 1);
    CHECK_EQ_INT(cwsim_stm32_peek(h.chip, 0x08030000, r, 32), 32);
    CHECK_MEM(r, d, 32); /* protection did not touch the flash */
    CHECK_EQ_INT(bl_cmd(&h, 0x92), ACK);
    CHECK_EQ_INT(host_byte(&h, 60 * SEC), ACK);
    host_wait(&h, 5 * MS);
    host_close(&h); /* saved at close (and at once, for protection changes) */
    if (host_open_in(&h, "stm32f303xc", dir, NULL) != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 0);
    CHECK_EQ_INT(bl_read(&h, 0x08030000, r, 32), 0);
    CHECK(all_ff(r, 32));
    host_close(&h);

    /* write-protected=SECTORS, and the default "all" */
    const char *const wp[] = {"write-protected=0-1,5,63,900", NULL};
    if (host_open_in(&h, "stm32f303xc", dir, wp) != 0) {
        CHECK(0);
        return;
    }
    host_close(&h);
    if (host_open_in(&h, "stm32f303xc", dir, NULL) != 0) {
        CHECK(0);
        return;
    }
    for (unsigned s = 0; s < 64; s++)
        CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, s), s <= 1 || s == 5 || s >= 31);
    host_close(&h);
    const char *const wpall[] = {"write-protected", NULL};
    if (host_open_in(&h, "stm32f100xb", dir, wpall) != 0) {
        CHECK(0);
        return;
    }
    for (unsigned s = 0; s < 32; s++)
        CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, s), 1);
    host_close(&h);

    /* a blob of the wrong size is refused with a message */
    if (host_open_in(&h, "stm32f100xb", dir, NULL) == 0) {
        char err[300] = "";
        CHECK_EQ_INT(cwsim_state_save(h.sim, "stm32f100xb.flash", d, 32, err, sizeof err), 0);
        cwsim_stm32 *c = NULL;
        CHECK_EQ_INT(cwsim_stm32_new(h.sim, "stm32f100xb", &c, err, sizeof err), -1);
        CHECK(strstr(err, "stm32f100xb.flash has 32 bytes") != NULL);
        CHECK(c == NULL);
        host_close(&h);
    }
    host_remove_dir(dir);
}

int main(void)
{
    readout_protection();
    write_protection();
    option_bytes();
    persistence();
    return check_report("stm32_protect");
}
