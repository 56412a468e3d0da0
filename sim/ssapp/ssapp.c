/* SPDX-License-Identifier: MIT */
/* A simulated SimpleSerial AES-128 application (contract.md §5 --sim-app ss1-aes | ss2-aes):
 * cwsim_ssapp.h describes the protocol as modelled and where each fact comes from. Our own
 * AES-128 from FIPS-197 (checked against its Appendix C.1 in tests/lab/test_ssapp.c). */
#include "ssapp_internal.h"

#include <string.h>

/* ---- AES-128 (FIPS-197) ------------------------------------------------------------------- */

/* FIPS-197 §5.1.1 Figure 7: the S-box (multiplicative inverse in GF(2^8), then the affine
 * transformation), generated from that definition. */
static const uint8_t SBOX[256] = {
    0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab, 0x76,
    0xca, 0x82, 0xc9, 0x7d, 0xfa, 0x59, 0x47, 0xf0, 0xad, 0xd4, 0xa2, 0xaf, 0x9c, 0xa4, 0x72, 0xc0,
    0xb7, 0xfd, 0x93, 0x26, 0x36, 0x3f, 0xf7, 0xcc, 0x34, 0xa5, 0xe5, 0xf1, 0x71, 0xd8, 0x31, 0x15,
    0x04, 0xc7, 0x23, 0xc3, 0x18, 0x96, 0x05, 0x9a, 0x07, 0x12, 0x80, 0xe2, 0xeb, 0x27, 0xb2, 0x75,
    0x09, 0x83, 0x2c, 0x1a, 0x1b, 0x6e, 0x5a, 0xa0, 0x52, 0x3b, 0xd6, 0xb3, 0x29, 0xe3, 0x2f, 0x84,
    0x53, 0xd1, 0x00, 0xed, 0x20, 0xfc, 0xb1, 0x5b, 0x6a, 0xcb, 0xbe, 0x39, 0x4a, 0x4c, 0x58, 0xcf,
    0xd0, 0xef, 0xaa, 0xfb, 0x43, 0x4d, 0x33, 0x85, 0x45, 0xf9, 0x02, 0x7f, 0x50, 0x3c, 0x9f, 0xa8,
    0x51, 0xa3, 0x40, 0x8f, 0x92, 0x9d, 0x38, 0xf5, 0xbc, 0xb6, 0xda, 0x21, 0x10, 0xff, 0xf3, 0xd2,
    0xcd, 0x0c, 0x13, 0xec, 0x5f, 0x97, 0x44, 0x17, 0xc4, 0xa7, 0x7e, 0x3d, 0x64, 0x5d, 0x19, 0x73,
    0x60, 0x81, 0x4f, 0xdc, 0x22, 0x2a, 0x90, 0x88, 0x46, 0xee, 0xb8, 0x14, 0xde, 0x5e, 0x0b, 0xdb,
    0xe0, 0x32, 0x3a, 0x0a, 0x49, 0x06, 0x24, 0x5c, 0xc2, 0xd3, 0xac, 0x62, 0x91, 0x95, 0xe4, 0x79,
    0xe7, 0xc8, 0x37, 0x6d, 0x8d, 0xd5, 0x4e, 0xa9, 0x6c, 0x56, 0xf4, 0xea, 0x65, 0x7a, 0xae, 0x08,
    0xba, 0x78, 0x25, 0x2e, 0x1c, 0xa6, 0xb4, 0xc6, 0xe8, 0xdd, 0x74, 0x1f, 0x4b, 0xbd, 0x8b, 0x8a,
    0x70, 0x3e, 0xb5, 0x66, 0x48, 0x03, 0xf6, 0x0e, 0x61, 0x35, 0x57, 0xb9, 0x86, 0xc1, 0x1d, 0x9e,
    0xe1, 0xf8, 0x98, 0x11, 0x69, 0xd9, 0x8e, 0x94, 0x9b, 0x1e, 0x87, 0xe9, 0xce, 0x55, 0x28, 0xdf,
    0x8c, 0xa1, 0x89, 0x0d, 0xbf, 0xe6, 0x42, 0x68, 0x41, 0x99, 0x2d, 0x0f, 0xb0, 0x54, 0xbb, 0x16,
};

