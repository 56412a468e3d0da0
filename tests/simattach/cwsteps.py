# SPDX-License-Identifier: MIT
"""cwsteps.py - the CW-Lite connect sequence and default set-up, request by request, with
every answer checked against cw-usb-protocol.md (section numbers below are that document's).

Shared by connect_libusb1.py (python3-usb1) and connect_pyusb.py (python3-usb): each script
finds and opens the board with its own library, then hands run_lite() a Port object:

    port.ctrl_in(breq, wvalue, wlength) -> bytes        vendor IN, bmRequestType 0xC1, wIndex 0
    port.ctrl_out(breq, wvalue, data) -> int            vendor OUT, bmRequestType 0x41, wIndex 0
    port.raw_ctrl_in(bmrt, breq, wvalue, windex, n) -> bytes
    port.bulk_out(ep, data, timeout_ms) -> int
    port.bulk_in(ep, n, timeout_ms) -> bytes
    port.is_stall(exc), port.is_timeout(exc) -> bool

Run under `cwlua-sim-attach cwlite -- /usr/bin/python3 SCRIPT`. Nothing here may be weakened
to suit the simulator: a check that fails points at a discrepancy to report.
"""
import sys
import time
import traceback

VID = 0x2B3E  # §1.1
PID_LITE = 0xACE2  # §1.1
MANUFACTURER = "NewAE Technology Inc."  # §1.1: the iManufacturer string the board reports
SCOPE_PIDS = (0xACE0, 0xACE2, 0xACE3, 0xACE5, 0xACE6)  # §1.3 autodetect list
EP_IN, EP_OUT = 0x81, 0x02  # §1.2: Lite vendor bulk endpoints
TIMEOUT_MS = 20000  # §1.3 step 6: Python's default once the device is open

# §4.0 register numbers
GAIN, SETTINGS, ADVCLOCK, SYSTEMCLK, VERSION = 0, 1, 6, 7, 10
SAMPLES, OFFSET, CLOCKGLITCH_SETTINGS, RECONFIG = 16, 26, 51, 52
CW_EXTCLK, CW_TRIGSRC, CW_TRIGMOD, CW_IOROUTE = 38, 39, 40, 55


def hexs(b):
    return " ".join("%02x" % x for x in bytes(b))


class Checker:
    """Counts checks; prints one line per check and the closing summary."""

    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def ok(self, what, cond, detail=""):
        if cond:
            self.passed += 1
            print("ok   %s" % what)
        else:
            self.failed += 1
            print("FAIL %s%s" % (what, (": " + detail) if detail else ""))
        sys.stdout.flush()
        return cond

    def eq(self, what, got, want):
        if isinstance(got, (bytes, bytearray)) and isinstance(want, (bytes, bytearray)):
            return self.ok(what, bytes(got) == bytes(want),
                           "got %s, want %s" % (hexs(got), hexs(want)))
        return self.ok(what, got == want, "got %r, want %r" % (got, want))

    def step(self, what, fn, *args):
        """Runs one step; an exception there is one failed check, and the script goes on."""
        try:
            return fn(*args)
        except Exception as e:  # noqa: BLE001 - any error is a failed step
            self.ok(what, False, "raised %s: %s" % (type(e).__name__, e))
            traceback.print_exc(file=sys.stdout)
            return None

    def report(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))
        return 0 if self.failed == 0 and self.passed > 0 else 1


def header(length, addr):
    """§2.5: [length u32 LE][address u32 LE]."""
    return bytes([length & 0xFF, length >> 8 & 0xFF, 0, 0, addr, 0, 0, 0])


class Board:
    """Register access the way Python does it for short transfers (§2.5, §3.6 notation)."""

    def __init__(self, c, port):
        self.c, self.p = c, port

    def read(self, addr, n, what):
        # "read reg N (k)": ctrl OUT 0x12 with the header, then ctrl IN 0x12 of k bytes (§3.6)
        r = self.p.ctrl_out(0x12, 0, header(n, addr))
        self.c.eq("%s: ctrl OUT 0x12 header for reg %d (%d) accepted (8 bytes)" % (what, addr, n),
                  r, 8)
        data = bytes(self.p.ctrl_in(0x12, 0, n))
        self.c.eq("%s: ctrl IN 0x12 returns %d bytes" % (what, n), len(data), n)
        return data

    def write(self, addr, data, what):
        # "write reg N <- b..." with fewer than 48 bytes: one ctrl OUT 0x13 (§3.6, §2.5)
        data = bytes(data)
        assert len(data) < 48
        r = self.p.ctrl_out(0x13, 0, header(len(data), addr) + data)
        self.c.eq("%s: ctrl OUT 0x13 to reg %d <- %s accepted" % (what, addr, hexs(data)),
                  r, 8 + len(data))


