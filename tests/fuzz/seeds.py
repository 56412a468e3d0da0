#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora under tests/fuzz/corpus/ (docs/testing.md "Fuzzing").

Each harness gets a few valid inputs to start from: the image harnesses real files of the
repository and small hand-made ones; the simulator harnesses sessions a real host runs, written
in the harness's operation language (the comment at the top of each fuzz_*.c). Section numbers
(§) are those of docs/reference/target-protocols.md. Run it from anywhere; it rewrites the seeds it makes and leaves other files (regression inputs) alone:
    /usr/bin/python3 tests/fuzz/seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def copy(harness, rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        put(harness, os.path.basename(rel), f.read())


# ---- Intel HEX (target-protocols.md §D) ------------------------------------------------------

def record(rtype, addr16, data=b"", lower=False):
    body = bytes([len(data), addr16 >> 8, addr16 & 0xFF, rtype]) + data
    body += bytes([(-sum(body)) & 0xFF])
    text = ":" + body.hex().upper()
    return text.lower() if lower else text


def hexfile(records, eol="\n"):
    return (eol.join(records) + eol).encode()


EOF_RECORD = record(0x01, 0)

# ---- ELF32 little-endian (System V ABI: Elf32_Ehdr, Elf32_Phdr) -----------------------------

def elf(segments, entry=0x08000000, ei_class=1, ei_data=1, e_type=2):
    """segments: (p_type, vaddr, paddr, data, memsz); program headers right after the header."""
    phoff = 52
    offset = phoff + 32 * len(segments)
    phdrs, blobs = b"", b""
    for p_type, vaddr, paddr, data, memsz in segments:
        phdrs += struct.pack("<8I", p_type, offset + len(blobs), vaddr, paddr, len(data), memsz,
                             5, 4)
        blobs += data
    ident = b"\x7fELF" + bytes([ei_class, ei_data, 1, 0]) + bytes(8)
    ehdr = ident + struct.pack("<HHIIIIIHHHHHH", e_type, 40, 1, entry, phoff if segments else 0,
                               0, 0x05000200, 52, 32, len(segments), 40, 0, 0)
    return ehdr + phdrs + blobs


PT_NULL, PT_LOAD = 0, 1
TEXT = bytes(range(64))


def images():
    for rel in ("examples/stm32f1-hello/hello.hex", "spec/fixtures/sparse.hex",
                "spec/fixtures/objcopy.hex", "spec/fixtures/overlap.hex"):
        copy("image_hex", rel)
    # 02 extended segment and 03 start segment records, lower case, CRLF line ends
    put("image_hex", "segment.hex", hexfile([
        record(0x02, 0, b"\x10\x00", lower=True),
        record(0x00, 0x0010, bytes(range(16)), lower=True),
        record(0x03, 0, b"\x10\x00\x00\x10", lower=True),
        EOF_RECORD.lower()], eol="\r\n"))
    # a UTF-8 byte order mark, blank lines, a record across a 64 KiB boundary, start linear
    put("image_hex", "boundary.hex", b"\xef\xbb\xbf\n" + hexfile([
        record(0x04, 0, b"\x08\x00"), "",
        record(0x00, 0xFFF8, bytes(range(16))),
        record(0x05, 0, b"\x08\x00\x00\x00"),
        EOF_RECORD]))
    # the last 16 bytes of the address space
    put("image_hex", "top.hex", hexfile([
        record(0x04, 0, b"\xff\xff"), record(0x00, 0xFFF0, bytes(16)), EOF_RECORD]))

    copy("image_elf", "examples/stm32f1-hello/hello.elf")
    # .text in flash, .data stored in flash (paddr) but run from RAM (vaddr), .bss, a PT_NULL
    put("image_elf", "data_at.elf", elf([
        (PT_LOAD, 0x08000000, 0x08000000, TEXT, 64),
        (PT_LOAD, 0x20000000, 0x08000040, b"\xa5" * 16, 16),
        (PT_LOAD, 0x20000010, 0x20000010, b"", 32),
        (PT_NULL, 0, 0, b"", 0)]))
    put("image_elf", "far.elf", elf([
        (PT_LOAD, 0x08000000, 0x08000000, TEXT, 64),
        (PT_LOAD, 0x1FFFF800, 0x1FFFF800, b"\xa5\x5a\xff\x00", 4)]))
    put("image_elf", "overlap.elf", elf([
        (PT_LOAD, 0x08000000, 0x08000000, TEXT, 64),
        (PT_LOAD, 0x08000020, 0x08000020, TEXT, 64)]))
    put("image_elf", "class64.elf", elf([], ei_class=2))
    # regression: 2000 program headers that all load the whole file at one address. The loader
    # once copied every segment before looking for overlaps, so such a file (the was
    # 524 KB with 16 000 headers) exhausted memory; it must be refused from the headers alone.
    n = 2000
    whole = 52 + 32 * n + 1024
    hdrs = b"".join(struct.pack("<8I", PT_LOAD, 0, 0x08000000, 0x08000000, whole, whole, 5, 4)
                    for _ in range(n))
    ident = b"\x7fELF" + bytes([1, 1, 1, 0]) + bytes(8)
    put("image_elf", "regress_overlapping_headers.elf", ident + struct.pack(
        "<HHIIIIIHHHHHH", 2, 40, 1, 0x08000000, 52, 0, 0x05000200, 52, 32, n, 40, 0, 0)
        + hdrs + bytes(1024))

    copy("image_bin", "examples/stm32f1-hello/hello.bin")
    # the first 4 bytes are the base of the second load (fuzz_image.c): 0x08000000, and the end
    # of the address space
    put("image_bin", "base.bin", b"\x08\x00\x00\x00" + TEXT)
    put("image_bin", "top.bin", b"\xff\xff\xff\xf0" + bytes(16))
    put("image_bin", "detect.hex", hexfile([record(0x00, 0, TEXT[:16]), EOF_RECORD]))
    put("image_bin", "detect.elf", elf([(PT_LOAD, 0, 0, TEXT, 64)]))


# ---- AN3155 sessions (fuzz_an3155.c) --------------------------------------------------------

def an3155():
    def cmd(c):
        return bytes([0x01, c])

    def addr(a):
        return bytes([0x02]) + struct.pack(">I", a)

    def block(data):
        return bytes([0x03, len(data) - 1]) + data

    def erase(pages, ext=True):
        """page numbers: 2 bytes each (0x44 parts, read little-endian), else 1 byte (0x43)"""
        return bytes([0x04, len(pages) - 1]) + b"".join(
            struct.pack("<H", p) if ext else bytes([p]) for p in pages)

    def length(n):
        return bytes([0x05, n - 1])

    def raw(data):
        return bytes([0x00, len(data) - 1]) + data

    SYNC, WAIT = b"\x07", lambda t: bytes([0x06, t])
    F030, F100, F415, L051, L433 = 0, 3, 7, 8, 10
    info = SYNC + cmd(0x00) + cmd(0x01) + cmd(0x02)
    rw = (cmd(0x31) + addr(0x08000000) + block(bytes(range(16))) +
          cmd(0x11) + addr(0x08000000) + length(16))
    # stm32flash's flow on an F1: Get, Get Version, Get ID, erase 2 pages, write, read, Go
    put("an3155", "f1_session", bytes([F100, 0x00]) + info + cmd(0x43) + erase([0, 1], ext=False) + rw +
        cmd(0x21) + addr(0x08000000))
    # extended erase (F0, F4), a mass erase (44 FF FF 00), a read of the option bytes
    for part, name in ((F030, "f0"), (F415, "f4")):
        put("an3155", name + "_session", bytes([part, 0x00]) + info + cmd(0x44) + erase([0]) +
            rw + cmd(0x44) + raw(b"\xff\xff\x00") + WAIT(200) + cmd(0x11) + addr(0x1FFFF800) +
            length(16))
    # L0 (erased 0x00) and L4 (double-word writes)
    for part, name in ((L051, "l0"), (L433, "l4")):
        put("an3155", name + "_session", bytes([part, 0x00]) + info + rw)
    # read-protected: reads refused, Readout Unprotect (mass erase, reset), sync again
    put("an3155", "f1_unprotect", bytes([F100, 0x01]) + SYNC + cmd(0x11) + cmd(0x92) +
        WAIT(50) + SYNC + cmd(0x11) + addr(0x08000000) + length(4))
    # Write Protect sectors 0 and 1, Write Unprotect
    put("an3155", "f1_wp", bytes([F100, 0x00]) + SYNC + cmd(0x63) + raw(b"\x01\x00\x01\x00") +
        WAIT(50) + SYNC + cmd(0x73) + WAIT(50) + SYNC + cmd(0x01))
    # SimpleSerial application: program the flash, power-cycle with BOOT0 low, clock on
    put("an3155", "f1_app", bytes([F100, 0x60]) + SYNC + cmd(0x31) + addr(0x08000000) +
        block(b"\x00\x50\x00\x20" + b"\x09\x00\x00\x08" + bytes(8)) + b"\x0c\x01" +
        b"\x0a\x00" + WAIT(10) + raw(b"x\n"))
    # a slower host rate (autobaud), a damaged frame, an nRST pulse
    put("an3155", "f1_noise", bytes([F100, 0x00]) + b"\x0b\x01" + SYNC + b"\x08\x00\x40\x00" +
        cmd(0x02) + b"\x09\x01" + SYNC + cmd(0x02))


# ---- XPROG sessions (fuzz_xprog.c) ----------------------------------------------------------

def xprog():
    def sub(s, payload=b""):
        return bytes([0x02, s, len(payload)]) + payload

    def setbuf(off, data):
        return bytes([0x03, off, len(data)]) + data

    def getbuf(off, n):
        return bytes([0x04, off, n])

    def mem(write, mtype, mode, a, n):
        return bytes([0x0F if write else 0x07, mtype, mode]) + struct.pack("<IH", a, n)

    FLASH, EEPROM, FUSES, SIG = 0x0800000, 0x08C0000, 0x08F0020, 0x01000090
    page = bytes((i * 7 + 1) & 0xFF for i in range(256))
    # NewAE's find(), erase, program a page, verify it, close (§B.3)
    flow = (b"\x06\xfa\x00" + sub(0x01) + mem(False, 1, 0, SIG, 3) + getbuf(0, 3) +
            sub(0x03, b"\x01\x00\x00\x00\x00") +
            b"".join(setbuf(o, page[o:o + 64]) for o in (0, 64, 128, 192)) +
            mem(True, 1, 2, FLASH, 256) + mem(False, 1, 0, FLASH, 256) + getbuf(0, 64) +
            setbuf(0, page[:32]) + mem(True, 3, 3, EEPROM, 32) + mem(False, 3, 0, EEPROM, 32) +
            getbuf(0, 32) + setbuf(0, b"\xff") + mem(True, 4, 0, FUSES + 1, 1) + sub(0x02))
    put("xprog", "d4_flow", b"\x00\x00" + flow)
    put("xprog", "a4_husky_flow", b"\x21\x04" + flow)
    # a locked chip: reads give zeros, chip erase unlocks
    put("xprog", "d4_locked", b"\x00\x01" + b"\x06\xfa\x00" + sub(0x01) +
        mem(False, 1, 0, FLASH, 16) + sub(0x03, b"\x01\x00\x00\x00\x00") +
        mem(False, 1, 0, FLASH, 16) + sub(0x02))


# ---- V2 sessions (fuzz_v2.c) -----------------------------------------------------------------

def v2():
    def command(index, payload):
        return bytes([0x02, index]) + payload

    def setbuf(off, data):
        return bytes([0x03, off, len(data)]) + data

    ENTER = b"\x06"
    sig = b"".join(command(11, bytes([4, 0x30, 0, i, 0])) for i in range(3))
    erase = command(2, b"\x19\x00\xac\x80\x00\x00")
    load0 = command(15, b"\x00\x00\x00\x00")
    page = bytes((i * 3 + 5) & 0xFF for i in range(128))
    program = (setbuf(0, page[:64]) + setbuf(64, page[64:]) +
               command(3, b"\x80\x00\xc1\x06\x40\x4c\x20\xff\xff"))
    read = command(5, b"\x80\x00\x20") + b"\x04\x00\x40" + b"\x04\x40\x40"
    eeprom = (setbuf(0, b"\x11\x22\x33\x44") + command(15, b"\x00\x00\x00\x00") +
              command(4, b"\x04\x00\xc1\x06\xc1\xc2\xa0\xff\xff") +
              command(15, b"\x00\x00\x00\x00") + command(6, b"\x04\x00\xa0"))
    fuses = command(9, b"\x04\x50\x00\x00\x00") + command(10, b"\x04\x58\x08\x00\x00")
    leave = command(1, b"\x01\x01")
    # NewAE's AVR flow (§C.4): enter, signature, erase, program a page, read it back, EEPROM,
    # fuses, leave
    flow = (ENTER + sig + erase + load0 + program + load0 + read + eeprom + fuses + leave)
    put("v2", "m328p_flow", b"\x00\x00" + flow)
    put("v2", "m48a_cw1200_flow", b"\x07\x01" + flow)
    # the shared timeout trap: an XMEGA-style 100 ms default, then the AVR entry (§1)
    put("v2", "timeout_trap", b"\x00\x00" + b"\x07\xfa\x00" + ENTER + sig + leave)
    # completion waits nothing answers, with the longest timeout the harness sets (2.6 s):
    # RDY/BSY with SPI off (CHIP_ERASE before ENTER), value polling on an erased byte
    put("v2", "dead_polls", b"\x00\x00" + b"\x07\x99\x19" +
        command(2, b"\x19\x01\xac\x80\x00\x00") + ENTER + setbuf(0, b"\x12") + command(15, b"\x01\x00\x00\x00") +
        command(3, b"\x01\x00\x04\x05\x40\x4c\x20\xff\xff") + leave)


if __name__ == "__main__":
    images()
    an3155()
    xprog()
    v2()