static uint8_t xtime(uint8_t b) /* FIPS-197 §4.2.1: multiplication by x modulo 0x11B */
{
    return (uint8_t)(((unsigned)b << 1) ^ ((b & 0x80u) ? 0x1Bu : 0x00u));
}

/* FIPS-197 §5.2 KeyExpansion for Nk = 4, Nr = 10: 44 words, byte w[4i + j] = word i byte j. */
static void key_expand(const uint8_t key[16], uint8_t w[176])
{
    memcpy(w, key, 16);
    uint8_t rcon = 0x01;
    for (unsigned i = 4; i < 44; i++) {
        uint8_t t[4];
        memcpy(t, w + 4 * (i - 1), 4);
        if (i % 4 == 0) { /* SubWord(RotWord(temp)) xor Rcon[i/Nk] */
            uint8_t t0 = t[0];
            t[0] = (uint8_t)(SBOX[t[1]] ^ rcon);
            t[1] = SBOX[t[2]];
            t[2] = SBOX[t[3]];
            t[3] = SBOX[t0];
            rcon = xtime(rcon);
        }
        for (unsigned j = 0; j < 4; j++)
            w[4 * i + j] = (uint8_t)(w[4 * (i - 4) + j] ^ t[j]);
    }
}

/* The state s[r + 4c] is column-major, as the input bytes arrive (FIPS-197 §3.4). */
static void add_round_key(uint8_t s[16], const uint8_t *rk)
{
    for (unsigned i = 0; i < 16; i++)
        s[i] ^= rk[i];
}

static void sub_shift(uint8_t s[16]) /* SubBytes then ShiftRows (§5.1.1, §5.1.2) */
{
    uint8_t t[16];
    for (unsigned c = 0; c < 4; c++)
        for (unsigned r = 0; r < 4; r++)
            t[r + 4 * c] = SBOX[s[r + 4 * ((c + r) % 4)]];
    memcpy(s, t, 16);
}

static void mix_columns(uint8_t s[16]) /* §5.1.3 */
{
    for (unsigned c = 0; c < 4; c++) {
        uint8_t *col = s + 4 * c;
        uint8_t a0 = col[0], a1 = col[1], a2 = col[2], a3 = col[3];
        uint8_t all = (uint8_t)(a0 ^ a1 ^ a2 ^ a3);
        col[0] = (uint8_t)(a0 ^ all ^ xtime((uint8_t)(a0 ^ a1)));
        col[1] = (uint8_t)(a1 ^ all ^ xtime((uint8_t)(a1 ^ a2)));
        col[2] = (uint8_t)(a2 ^ all ^ xtime((uint8_t)(a2 ^ a3)));
        col[3] = (uint8_t)(a3 ^ all ^ xtime((uint8_t)(a3 ^ a0)));
    }
}

/* The same cipher step by step as the power model's schedule runs it (tinyAES's Cipher: SubBytes,
 * ShiftRows, MixColumns, AddRoundKey as separate passes), keeping what each pass stores:
 * v[round][op][byte] (cwsim_ssapp_run). */
