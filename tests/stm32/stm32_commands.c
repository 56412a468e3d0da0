/* SPDX-License-Identifier: MIT */
/* Bootloader commands of target-protocols.md §A.4 and their error paths (§A.8): Get, Get Version,
 * Get ID, Read Memory, Write Memory; bad command complements, unknown commands, bad address
 * checksums, addresses out of range, length complements, data checksums, alignment, the
 * bootloader's own RAM, the receive register's overrun. Erase and protection have their own
 * programs. */
#include "check.h"
#include "stm32_host.h"

static void get_family(void)
{
    host h;
    if (host_open(&h, "stm32f100xb") != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    /* the exact bytes stm32flash saw from a real-looking F100 (test-harnesses.md §2.3) */
    const uint8_t get[] = {0x79, 0x0B, 0x22, 0x00, 0x01, 0x02, 0x11, 0x21,
                           0x31, 0x43, 0x63, 0x73, 0x82, 0x92, 0x79};
    const uint8_t ver[] = {0x79, 0x22, 0x00, 0x00, 0x79};
    const uint8_t id[] = {0x79, 0x01, 0x04, 0x20, 0x79};
    uint8_t r[32];
    host_send(&h, (const uint8_t[]){0x01, 0xFE}, 2);
    CHECK_EQ_INT(host_recv(&h, r, sizeof ver, SEC), sizeof ver);
    CHECK_MEM(r, ver, sizeof ver);
    host_send(&h, (const uint8_t[]){0x00, 0xFF}, 2);
    CHECK_EQ_INT(host_recv(&h, r, sizeof get, SEC), sizeof get);
    CHECK_MEM(r, get, sizeof get);
    host_send(&h, (const uint8_t[]){0x02, 0xFD}, 2);
    CHECK_EQ_INT(host_recv(&h, r, sizeof id, SEC), sizeof id);
    CHECK_MEM(r, id, sizeof id);
    CHECK_EQ_INT(host_recv(&h, r, 1, SEC), 0); /* nothing more */

    /* wrong complement: NACK, and the bootloader waits for a new command (§A.9) */
    host_send(&h, (const uint8_t[]){0x02, 0xFC}, 2);
    CHECK_EQ_INT(host_reply(&h), NACK);
    host_send(&h, (const uint8_t[]){0x00, 0x00}, 2);
    CHECK_EQ_INT(host_reply(&h), NACK);
    CHECK_EQ_INT(bl_cmd(&h, 0x02), ACK);
    host_recv(&h, r, 4, SEC);
    /* unknown and unsupported commands: NACK. An F1 offers 0x43, not 0x44; none offers 0xA1 */
    static const uint8_t unknown[] = {0x03, 0x10, 0x12, 0x32, 0x44, 0xA1, 0x7F, 0xFF, 0x45};
    for (size_t i = 0; i < sizeof unknown; i++)
        CHECK_EQ_INT(bl_cmd(&h, unknown[i]), NACK);
    CHECK_EQ_INT(bl_cmd(&h, 0x02), ACK); /* still in step */
    CHECK_EQ_INT(host_recv(&h, r, 4, SEC), 4);
    host_close(&h);

    /* an F4 offers 0x44, not 0x43, and bootloader version 3.1 (UNCONFIRMED) */
    if (host_open(&h, "stm32f415xg") != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(bl_cmd(&h, 0x00), ACK);
    CHECK_EQ_INT(host_recv(&h, r, 14, SEC), 14);
    CHECK_EQ_INT(r[1], 0x31);
    CHECK_EQ_INT(r[8], 0x44);
    CHECK_EQ_INT(bl_cmd(&h, 0x43), NACK);
    CHECK_EQ_INT(bl_cmd(&h, 0x02), ACK);
    CHECK_EQ_INT(host_recv(&h, r, 4, SEC), 4);
    CHECK_EQ_INT(r[1] << 8 | r[2], 0x413);
    host_close(&h);
}

static void read_memory(void)
{
    host h;
    if (host_open(&h, "stm32f100xb") != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    uint8_t r[256];
    /* 256 bytes from flash: erased */
    CHECK_EQ_INT(bl_read(&h, 0x08000000, r, 256), 0);
    CHECK(all_ff(r, 256));
    /* up to the last flash byte; RAM; option bytes (§A.6 0x1FFFF800, factory values) */
    CHECK_EQ_INT(bl_read(&h, 0x0801FF00, r, 256), 0);
    CHECK_EQ_INT(bl_read(&h, 0x20000200, r, 16), 0);
    CHECK_EQ_INT(bl_read(&h, 0x20001FF0, r, 16), 0);
    CHECK_EQ_INT(bl_read(&h, 0x1FFFF800, r, 16), 0);
    const uint8_t ob[16] = {0xA5, 0x5A, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00,
                            0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00};
    CHECK_MEM(r, ob, 16);
    /* system memory */
    CHECK_EQ_INT(bl_read(&h, 0x1FFFF000, r, 256), 0);

    /* bad address checksum: NACK after the address */
    CHECK_EQ_INT(bl_cmd(&h, 0x11), ACK);
    host_send(&h, (const uint8_t[]){0x08, 0x00, 0x00, 0x00, 0x09}, 5);
    CHECK_EQ_INT(host_reply(&h), NACK);
    /* addresses outside every region, and the bootloader's own RAM (v2.2+, UNCONFIRMED) */
    static const uint32_t bad[] = {0x00000000, 0x07FFFFFC, 0x08020000, 0x20000000, 0x200001FC,
                                   0x20002000, 0x40013800, 0x1FFFF810, 0xE000ED00, 0xFFFFFFFC};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(bl_read(&h, bad[i], r, 4), 2);
    /* a range that runs past its region: NACK after the length (UNCONFIRMED) */
    CHECK_EQ_INT(bl_read(&h, 0x0801FFF0, r, 32), 3);
    CHECK_EQ_INT(bl_read(&h, 0x20001FFC, r, 8), 3);
    CHECK_EQ_INT(bl_read(&h, 0x1FFFF80C, r, 8), 3);
    /* wrong length complement: NACK */
    CHECK_EQ_INT(bl_cmd(&h, 0x11), ACK);
    CHECK_EQ_INT(bl_addr(&h, 0x08000000), ACK);
    host_send(&h, (const uint8_t[]){0x0F, 0xF1}, 2);
    CHECK_EQ_INT(host_reply(&h), NACK);
    CHECK_EQ_INT(host_recv(&h, r, 1, SEC), 0);
    /* and still in step */
    CHECK_EQ_INT(bl_read(&h, 0x08000000, r, 1), 0);
    cwsim_stm32_counters cnt;
    cwsim_stm32_counters_get(h.chip, &cnt);
    CHECK_EQ_INT(cnt.nacks, 1 + 10 + 3 + 1);
    host_close(&h);
}

static void write_memory(void)
{
    host h;
    if (host_open(&h, "stm32f100xb") != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    uint8_t d[256], r[256];
    fill_pattern(d, sizeof d, 1);
    /* a full block: programmed in 128 half-words x 52.5 us (§A.7b) before the ACK */
    CHECK_EQ_INT(bl_cmd(&h, 0x31), ACK);
    CHECK_EQ_INT(bl_addr(&h, 0x08000100), ACK);
    uint8_t blk[258];
    blk[0] = 255;
    uint8_t x = 255;
    for (int i = 0; i < 256; i++) {
        blk[1 + i] = d[i];
        x ^= d[i];
    }
    blk[257] = x;
    host_send(&h, blk, sizeof blk);
    uint64_t sent = h.now;
    CHECK_EQ_INT(host_byte(&h, SEC), ACK);
    uint64_t took = h.rx_at[h.rx_len - 1] - sent;
    CHECK(took >= 128 * 52500 && took < 128 * 52500 + 200000);
    CHECK_EQ_INT(bl_read(&h, 0x08000100, r, 256), 0);
    CHECK_MEM(r, d, 256);
    uint8_t p[256];
    CHECK_EQ_INT(cwsim_stm32_peek(h.chip, 0x08000100, p, 256), 256);
    CHECK_MEM(p, d, 256);

    /* writing without erasing only clears bits (§A.9) */
    const uint8_t w1[4] = {0xF0, 0x0F, 0xFF, 0x00}, w2[4] = {0x0F, 0x0F, 0x5A, 0xFF};
    const uint8_t anded[4] = {0x00, 0x0F, 0x5A, 0x00};
    CHECK_EQ_INT(bl_write(&h, 0x08000800, w1, 4), 0);
    CHECK_EQ_INT(bl_write(&h, 0x08000800, w2, 4), 0);
    CHECK_EQ_INT(bl_read(&h, 0x08000800, r, 4), 0);
    CHECK_MEM(r, anded, 4);

    /* RAM is plain memory */
    CHECK_EQ_INT(bl_write(&h, 0x20000400, w1, 4), 0);
    CHECK_EQ_INT(bl_write(&h, 0x20000400, w2, 4), 0);
    CHECK_EQ_INT(bl_read(&h, 0x20000400, r, 4), 0);
    CHECK_MEM(r, w2, 4);

    /* bad data checksum: NACK at the end of the block, nothing written (§A.8) */
    CHECK_EQ_INT(bl_cmd(&h, 0x31), ACK);
    CHECK_EQ_INT(bl_addr(&h, 0x08000900), ACK);
    host_send(&h, (const uint8_t[]){0x03, 0x11, 0x22, 0x33, 0x44, 0x00}, 6);
    CHECK_EQ_INT(host_byte(&h, SEC), NACK);
    CHECK_EQ_INT(bl_read(&h, 0x08000900, r, 4), 0);
    CHECK(all_ff(r, 4));
    /* a misaligned start: NACK after the address (UNCONFIRMED: §A.8 allows NACK or silence) */
    CHECK_EQ_INT(bl_write(&h, 0x08000902, w1, 4), 2);
    CHECK_EQ_INT(bl_write(&h, 0x20000401, w1, 4), 2);
    /* a length that is not a multiple of 4: NACK after the data (UNCONFIRMED) */
    CHECK_EQ_INT(bl_write(&h, 0x08000900, w1, 3), 3);
    CHECK_EQ_INT(bl_write(&h, 0x08000900, d, 254), 3);
    CHECK_EQ_INT(bl_read(&h, 0x08000900, r, 4), 0);
    CHECK(all_ff(r, 4));
    /* past the end of flash or RAM: NACK after the data */
    CHECK_EQ_INT(bl_write(&h, 0x0801FFF8, d, 16), 3);
    CHECK_EQ_INT(bl_write(&h, 0x20001FF8, d, 16), 3);
    CHECK_EQ_INT(bl_write(&h, 0x0801FFF8, d, 8), 0); /* up to the end: fine */
    /* read-only or absent memory, the bootloader's own RAM: NACK after the address */
    static const uint32_t ro[] = {0x1FFFF000, 0x1FFFF7E0, 0x20000000, 0x20000100,
                                  0x40000000, 0x08020000, 0x00000000};
    for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++)
        CHECK_EQ_INT(bl_write(&h, ro[i], w1, 4), 2);
    /* the flash-size register did not change */
    CHECK_EQ_INT(bl_read(&h, 0x1FFFF7E0, r, 2), 0);
    CHECK_EQ_INT(r[0] | r[1] << 8, 128);
    host_close(&h);

    /* F4: 32-bit words at 16 us (§A.7b) */
    if (host_open(&h, "stm32f415xg") != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(bl_cmd(&h, 0x31), ACK);
    CHECK_EQ_INT(bl_addr(&h, 0x080E0000), ACK);
    host_send(&h, blk, sizeof blk);
    sent = h.now;
    CHECK_EQ_INT(host_byte(&h, SEC), ACK);
    took = h.rx_at[h.rx_len - 1] - sent;
    CHECK(took >= 64 * 16000 && took < 64 * 16000 + 200000);
    CHECK_EQ_INT(bl_read(&h, 0x080E0000, r, 256), 0);
    CHECK_MEM(r, d, 256);
    /* the F4's flash-size register and OTP block (after system memory) read */
    CHECK_EQ_INT(bl_read(&h, 0x1FFF7A22, r, 2), 0);
    CHECK_EQ_INT(r[0] | r[1] << 8, 1024);
    CHECK_EQ_INT(bl_read(&h, 0x1FFF7800, r, 16), 0);
    CHECK(all_ff(r, 16));
    host_close(&h);
}

/* contract.md §5: the receive register holds one byte; bytes sent while the bootloader is busy
 * sending a reply (or erasing/programming, stm32_erase) are lost, all but the first. */
static void overrun(void)
{
    host h;
    if (host_open(&h, "stm32f100xb") != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(bl_cmd(&h, 0x11), ACK);
    CHECK_EQ_INT(bl_addr(&h, 0x08000000), ACK);
    host_send(&h, (const uint8_t[]){0xFF, 0x00}, 2); /* read 256: ACK + 256 bytes, ~24 ms */
    CHECK_EQ_INT(host_reply(&h), ACK);
    /* while those go out, the host sends Get ID (02 FD) and another 02 FD */
    host_send(&h, (const uint8_t[]){0x02, 0xFD, 0x02, 0xFD}, 4);
    uint8_t r[300];
    CHECK_EQ_INT(host_recv(&h, r, 256, SEC), 256);
    cwsim_stm32_counters cnt;
    cwsim_stm32_counters_get(h.chip, &cnt);
    CHECK_EQ_INT(cnt.rx_overruns, 3);
    /* the 0x02 it kept is a command waiting for its complement */
    CHECK_EQ_INT(host_recv(&h, r, 1, 100 * MS), 0);
    host_send1(&h, 0xFD);
    CHECK_EQ_INT(host_recv(&h, r, 5, SEC), 5);
    CHECK_EQ_INT(r[0], ACK);
    CHECK_EQ_INT(r[2], 0x04);
    host_close(&h);
}

int main(void)
{
    get_family();
    read_memory();
    write_memory();
    overrun();
    return check_report("stm32_commands");
}
