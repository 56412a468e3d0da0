/* SPDX-License-Identifier: MIT */
/* stm32_mkimage OUT.bin OUT.hex ADDR SIZE [SEED]: a deterministic pseudo-random test image, as
 * raw binary and as Intel HEX (an extended linear address record, 16-byte data records, EOF;
 * target-protocols.md §D) loaded at ADDR. For the stm32flash tests. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int hex_record(FILE *f, unsigned type, unsigned addr, const uint8_t *d, unsigned n)
{
    unsigned sum = n + (addr >> 8) + (addr & 0xFF) + type;
    fprintf(f, ":%02X%04X%02X", n, addr & 0xFFFF, type);
    for (unsigned i = 0; i < n; i++) {
        fprintf(f, "%02X", d[i]);
        sum += d[i];
    }
    return fprintf(f, "%02X\n", (0x100 - (sum & 0xFF)) & 0xFF) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: stm32_mkimage OUT.bin OUT.hex ADDR SIZE [SEED]\n");
        return 2;
    }
    unsigned long base = strtoul(argv[3], NULL, 0), size = strtoul(argv[4], NULL, 0);
    uint32_t x = argc > 5 ? (uint32_t)strtoul(argv[5], NULL, 0) : 1u;
    uint8_t *img = malloc(size ? size : 1);
    if (img == NULL)
        return 1;
    for (unsigned long i = 0; i < size; i++) {
        x = x * 1664525u + 1013904223u; /* a plain LCG: repeatable, no 0xFF runs */
        img[i] = (uint8_t)(x >> 24);
    }
    FILE *b = fopen(argv[1], "wb"), *h = fopen(argv[2], "w");
    if (b == NULL || h == NULL || fwrite(img, 1, size, b) != size) {
        perror("stm32_mkimage");
        return 1;
    }
    unsigned long seg = ~0ul;
    int bad = 0;
    for (unsigned long off = 0; off < size; off += 16) {
        unsigned long a = base + off;
        if ((a >> 16) != seg) {
            seg = a >> 16;
            uint8_t ext[2] = {(uint8_t)(seg >> 8), (uint8_t)seg};
            bad |= hex_record(h, 4, 0, ext, 2);
        }
        unsigned n = size - off < 16 ? (unsigned)(size - off) : 16u;
        bad |= hex_record(h, 0, (unsigned)(a & 0xFFFF), img + off, n);
    }
    bad |= hex_record(h, 1, 0, NULL, 0);
    bad |= fclose(b) != 0;
    bad |= fclose(h) != 0;
    free(img);
    return bad ? 1 : 0;
}