void ssapp_aes_run(const uint8_t key[16], const uint8_t in[16], uint8_t ct[16],
                   uint8_t v[11][CWSIM_AES_NOPS][16])
{
    uint8_t w[176], s[16];
    memset(v, 0, sizeof(uint8_t[11][CWSIM_AES_NOPS][16]));
    key_expand(key, w);
    memcpy(s, in, 16);
    add_round_key(s, w);
    memcpy(v[0][CWSIM_AES_ADDROUNDKEY], s, 16);
    for (unsigned round = 1; round <= 10; round++) {
        for (unsigned i = 0; i < 16; i++)
            s[i] = SBOX[s[i]];
        memcpy(v[round][CWSIM_AES_SUBBYTES], s, 16);
        uint8_t t[16];
        for (unsigned c = 0; c < 4; c++)
            for (unsigned r = 0; r < 4; r++)
                t[r + 4 * c] = s[r + 4 * ((c + r) % 4)];
        memcpy(s, t, 16);
        for (unsigned i = 1; i < 16; i++) /* rows 1-3 move; row 0 (bytes 4c) stays */
            if (i % 4 != 0)
                v[round][CWSIM_AES_SHIFTROWS][i] = s[i];
        if (round < 10) {
            mix_columns(s);
            memcpy(v[round][CWSIM_AES_MIXCOLUMNS], s, 16);
        }
        add_round_key(s, w + 16 * round);
        memcpy(v[round][CWSIM_AES_ADDROUNDKEY], s, 16);
    }
    memcpy(ct, s, 16);
}

void cwsim_aes128_encrypt(const uint8_t key[16], const uint8_t in[16], uint8_t out[16])
{
    uint8_t w[176], s[16];
    key_expand(key, w);
    memcpy(s, in, 16);
    add_round_key(s, w);
    for (unsigned round = 1; round < 10; round++) {
        sub_shift(s);
        mix_columns(s);
        add_round_key(s, w + 16 * round);
    }
    sub_shift(s);
    add_round_key(s, w + 160);
    memcpy(out, s, 16);
}

/* ---- SimpleSerial ------------------------------------------------------------------------- */

/* NewAE's DEFAULT_KEY (crypto/aes-independant.h): the FIPS-197 Appendix B key. */
static const uint8_t DEFAULT_KEY[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
                                        0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};

#define SS_VER_1_1 1 /* what 'v' reports in v1.1 (simpleserial.h SS_VER_1_1) */
#define SS_VER_2_1 3 /* what 'v' reports in v2.1 (SS_VER_2_1) */

/* v2 error codes (NewAE's SimpleSerial v2.1 documentation) */
#define SS_ERR_OK         0x00
#define SS_ERR_CMD        0x01
#define SS_ERR_CRC        0x02
#define SS_ERR_LEN        0x04
#define SS_ERR_FRAME_BYTE 0x05

#define V2_AES 0x01 /* simpleserial-aes.c registers its one v2 command as 0x01 */

/* The v1 command table in registration order: simpleserial_init adds v, w, y; the AES
 * application adds k, p, x ('w' reports this order). */
static const struct {
    char c;
    uint8_t len;
} V1_CMDS[] = {{'v', 0}, {'w', 0}, {'y', 0}, {'k', 16}, {'p', 16}, {'x', 0}};
#define V1_NCMDS (sizeof V1_CMDS / sizeof V1_CMDS[0])
static const uint8_t V2_CMDS[] = {'v', 'w', V2_AES};

int cwsim_ssapp_version_of(const char *name)
{
    if (name != NULL && strcmp(name, "ss1-aes") == 0)
        return CWSIM_SSAPP_V1;
    if (name != NULL && strcmp(name, "ss2-aes") == 0)
        return CWSIM_SSAPP_V2;
    return 0;
}

double cwsim_ssapp_baud(int version)
{
    return version == CWSIM_SSAPP_V2 ? 230400.0 : 38400.0; /* contract.md §5 */
}

void cwsim_ssapp_init(cwsim_ssapp *a, int version)
{
    memset(a, 0, sizeof *a);
    a->version = version;
    memcpy(a->key, DEFAULT_KEY, sizeof a->key);
    a->cmd = -1;
}

uint8_t cwsim_ssapp_crc8(const uint8_t *data, size_t len)
{
    uint8_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (unsigned k = 0; k < 8; k++)
            crc = (uint8_t)((crc & 0x80u) ? ((unsigned)crc << 1) ^ 0x4Du : (unsigned)crc << 1);
    }
    return crc;
}

