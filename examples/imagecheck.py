#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""imagecheck.py - checks for the example firmware images (used by examples/check.sh).

    imagecheck.py consistency DIR   hello.hex, hello.bin and hello.elf in DIR describe the same
                                    flash image, and that image looks like our firmware
    imagecheck.py qemu DIR          boot each image on QEMU's stm32vldiscovery (an STM32F100RB)
                                    and talk to USART1

Needs only the Python standard library (no objcopy, no pyelftools). Every check prints one
"ok ..." or "FAIL ..." line; the last line is "N passed, N failed"; exit status 1 on a failure.
"""
import os
import select
import socket
import struct
import subprocess
import sys
import tempfile
import time

FLASH_BASE, FLASH_SIZE = 0x08000000, 128 * 1024
RAM_BASE, RAM_SIZE = 0x20000000, 8 * 1024
BANNER = b"cwlua example: hello from STM32F100\n"


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print("ok   " + what)
        else:
            self.failed += 1
            print("FAIL " + what + (": " + detail if detail else ""))
        return ok

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


# ---- Intel HEX ----

def parse_ihex(text):
    """Return ({address: byte}, start_address or None). Raises ValueError on a bad file."""
    mem, start, upper, seen_eof = {}, None, 0, False
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if seen_eof:
            raise ValueError("line %d: data after the end-of-file record" % n)
        if not line.startswith(":") or len(line) < 11 or len(line) % 2 == 0:
            raise ValueError("line %d: not an Intel HEX record" % n)
        rec = bytes.fromhex(line[1:])
        count, addr, rtype = rec[0], (rec[1] << 8) | rec[2], rec[3]
        data = rec[4:-1]
        if len(data) != count:
            raise ValueError("line %d: length byte says %d, record has %d" % (n, count, len(data)))
        if sum(rec) & 0xFF:
            raise ValueError("line %d: bad checksum" % n)
        if rtype == 0x00:
            for i, b in enumerate(data):
                a = upper + addr + i
                if a in mem:
                    raise ValueError("line %d: address 0x%08x written twice" % (n, a))
                mem[a] = b
        elif rtype == 0x01:
            seen_eof = True
        elif rtype == 0x02 and count == 2:
            upper = struct.unpack(">H", data)[0] << 4
        elif rtype == 0x04 and count == 2:
            upper = struct.unpack(">H", data)[0] << 16
        elif rtype in (0x03, 0x05) and count == 4:
            start = struct.unpack(">I", data)[0]
        else:
            raise ValueError("line %d: unexpected record type %02x" % (n, rtype))
    if not seen_eof:
        raise ValueError("no end-of-file record")
    return mem, start


# ---- ELF32 little-endian ----

def parse_elf(blob):
    """Return (entry, [(paddr, vaddr, file_bytes, memsz), ...] for PT_LOAD)."""
    if blob[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    if blob[4] != 1 or blob[5] != 1:
        raise ValueError("not ELF32 little-endian")
    (e_type, e_machine, _, e_entry, e_phoff, _, _, _, e_phentsize,
     e_phnum) = struct.unpack_from("<HHIIIIIHHH", blob, 16)
    if e_type != 2 or e_machine != 40:
        raise ValueError("not an ARM executable (type %d, machine %d)" % (e_type, e_machine))
    segs = []
    for i in range(e_phnum):
        (p_type, p_offset, p_vaddr, p_paddr, p_filesz,
         p_memsz, _, _) = struct.unpack_from("<8I", blob, e_phoff + i * e_phentsize)
        if p_type == 1:  # PT_LOAD
            segs.append((p_paddr, p_vaddr, blob[p_offset:p_offset + p_filesz], p_memsz))
    return e_entry, segs


def compare_with_bin(mem, image, base):
    """Every byte of mem is in image at the same address, and image bytes that mem does not
    cover are 0 (objcopy -O binary fills gaps with zeros). Returns an error text or ''."""
    for a in sorted(mem):
        off = a - base
        if not 0 <= off < len(image):
            return "address 0x%08x lies outside hello.bin" % a
        if image[off] != mem[a]:
            return "0x%08x: 0x%02x here, 0x%02x in hello.bin" % (a, mem[a], image[off])
    for off, b in enumerate(image):
        if b and base + off not in mem:
            return "hello.bin has 0x%02x at 0x%08x that is not in this file" % (b, base + off)
    return ""


def consistency(d):
    c = Checks()
    paths = {k: os.path.join(d, "hello." + k) for k in ("hex", "bin", "elf")}
    try:
        image = open(paths["bin"], "rb").read()
        hexmem, hexstart = parse_ihex(open(paths["hex"], encoding="ascii").read())
        entry, segs = parse_elf(open(paths["elf"], "rb").read())
    except (OSError, ValueError) as e:
        c.check(False, "read and parse hello.hex, hello.bin, hello.elf", str(e))
        return c.finish()
    c.check(True, "hello.hex (record checksums), hello.bin and hello.elf parse")

    c.check(0 < len(image) <= FLASH_SIZE, "hello.bin fits in 128 KiB of flash",
            "%d bytes" % len(image))
    c.check(min(hexmem) == FLASH_BASE, "hello.hex starts at 0x08000000",
            "starts at 0x%08x" % min(hexmem))
    c.check(not compare_with_bin(hexmem, image, FLASH_BASE),
            "hello.hex data equals hello.bin", compare_with_bin(hexmem, image, FLASH_BASE))

    elfmem, err = {}, ""
    for paddr, _, data, _ in segs:
        for i, b in enumerate(data):
            elfmem[paddr + i] = b
    err = compare_with_bin(elfmem, image, FLASH_BASE)
    c.check(segs and not err,
            "hello.elf PT_LOAD segments (at their load addresses) equal hello.bin",
            err or "no PT_LOAD segment")
    bad = [s for s in segs
           if not (FLASH_BASE <= s[0] and s[0] + len(s[2]) <= FLASH_BASE + FLASH_SIZE)
           or not (FLASH_BASE <= s[1] and s[1] + s[3] <= FLASH_BASE + FLASH_SIZE or
                   RAM_BASE <= s[1] and s[1] + s[3] <= RAM_BASE + RAM_SIZE)]
    c.check(not bad, "every segment loads into flash and runs from flash or 8 KiB of RAM",
            ", ".join("paddr 0x%08x vaddr 0x%08x memsz %d" % (s[0], s[1], s[3]) for s in bad))

    sp, reset = struct.unpack_from("<II", image, 0)
    c.check(sp == RAM_BASE + RAM_SIZE, "vector 0: initial SP is the top of RAM (0x20002000)",
            "0x%08x" % sp)
    in_image = lambda v: FLASH_BASE <= (v & ~1) < FLASH_BASE + len(image)  # noqa: E731
    c.check(reset & 1 and in_image(reset), "vector 1: reset handler is Thumb code in the image",
            "0x%08x" % reset)
    vecs = struct.unpack_from("<14I", image, 8)
    c.check(all(v == 0 or (v & 1 and in_image(v)) for v in vecs),
            "vectors 2-15 are 0 or Thumb code in the image",
            " ".join("%08x" % v for v in vecs))
    c.check(entry == reset, "ELF entry point equals the reset vector",
            "entry 0x%08x, reset vector 0x%08x" % (entry, reset))
    c.check(hexstart == reset, "hello.hex start-address record equals the reset vector",
            "start %s" % (hexstart if hexstart is None else "0x%08x" % hexstart))
    c.check(BANNER + b"\0" in image, "the banner %r is in the flash image" % BANNER.decode())
    return c.finish()


# ---- QEMU ----

def qemu_session(args, workdir, c, name):
    """Boot one image with USART1 on a unix socket and run the conversation."""
    sock_path = os.path.join(workdir, "usart1.sock")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    cmd = ["qemu-system-arm", "-M", "stm32vldiscovery", "-display", "none", "-monitor", "none",
           "-nodefaults", "-chardev", "socket,id=u1,path=%s,server=on,wait=on" % sock_path,
           "-serial", "chardev:u1"] + args
    q = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    s = socket.socket(socket.AF_UNIX)
    try:
        deadline = time.monotonic() + 5
        while True:  # QEMU creates the socket, then waits for us before the CPU starts
            try:
                s.connect(sock_path)
                break
            except OSError:
                if q.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("QEMU did not open the socket: %s" %
                                       q.stderr.read().decode(errors="replace").strip())
                time.sleep(0.01)

        def expect(send, want, what):
            if send:
                s.sendall(send)
            got, end = b"", time.monotonic() + 3
            while len(got) < len(want) and time.monotonic() < end:
                r, _, _ = select.select([s], [], [], max(0.0, end - time.monotonic()))
                if not r:
                    break
                chunk = s.recv(256)
                if not chunk:
                    break
                got += chunk
            return c.check(got == want, "%s: %s" % (name, what), "got %r, want %r" % (got, want))

        # send nothing before the banner: bytes that arrive before the USART is enabled are lost
        expect(b"", BANNER, "banner after reset")
        expect(b"ab?\n", b"ab?\n", "echo, no banner for 'ab?'")
        expect(b"?\n", b"?\n" + BANNER, "'?' line answered with the banner")
        expect(b"?\r\n", b"?\r\n" + BANNER, "'?\\r\\n' line answered with the banner")
        # nothing more may follow
        r, _, _ = select.select([s], [], [], 0.1)
        c.check(not r, "%s: no extra output" % name,
                "%r" % (s.recv(256) if r else b""))
    except (OSError, RuntimeError) as e:
        c.check(False, "%s: QEMU session" % name, str(e))
    finally:
        s.close()
        q.terminate()
        try:
            q.wait(5)
        except subprocess.TimeoutExpired:
            q.kill()
            q.wait()


def qemu(d):
    c = Checks()
    d = os.path.abspath(d)
    with tempfile.TemporaryDirectory(prefix="cwlua-ex-") as tmp:
        qemu_session(["-kernel", os.path.join(d, "hello.elf")], tmp, c, "qemu hello.elf")
        qemu_session(["-kernel", os.path.join(d, "hello.bin")], tmp, c, "qemu hello.bin")
        qemu_session(["-device", "loader,file=%s" % os.path.join(d, "hello.hex")], tmp, c,
                     "qemu hello.hex")
    return c.finish()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("consistency", "qemu"):
        sys.exit(__doc__)
    sys.exit({"consistency": consistency, "qemu": qemu}[sys.argv[1]](sys.argv[2]))