# ---------------------------------------------------------------------------------------------
# §1: identity, as seen through the client's descriptors
# ---------------------------------------------------------------------------------------------

def parse_config(raw):
    """A configuration descriptor set: its header, interfaces (alternate setting 0) with their
    endpoints, and interface association descriptors."""
    cfg = {"wTotalLength": raw[2] | raw[3] << 8, "bNumInterfaces": raw[4],
           "bmAttributes": raw[7], "bMaxPower": raw[8], "interfaces": {}, "iads": []}
    off, cur = 0, None
    while off + 2 <= len(raw) and raw[off] >= 2:
        ln, ty = raw[off], raw[off + 1]
        d = raw[off:off + ln]
        if ty == 4 and d[3] == 0:  # INTERFACE, alternate setting 0
            cur = []
            cfg["interfaces"][d[2]] = (d[5], d[6], d[7], cur)
        elif ty == 4:
            cur = None
        elif ty == 5 and cur is not None:  # ENDPOINT
            cur.append((d[2], d[3] & 3, (d[4] | d[5] << 8) & 0x7FF))
        elif ty == 0x0B:  # INTERFACE ASSOCIATION
            cfg["iads"].append((d[2], d[3]))
        off += ln
    return cfg


def check_identity(c, d, p):
    """d: the device descriptor fields, strings and speed as the client's library reports them
    (see connect_*.py). Checks §1.1 and §1.2 for a CW-Lite; the configuration comes from the
    board's own GET_DESCRIPTOR answer and must agree with what the library parsed."""
    c.eq("§1.1 idVendor is 0x2B3E", d["idVendor"], VID)
    c.eq("§1.1 idProduct is CW-Lite 0xACE2", d["idProduct"], PID_LITE)
    c.eq("§1.1 product string", d["product"], "ChipWhisperer Lite")
    c.eq("§1.1 manufacturer string", d["manufacturer"], MANUFACTURER)
    serial = d["serial"] or ""
    c.ok("§1.1 serial is 32 lower-case hex characters", len(serial) == 32 and
         all(ch in "0123456789abcdef" for ch in serial), "got %r" % serial)
    c.eq("§1.1 string indices iManufacturer/iProduct/iSerialNumber = 1/2/3",
         (d["iManufacturer"], d["iProduct"], d["iSerialNumber"]), (1, 2, 3))
    c.eq("§1.1 bcdDevice 0x0900", d["bcdDevice"], 0x0900)
    c.eq("§1.1 bcdUSB patched to 0x0210", d["bcdUSB"], 0x0210)
    c.eq("§1.1 EP0 max packet size 64", d["bMaxPacketSize0"], 64)
    c.eq("§1.1 one configuration", d["bNumConfigurations"], 1)
    c.eq("§1.1 high speed (480 Mbit/s)", d["speed_mbps"], 480)

    dev = bytes(p.raw_ctrl_in(0x80, 6, 0x0100, 0, 18))
    c.eq("GET_DESCRIPTOR(DEVICE) gives 18 bytes", len(dev), 18)
    c.eq("GET_DESCRIPTOR(DEVICE) agrees with the library: VID, PID, bcdDevice",
         (dev[8] | dev[9] << 8, dev[10] | dev[11] << 8, dev[12] | dev[13] << 8),
         (d["idVendor"], d["idProduct"], d["bcdDevice"]))
    head = bytes(p.raw_ctrl_in(0x80, 6, 0x0200, 0, 9))
    total = head[2] | head[3] << 8
    raw = bytes(p.raw_ctrl_in(0x80, 6, 0x0200, 0, total))
    c.eq("GET_DESCRIPTOR(CONFIGURATION) gives wTotalLength bytes", len(raw), total)
    cfg = parse_config(raw)
    c.eq("configuration agrees with the library: number of interfaces",
         cfg["bNumInterfaces"], d["bNumInterfaces"])
    c.ok("§1.1 bus-powered (bmAttributes bit 6 clear, bit 7 set)",
         (cfg["bmAttributes"] & 0xC0) == 0x80, "got 0x%02x" % cfg["bmAttributes"])
    c.eq("§1.1 Lite declares 500 mA (bMaxPower 250 x 2 mA)", cfg["bMaxPower"], 250)
    ifs = cfg["interfaces"]
    c.eq("§1.2 three interfaces 0, 1, 2", sorted(ifs), [0, 1, 2])
    if 0 in ifs:
        cls, sub, proto, eps = ifs[0]
        c.eq("§1.2 interface 0 is vendor class 0xFF/0xFF/0xFF", (cls, sub, proto),
             (0xFF, 0xFF, 0xFF))
        c.eq("§1.2 interface 0 endpoints: bulk IN 0x81 and bulk OUT 0x02, 512 bytes (§1.1 HS)",
             sorted(eps), sorted([(EP_IN, 2, 512), (EP_OUT, 2, 512)]))
    if 1 in ifs:
        cls, sub, proto, eps = ifs[1]
        c.eq("§1.2 interface 1 is CDC communication (class 2)", cls, 0x02)
        c.eq("§1.2 interface 1 has the CDC notify endpoint 0x83 (interrupt IN)",
             [(ep, t) for ep, t, _ in eps], [(0x83, 3)])
    if 2 in ifs:
        cls, sub, proto, eps = ifs[2]
        c.eq("§1.2 interface 2 is CDC data (class 0x0A)", cls, 0x0A)
        c.eq("§1.2 interface 2 endpoints: CDC data IN 0x85 / OUT 0x06 (bulk)",
             sorted((ep, t) for ep, t, _ in eps), [(0x06, 2), (0x85, 2)])
    c.ok("§1.2 an IAD groups interfaces 1 and 2", (1, 2) in cfg["iads"],
         "IADs %r" % (cfg["iads"],))
    # §1.1: bcdUSB 2.10 makes Windows fetch the BOS descriptor, whose MS OS 2.0 platform
    # capability names the vendor request 0xC0/0x01 that the firmware answers first
    bos = bytes(p.raw_ctrl_in(0x80, 6, 0x0F00, 0, 5))
    c.eq("§1.1 GET_DESCRIPTOR(BOS) answers a BOS header", (len(bos), bos[1:2]), (5, b"\x0f"))
    bos = bytes(p.raw_ctrl_in(0x80, 6, 0x0F00, 0, bos[2] | bos[3] << 8))
    # {D8DD60DF-4589-4CC7-9CD2-659D9E648A9F} in USB wire order (first three fields
    # little-endian), as the Microsoft OS 2.0 Descriptors specification and NAEUSB send it
    msos = bytes.fromhex("df60ddd88945c74c9cd2659d9e648a9f")
    at = bos.find(msos)
    c.ok("§1.1 BOS has an MS OS 2.0 platform capability", at >= 4, "BOS %s" % hexs(bos))
    if at >= 4 and len(bos) >= at + 24:
        c.eq("§1.1 its vendor code is bRequest 0x01", bos[at + 22], 0x01)
        set_len = bos[at + 20] | bos[at + 21] << 8
        ms = bytes(p.raw_ctrl_in(0xC0, 0x01, 0, 7, set_len))  # wIndex 7: the descriptor set
        c.eq("§1.1 ctrl IN 0xC0/0x01 returns the MS OS 2.0 descriptor set", len(ms), set_len)
    c.eq("§1.1 GET_STATUS: bus-powered (self-powered bit clear)",
         bytes(p.raw_ctrl_in(0x80, 0, 0, 0, 2))[0] & 1, 0)
    c.eq("§1.3 step 5: configured by Linux (GET_CONFIGURATION = 1)",
         bytes(p.raw_ctrl_in(0x80, 8, 0, 0, 1)), b"\x01")
    # §1.1: strings through the device: index 0 lists the languages, 1-3 the strings
    langs = bytes(p.raw_ctrl_in(0x80, 6, 0x0300, 0, 255))
    c.ok("string descriptor 0 lists a language", len(langs) >= 4 and langs[1] == 3,
         "got %s" % hexs(langs))
    lang = langs[2] | langs[3] << 8 if len(langs) >= 4 else 0x0409
    for idx, want in ((1, MANUFACTURER), (2, "ChipWhisperer Lite"), (3, serial)):
        sd = bytes(p.raw_ctrl_in(0x80, 6, 0x0300 | idx, lang, 255))
        got = sd[2:sd[0]].decode("utf-16-le") if len(sd) >= 2 and sd[1] == 3 else None
        c.eq("§1.1 string descriptor %d through the device" % idx, got, want)