static int hex_value(uint8_t ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* v1 reply: the letter, upper-case hex (as the firmware's hex_lookup), '\n'. */
static size_t v1_put(uint8_t *out, size_t n, char c, const uint8_t *data, size_t len)
{
    static const char HEX[] = "0123456789ABCDEF";
    out[n++] = (uint8_t)c;
    for (size_t i = 0; i < len; i++) {
        out[n++] = (uint8_t)HEX[data[i] >> 4];
        out[n++] = (uint8_t)HEX[data[i] & 0x0Fu];
    }
    out[n++] = '\n';
    return n;
}

static size_t v1_run(cwsim_ssapp *a, int cmd, const uint8_t *data, uint8_t *out)
{
    size_t n = 0;
    uint8_t ret = 0;
    a->commands++;
    switch (V1_CMDS[cmd].c) {
    case 'v':
        ret = SS_VER_1_1;
        break;
    case 'w': { /* [letter, length, flags] per command */
        uint8_t table[3 * V1_NCMDS];
        for (size_t i = 0; i < V1_NCMDS; i++) {
            table[3 * i] = (uint8_t)V1_CMDS[i].c;
            table[3 * i + 1] = V1_CMDS[i].len;
            table[3 * i + 2] = 0;
        }
        n = v1_put(out, n, 'r', table, sizeof table);
        break;
    }
    case 'y': {
        uint8_t count = (uint8_t)V1_NCMDS;
        n = v1_put(out, n, 'r', &count, 1);
        break;
    }
    case 'k':
        memcpy(a->key, data, 16);
        break;
    case 'p': { /* trigger_high, aes_indep_enc, trigger_low: the chip times it */
        uint8_t ct[16];
        ssapp_aes_run(a->key, data, ct, a->pending.v);
        a->aes_pending = 1;
        n = v1_put(out, n, 'r', ct, 16);
        break;
    }
    default: /* 'x': "reset key here if needed" — nothing */
        break;
    }
    return v1_put(out, n, 'z', &ret, 1); /* v1.1 acknowledges every command */
}

static size_t v1_rx(cwsim_ssapp *a, uint8_t byte, uint8_t *out)
{
    if (a->cmd < 0) { /* waiting for a command letter; others are ignored */
        for (size_t i = 0; i < V1_NCMDS; i++) {
            if ((uint8_t)V1_CMDS[i].c == byte) {
                a->cmd = (int)i;
                a->got = 0;
                a->need = 2u * V1_CMDS[i].len;
            }
        }
        return 0;
    }
    int eol = byte == '\n' || byte == '\r';
    if (a->got < a->need) {
        if (eol) { /* an early end of line drops the command */
            a->cmd = -1;
            a->errors++;
            return 0;
        }
        a->buf[a->got++] = byte;
        return 0;
    }
    int cmd = a->cmd;
    a->cmd = -1;
    uint8_t data[16];
    int bad = !eol;
    for (size_t i = 0; !bad && i < a->need / 2; i++) {
        int hi = hex_value(a->buf[2 * i]), lo = hex_value(a->buf[2 * i + 1]);
        bad = hi < 0 || lo < 0;
        data[i] = (uint8_t)((hi << 4) | (lo & 0x0F));
    }
    if (bad) { /* no end of line where one belongs, or not hex: dropped, no ack */
        a->errors++;
        return 0;
    }
    return v1_run(a, cmd, data, out);
}

/* v2 frame [ptr, c, len, data, crc, 0x00], stuffed as NewAE's stuff_data does: each 0x00
 * after the pointer byte is replaced by the distance to the next one. */
static size_t v2_put(uint8_t *out, size_t n, uint8_t c, const uint8_t *data, uint8_t len)
{
    uint8_t *f = out + n;
    size_t total = (size_t)len + 5;
    f[0] = 0;
    f[1] = c;
    f[2] = len;
    memcpy(f + 3, data, len);
    f[3 + len] = cwsim_ssapp_crc8(f + 1, (size_t)len + 2);
    f[4 + len] = 0;
    size_t last = 0;
    for (size_t i = 1; i < total; i++) {
        if (f[i] == 0) {
            f[last] = (uint8_t)(i - last);
            last = i;
        }
    }
    return n + total;
}

static size_t v2_error(cwsim_ssapp *a, uint8_t *out, size_t n, uint8_t code)
{
    a->got = 0;
    a->need = 0;
    if (code != SS_ERR_OK)
        a->errors++;
    return v2_put(out, n, 'e', &code, 1);
}

/* simpleserial-aes.c aes(): optional mask (bit 2, its length first), key (bit 1), plaintext
 * (bit 0, answered at once); the lengths must add up. */
static uint8_t v2_aes(cwsim_ssapp *a, uint8_t scmd, uint8_t len, const uint8_t *d, uint8_t *out,
                      size_t *n)
{
    size_t req = 0;
    if (scmd & 0x04u) {
        if (len < 1)
            return SS_ERR_LEN;
        req += 1u + d[0];
        if (req > len)
            return SS_ERR_LEN;
    }
    if (scmd & 0x02u) {
        req += 16;
        if (req > len)
            return SS_ERR_LEN;
        memcpy(a->key, d + req - 16, 16);
    }
    if (scmd & 0x01u) {
        req += 16;
        if (req > len)
            return SS_ERR_LEN;
        uint8_t ct[16];
        ssapp_aes_run(a->key, d + req - 16, ct, a->pending.v);
        a->aes_pending = 1;
        *n = v2_put(out, *n, 'r', ct, 16);
    }
    return req == len ? SS_ERR_OK : SS_ERR_LEN;
}

static size_t v2_rx(cwsim_ssapp *a, uint8_t byte, uint8_t *out)
{
    uint8_t *b = a->buf;
    b[a->got++] = byte;
    if (a->got <= 4) { /* pointer, cmd, scmd, len: read one by one */
        if (byte == 0)
            return v2_error(a, out, 0, SS_ERR_FRAME_BYTE);
        if (a->got < 4)
            return 0;
        /* undo the stuffing within these four bytes to see the command and the length */
        uint8_t h[4];
        memcpy(h, b, 4);
        size_t next = h[0];
        h[0] = 0;
        while (next < 4) {
            uint8_t step = h[next];
            h[next] = 0;
            next += step;
        }
        if (memchr(V2_CMDS, h[1], sizeof V2_CMDS) == NULL)
            return v2_error(a, out, 0, SS_ERR_CMD);
        if ((size_t)h[3] + 5 < next) /* the pointer chain runs past the frame's end */
            return v2_error(a, out, 0, SS_ERR_LEN);
        a->need = (size_t)h[3] + 6; /* pointer, cmd, scmd, len, data, crc, terminator */
        return 0;
    }
    if (a->got < a->need) { /* data and CRC: no 0x00 allowed */
        if (byte == 0)
            return v2_error(a, out, 0, SS_ERR_FRAME_BYTE);
        return 0;
    }
    size_t total = a->need;
    if (byte != 0)
        return v2_error(a, out, 0, SS_ERR_LEN);
    size_t pos = b[0];
    b[0] = 0;
    while (pos < total - 1) {
        uint8_t step = b[pos];
        b[pos] = 0;
        pos += step;
    }
    uint8_t cmd = b[1], scmd = b[2], len = b[3];
    if (cwsim_ssapp_crc8(b + 1, (size_t)len + 3) != b[len + 4])
        return v2_error(a, out, 0, SS_ERR_CRC);
    a->commands++;
    size_t n = 0;
    uint8_t err = SS_ERR_OK;
    if (cmd == 'v') {
        uint8_t ver = SS_VER_2_1;
        n = v2_put(out, n, 'r', &ver, 1);
    } else if (cmd == 'w') {
        n = v2_put(out, n, 'r', V2_CMDS, (uint8_t)sizeof V2_CMDS);
    } else {
        err = v2_aes(a, scmd, len, b + 4, out, &n);
    }
    return v2_error(a, out, n, err);
}

size_t cwsim_ssapp_rx(cwsim_ssapp *a, uint8_t byte, uint8_t *out)
{
    return a->version == CWSIM_SSAPP_V2 ? v2_rx(a, byte, out) : v1_rx(a, byte, out);
}