# ---------------------------------------------------------------------------------------------
# §3.6 B: the vendor and bulk transfers of cw.scope(), in order
# ---------------------------------------------------------------------------------------------

def synthetic_bitstream():
    """What Python sends for cwlite_interface.bit (§3.2, §3.6 B.5): the file from offset 0x7C
    (10 x FF, then the sync word AA 99 55 66 at file offset 0x86), then 32 x FF. The bundled
    file is 340 722 bytes; the design data after the sync word is replaced by a pattern
    (this test has no bitstream; only the framing and the length are the real ones)."""
    payload_len = 340722 - (0x86 + 4)
    payload = bytes((i * 37 + 11) & 0xFF for i in range(251)) * (payload_len // 251 + 1)
    stream = b"\xff" * 10 + b"\xaa\x99\x55\x66" + payload[:payload_len] + b"\xff" * 32
    assert len(stream) == 340630  # §3.6 B.5
    return stream


def program_fpga(c, p):
    """§3.6 B.3-B.8 (= §3.4 step 3) for a board whose FPGA is not configured."""
    # B.3: ctrl OUT 0x16 wValue 0x00A0, data = 10 MHz as u32 LE (FW >= 0.52, §2.4)
    c.eq("§3.6 B.3 ctrl OUT 0x16/0x00A0 with 80 96 98 00 accepted",
         p.ctrl_out(0x16, 0x00A0, bytes([0x80, 0x96, 0x98, 0x00])), 4)
    time.sleep(0.001)
    c.eq("§3.6 B.4 ctrl OUT 0x16/0x00A1 accepted", p.ctrl_out(0x16, 0x00A1, b""), 0)
    time.sleep(0.001)
    stream = synthetic_bitstream()
    sizes = []
    for off in range(0, len(stream), 65536):  # §3.2 step 3: 64 KiB slices, 20 s each
        sizes.append(p.bulk_out(EP_OUT, stream[off:off + 65536], TIMEOUT_MS))
    c.eq("§3.6 B.5 bitstream taken as 5 x 65536 + 12950 bytes on EP 0x02", sizes,
         [65536] * 5 + [12950])
    done = None
    for _ in range(5):  # B.6: up to 5 polls, 1 ms apart
        st = bytes(p.ctrl_in(0x15, 0, 4))
        if st[0] & 1:
            done = st
            break
        time.sleep(0.001)
    c.ok("§3.6 B.6 DONE by the first poll after the whole stream",
         done is not None and st == bytes([1, 0, 0, 0]), "last 0x15 reply %s" % hexs(st))
    c.eq("§3.6 B.7 ctrl OUT 0x16/0x00A2 accepted", p.ctrl_out(0x16, 0x00A2, b""), 0)


def connect(c, p, expect_configured=True):
    """cw.scope() for a CW-Lite, §3.6 B.1 to B.20."""
    b = Board(c, p)
    # B.1: firmware version, 3 bytes: 0.65.0 on the bundled Lite firmware (§1.1)
    ver = c.step("§3.6 B.1 ctrl IN 0x17", p.ctrl_in, 0x17, 0, 3)
    if ver is not None:
        c.eq("§3.6 B.1 firmware version 00 41 00 (0.65.0)", ver, bytes([0x00, 0x41, 0x00]))
    # B.2: FPGA status, 4 bytes [done 0 0 0] (§3.3)
    st = bytes(p.ctrl_in(0x15, 0, 4))
    if expect_configured:
        c.eq("§3.6 B.2 FPGA status 01 00 00 00 (configured; contract.md §5: the board starts so)",
             st, bytes([1, 0, 0, 0]))
    else:
        c.eq("§3.6 B.2 FPGA status 00 00 00 00 after power-up (fpga-unprogrammed)",
             st, bytes([0, 0, 0, 0]))
        if st[0] & 1 == 0:
            c.step("§3.6 B.3-B.7 programming", program_fpga, c, p)
    # B.9: read SETTINGS (1 byte); the value is not used; the reset value is 0 (§4.0)
    c.eq("§3.6 B.9 read reg 1 = 00", b.read(SETTINGS, 1, "B.9"), b"\x00")
    # B.10: VERSION, 6 bytes; byte1 >> 3 = 8 means CW-Lite (§3.5 step 2)
    v = b.read(VERSION, 6, "B.10")
    c.eq("§3.6 B.10 read reg 10 = 01 40 00 00 00 00", v, bytes([1, 0x40, 0, 0, 0, 0]))
    c.eq("§3.6 B.10 HW type (byte1 >> 3) is 8, ChipWhisperer-Lite", v[1] >> 3, 8)
    # B.11: reset pulse: read SETTINGS, write SETTINGS | 1
    s = b.read(SETTINGS, 1, "B.11")
    c.eq("§3.6 B.11 read reg 1 = 00", s, b"\x00")
    b.write(SETTINGS, [s[0] | 0x01], "B.11")
    # B.12: SAMPLES resets to MAX_SAMPLES - 128 = 24 445 (§4.0); Python writes n - 45
    n = b.read(SAMPLES, 4, "B.12")
    c.eq("§3.6 B.12 read reg 16 = 7d 5f 00 00 (24 445)", n, bytes([0x7D, 0x5F, 0, 0]))
    nv = int.from_bytes(n, "little")
    c.ok("§3.6 B.12 SAMPLES >= 45", nv >= 45, "got %d" % nv)
    b.write(SAMPLES, (max(nv, 45) - 45).to_bytes(4, "little"), "B.12")
    # B.13: the reset bit has cleared itself (§3.6 register behaviour, §4.0 SETTINGS)
    s = b.read(SETTINGS, 1, "B.13")
    c.eq("§3.6 B.13 read reg 1 = 00 (reset bit cleared itself)", s, b"\x00")
    b.write(SETTINGS, [s[0] & 0xFE], "B.13")
    # B.14: RECONFIG existence check: only that the read succeeds; 00 on hardware
    c.eq("§3.6 B.14 read reg 52 = 00", b.read(RECONFIG, 1, "B.14"), b"\x00")
    # B.15: reset the partial-reconfiguration engine
    b.write(RECONFIG, [0x20], "B.15")
    b.write(RECONFIG, [0x00], "B.15")
    # B.16: 379-byte PR frame to reg 52 through the bulk path (0x11 + bulk OUT, §2.5)
    hdr = bytes([0x7B, 0x01, 0x00, 0x00, 0x34, 0x00, 0x00, 0x00])
    c.eq("§3.6 B.16 header for a 379-byte bulk write to reg 52", hdr, header(379, RECONFIG))
    c.eq("§3.6 B.16 ctrl OUT 0x11 accepted", p.ctrl_out(0x11, 0, hdr), 8)
    frame = b"\x00" + b"".join(((26 << 8) | i).to_bytes(2, "big") for i in range(189))
    c.eq("§3.6 B.16 bulk OUT of the 379-byte frame on EP 0x02",
         p.bulk_out(EP_OUT, frame, TIMEOUT_MS), 379)
    # B.17, B.18: load, then RECONFIG must read 00 (else Python raises IOError)
    b.write(RECONFIG, [0x1A], "B.17")
    c.eq("§3.6 B.18 read reg 52 = 00 after the load", b.read(RECONFIG, 1, "B.18"), b"\x00")
    # B.19, B.20: USART init 115200 8N1, then enable (§5.1)
    c.eq("§3.6 B.19 ctrl OUT 0x1B/0x0010 with 00 c2 01 00 00 00 08 accepted",
         p.ctrl_out(0x1B, 0x0010, bytes([0x00, 0xC2, 0x01, 0x00, 0x00, 0x00, 0x08])), 7)
    c.eq("§3.6 B.20 ctrl OUT 0x1B/0x0011 accepted", p.ctrl_out(0x1B, 0x0011, b""), 0)


# ---------------------------------------------------------------------------------------------
# §6.1: default_setup() on a CW-Lite (verbose=False), starting from the state §3.6 leaves
# ---------------------------------------------------------------------------------------------

class Advclock:
    """Register 6 the way Python's ClockSettings reads and writes it (§4.8)."""

    def __init__(self, c, b):
        self.c, self.b = c, b

    def read(self, what):
        v = bytearray(self.b.read(ADVCLOCK, 4, what))
        self.c.ok("%s: ADVCLOCK b0 bit7 reads 1 (§4.8: RO, always 1)" % what, v[0] & 0x80,
                  "got %s" % hexs(v))
        return v

    def write(self, v, what):
        self.b.write(ADVCLOCK, v, what)

    def load_pulse(self, what):
        v = self.read(what)
        v[3] |= 0x01
        self.write(v, what)
        v[3] &= 0xFE
        self.write(v, what)

    def get_md(self, index, what):
        """_getClkgenMul/_getClkgenDiv: b1 + 1 / b2 + 1, valid only when DONE (b3 bit1) is
        set; otherwise pulse LOAD and retry, twice at most (§4.8)."""
        for _ in range(3):
            v = self.read(what)
            if v[3] & 0x02:
                return v[index] + 1
            self.load_pulse(what + " (DONE clear: LOAD pulse)")
        return None

    def glitch_dcm_reset(self, what):
        # §4.8 step 4.4: register 51, 8 bytes: byte5 |= 0x02, write, clear, write
        g = bytearray(self.b.read(CLOCKGLITCH_SETTINGS, 8, what))
        g[5] |= 0x02
        self.b.write(CLOCKGLITCH_SETTINGS, g, what)
        g[5] &= 0xFD
        self.b.write(CLOCKGLITCH_SETTINGS, g, what)

    def clkgen_reset(self, what):
        # §4.8 step 4: CLKGEN reset with LOAD pulse and glitch-DCM reset pulse
        v = self.read(what)
        v[3] |= 0x04
        self.write(v, what)
        v = self.read(what)
        v[0] &= 0xEF
        v[3] &= 0xFB
        self.write(v, what)
        self.load_pulse(what)
        self.glitch_dcm_reset(what)

    def reset_dcms(self, what):
        # §4.8 step 5: CLKGEN reset, then ADC DCM reset (b0 bit4 pulse), another glitch pulse
        self.clkgen_reset(what)
        v = self.read(what)
        v[0] |= 0x10
        self.write(v, what)
        v = self.read(what)
        v[0] &= 0xEF
        self.write(v, what)
        self.glitch_dcm_reset(what)


def default_setup(c, p):
    b = Board(c, p)
    clk = Advclock(c, b)

    # 1. gain.db = 25: [read GAIN]; RMW SETTINGS |= 0x02 (high gain); GAIN = 30 (§4.7)
    c.eq("§6.1.1 [getter] read reg 0 (GAIN) = 00 (reset value, §4.0)", b.read(GAIN, 1, "6.1.1"),
         b"\x00")
    s = b.read(SETTINGS, 1, "6.1.1")
    c.eq("§6.1.1 read reg 1 = 00 (after the §3.6 reset)", s, b"\x00")
    b.write(SETTINGS, [s[0] | 0x02], "6.1.1")
    b.write(GAIN, [30], "6.1.1")
    time.sleep(0.1)

    # 2. adc.samples = 5000: [read SAMPLES]; read ADVCLOCK (FIFO mode); write SAMPLES
    c.eq("§6.1.2 [getter] read reg 16 = 50 5f 00 00 (24 400, written in §3.6 B.12)",
         b.read(SAMPLES, 4, "6.1.2"), bytes([0x50, 0x5F, 0, 0]))
    v = clk.read("6.1.2")
    c.eq("§6.1.2 ADVCLOCK FIFO fill mode (b3 bits 5..4) is normal, not segment", v[3] & 0x30, 0)
    c.eq("§6.1.2 ADVCLOCK writable bits at reset: b0 bits 4..0 = 02, b1 = 01, b2 = 00 "
         "(reset 0x00000102, §4.0)", (v[0] & 0x1F, v[1], v[2]), (0x02, 0x01, 0x00))
    b.write(SAMPLES, (5000).to_bytes(4, "little"), "6.1.2")

    # 3. adc.offset = 0
    c.eq("§6.1.3 [getter] read reg 26 (OFFSET) = 00 00 00 00", b.read(OFFSET, 4, "6.1.3"),
         bytes(4))
    b.write(OFFSET, bytes(4), "6.1.3")

    # 4. adc.basic_mode = "rising_edge": SETTINGS = (s & ~0x24) | 0x24
    c.eq("§6.1.4 [getter] read reg 1 = 02", b.read(SETTINGS, 1, "6.1.4"), b"\x02")
    s = b.read(SETTINGS, 1, "6.1.4")
    b.write(SETTINGS, [(s[0] & ~0x24 & 0xFF) | 0x24], "6.1.4")
    c.eq("§6.1.4 SETTINGS now 0x26", (s[0] & ~0x24 & 0xFF) | 0x24, 0x26)

    # 5. clock.clkgen_freq = 7.37e6 (§4.8): getter, then M = 2, D = 26, resets
    v = clk.read("6.1.5 getter")
    c.eq("§6.1.5 CLKGEN input is the system clock (b0 bit3 = 0)", v[0] & 0x08, 0)
    c.eq("§6.1.5 read reg 7 (SYSTEMCLK) = 96 000 000 (§4.0, §4.8)",
         b.read(SYSTEMCLK, 4, "6.1.5"), (96000000).to_bytes(4, "little"))
    mul = clk.get_md(1, "6.1.5 getter mul")
    div = clk.get_md(2, "6.1.5 getter div")
    c.ok("§6.1.5 getter: DONE set, M and D readable (reset M/D 2/1)", (mul, div) == (2, 1),
         "mul %r div %r" % (mul, div))
    clk.read("6.1.5 setter: CLKGEN source")
    v = clk.read("6.1.5 set M")  # M = 2: b1 = 0x01, LOAD pulse via b3 bit0
    v[1] = 0x01
    v[3] |= 0x01
    clk.write(v, "6.1.5 set M")
    v[3] &= 0xFE
    clk.write(v, "6.1.5 set M")
    v = clk.read("6.1.5 set D")  # D = 26: b2 = 0x19
    v[2] = 0x19
    v[3] |= 0x01
    clk.write(v, "6.1.5 set D")
    v[3] &= 0xFE
    clk.write(v, "6.1.5 set D")
    clk.clkgen_reset("6.1.5 CLKGEN reset")
    clk.reset_dcms("6.1.5 reset_dcms")
    v = clk.read("6.1.5 after")
    c.eq("§6.1.5 ADVCLOCK b1/b2 = 01/19 (M = 2, D = 26)", (v[1], v[2]), (0x01, 0x19))
    c.ok("§6.1.5 DONE (b3 bit1) set after the LOAD pulses", v[3] & 0x02, "got %s" % hexs(v))

    # 6. trigger.triggers = "tio4": CW_TRIGSRC = 0x20 (§4.4)
    c.eq("§6.1.6 [getter] read reg 39 = 20 (reset value, §4.0)", b.read(CW_TRIGSRC, 1, "6.1.6"),
         b"\x20")
    b.write(CW_TRIGSRC, [0x20], "6.1.6")

    # 7-9. io.tio1 = serial_rx, io.tio2 = serial_tx, io.tio4 = high_z: RMW of IOROUTE (§4.1)
    r = b.read(CW_IOROUTE, 8, "6.1.7 getter")
    c.eq("§6.1.7 [getter] read reg 55 = 01 02 00 00 00 00 00 00 (reset 0x0201, §4.1)", r,
         bytes([1, 2, 0, 0, 0, 0, 0, 0]))
    r = bytearray(b.read(CW_IOROUTE, 8, "6.1.7"))
    r[0] = 0x02
    b.write(CW_IOROUTE, r, "6.1.7")
    c.eq("§6.1.8 [getter] read reg 55 = 02 02 00 00 00 00 00 00",
         b.read(CW_IOROUTE, 8, "6.1.8 getter"), bytes([2, 2, 0, 0, 0, 0, 0, 0]))
    r = bytearray(b.read(CW_IOROUTE, 8, "6.1.8"))
    r[1] = 0x01
    b.write(CW_IOROUTE, r, "6.1.8")
    c.eq("§6.1.9 [getter] read reg 55 = 02 01 00 00 00 00 00 00",
         b.read(CW_IOROUTE, 8, "6.1.9 getter"), bytes([2, 1, 0, 0, 0, 0, 0, 0]))
    r = bytearray(b.read(CW_IOROUTE, 8, "6.1.9"))
    r[3] = 0x00
    b.write(CW_IOROUTE, r, "6.1.9")

    # 10. io.hs2 = "clkgen": CW_EXTCLK = (b & ~0x60) | 0x40 (§4.3)
    e = b.read(CW_EXTCLK, 1, "6.1.10 getter")
    c.eq("§6.1.10 [getter] read reg 38 = 03 (reset value, §4.0)", e, b"\x03")
    c.ok("§6.1.10 HS2 bits 6..5 are not 01 (Python raises 'unknown HS2 mode')",
         (e[0] >> 5) & 3 != 1, "got %s" % hexs(e))
    e = b.read(CW_EXTCLK, 1, "6.1.10")
    b.write(CW_EXTCLK, [(e[0] & ~0x60 & 0xFF) | 0x40], "6.1.10")
    c.eq("§6.1.10 writes 0x43 from the reset value", (e[0] & ~0x60 & 0xFF) | 0x40, 0x43)

    # 11. clock.adc_src = "clkgen_x4": b0 bits 2..0 = 000, ADC DCM reset pulse, glitch pulse
    clk.read("6.1.11 getter")
    v = clk.read("6.1.11")
    v[0] &= 0xF8
    clk.write(v, "6.1.11")
    v = clk.read("6.1.11 ADC DCM reset")
    v[0] |= 0x10
    clk.write(v, "6.1.11 ADC DCM reset")
    v = clk.read("6.1.11 ADC DCM reset")
    v[0] &= 0xEF
    clk.write(v, "6.1.11 ADC DCM reset")
    clk.glitch_dcm_reset("6.1.11 glitch DCM reset")

    # 12. io.cdc_settings = 0: ctrl IN 0x31 (4 bytes), ctrl OUT 0x31 wValue 0 (FW >= 0.30)
    cdc = c.step("§6.1.12 ctrl IN 0x31", p.ctrl_in, 0x31, 0, 4)
    if cdc is not None:
        c.eq("§6.1.12 ctrl IN 0x31 returns min(4, wLength) = 4 bytes (§2.3)", len(cdc), 4)
    c.eq("§6.1.12 ctrl OUT 0x31 wValue 0 accepted", p.ctrl_out(0x31, 0x0000, b""), 0)

    # 13. try_wait_clkgen_locked: ADVCLOCK b0 bit5 (CLKGEN locked) and bit7
    v = clk.read("6.1.13")
    c.ok("§6.1.13 CLKGEN DCM locked (ADVCLOCK b0 bit5) at 7.38 MHz", v[0] & 0x20,
         "got %s" % hexs(v))

    # The register image §6.1 lists after default_setup()
    c.eq("§6.1 image: GAIN (0) = 1e", b.read(GAIN, 1, "image"), b"\x1e")
    c.eq("§6.1 image: SETTINGS (1) = 26", b.read(SETTINGS, 1, "image"), b"\x26")
    c.eq("§6.1 image: SAMPLES (16) = 5000", b.read(SAMPLES, 4, "image"),
         (5000).to_bytes(4, "little"))
    c.eq("§6.1 image: OFFSET (26) = 0", b.read(OFFSET, 4, "image"), bytes(4))
    c.eq("§6.1 image: ADVCLOCK (6) reads e0 01 19 02", b.read(ADVCLOCK, 4, "image"),
         bytes([0xE0, 0x01, 0x19, 0x02]))
    c.eq("§6.1 image: CW_EXTCLK (38) = 43", b.read(CW_EXTCLK, 1, "image"), b"\x43")
    c.eq("§6.1 image: CW_TRIGSRC (39) = 20", b.read(CW_TRIGSRC, 1, "image"), b"\x20")
    c.eq("§6.1 image: CW_TRIGMOD (40) = 00", b.read(CW_TRIGMOD, 1, "image"), b"\x00")
    c.eq("§6.1 image: IOROUTE (55) = 02 01 00 00 00 00 00 00", b.read(CW_IOROUTE, 8, "image"),
         bytes([2, 1, 0, 0, 0, 0, 0, 0]))


# ---------------------------------------------------------------------------------------------
# §8: what a host sees when something is wrong, through the real kernel-style error paths
# ---------------------------------------------------------------------------------------------

def error_paths(c, p):
    for what, fn in (
            ("§8 unknown bRequest 0x7F is stalled (PIPE)", lambda: p.ctrl_in(0x7F, 0, 4)),
            ("§2.1/§8 an IN request with wLength 0 is stalled", lambda: p.ctrl_in(0x17, 0, 0)),
            ("§8 0x1B IN sub 0x14 with wLength < 4 is stalled",
             lambda: p.ctrl_in(0x1B, 0x0014, 2))):
        try:
            fn()
            c.ok(what, False, "no error")
        except Exception as e:  # noqa: BLE001
            c.ok(what, p.is_stall(e), "raised %s: %s" % (type(e).__name__, e))
    # §8: a bulk IN without a prior 0x10 is NAKed: the host times out after its timeout
    t0 = time.monotonic()
    try:
        p.bulk_in(EP_IN, 64, 150)
        c.ok("§8 bulk IN without 0x10 times out", False, "data came back")
    except Exception as e:  # noqa: BLE001
        dt = time.monotonic() - t0
        c.ok("§8 bulk IN without 0x10 times out", p.is_timeout(e),
             "raised %s: %s" % (type(e).__name__, e))
        c.ok("§8 ... after the host's 150 ms, in real time", 0.14 <= dt < 2.0, "took %.3f s" % dt)
    # §5.3: the USART RX count after connect is 4 bytes, 0 with no target talking
    n = bytes(p.ctrl_in(0x1B, 0x0014, 4))
    c.eq("§5.3 ctrl IN 0x1B/0x0014: RX count 0 (4 bytes)", n, bytes(4))
    # §2.5: a bulk read of >= 48 bytes: 0x10 header, then exactly len bytes on EP 0x81
    c.eq("§2.5 ctrl OUT 0x10 header for a 64-byte read of reg 55 accepted",
         p.ctrl_out(0x10, 0, header(64, CW_IOROUTE)), 8)
    data = bytes(p.bulk_in(EP_IN, 64, TIMEOUT_MS))
    c.eq("§2.5 bulk IN returns exactly 64 bytes", len(data), 64)
    c.eq("§2.5 ... starting with IOROUTE bytes 0..7 (byte counter from 0)", data[:8],
         bytes([2, 1, 0, 0, 0, 0, 0, 0]))


def run_lite(c, port, expect_configured=True):
    c.step("§3.6 connect", connect, c, port, expect_configured)
    c.step("§6.1 default_setup", default_setup, c, port)
    c.step("§8 error paths", error_paths, c, port)
