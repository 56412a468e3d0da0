#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""two_boards.py - several simulated boards under one attach helper, told apart by serial
number (python-libusb1).

Run with the same SPECs the helper got (BOARD or BOARD@SERIAL):
    cwlua-sim-attach cwlite@SERIAL1 cw1200@SERIAL2 -- \
        /usr/bin/python3 two_boards.py cwlite@SERIAL1 cw1200@SERIAL2
A SPEC without a serial expects the simulator's default: 32 lower-case hex digits, distinct
per board. The last line is "two_boards: N passed, N failed". Section numbers refer to
cw-usb-protocol.md.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cwsteps  # noqa: E402
import usb1  # noqa: E402

# §1.1 PIDs and product strings; §1.1/§7.1 bundled firmware (major, minor); §3.5 HW type
BOARDS = {
    "cwlite": (0xACE2, "ChipWhisperer Lite", (0, 65), 8),
    "cw1200": (0xACE3, "ChipWhisperer CW1200", (1, 62), 9),
    "husky": (0xACE5, "ChipWhisperer Husky", (1, 5), 10),
    "nano": (0xACE0, "ChipWhisperer Nano", (0, 66), None),
}
ECHO = 4  # §4.0 ECHO_ADDR: scratch register, reset value 0


def main():
    c = cwsteps.Checker("two_boards")
    specs = []
    for arg in sys.argv[1:]:
        board, _, serial = arg.partition("@")
        specs.append((board, serial or None))
    if not c.ok("at least two SPECs given", len(specs) >= 2, "got %r" % sys.argv[1:]):
        return c.report()

    with usb1.USBContext() as ctx:
        devs = []
        for dev in ctx.getDeviceIterator(skip_on_error=True):
            if dev.getVendorID() == cwsteps.VID:
                h = dev.open()
                devs.append((dev, h, h.getSerialNumber(), h.getProduct()))
        c.eq("§1.3 one NewAE device per SPEC", len(devs), len(specs))
        serials = [s for _, _, s, _ in devs]
        c.eq("serial numbers are distinct", len(set(serials)), len(serials))
        addrs = [(d.getBusNumber(), d.getDeviceAddress()) for d, _, _, _ in devs]
        c.eq("bus addresses are distinct", len(set(addrs)), len(addrs))

        unclaimed = list(devs)
        picked = []
        for board, serial in specs:
            pid, product, fw, hwtype = BOARDS[board]
            if serial is not None:
                # §1.3 step 3: with a serial number given, keep only the exact match
                match = [x for x in unclaimed if x[2] == serial]
                if not c.eq("%s: exactly one device with serial %s" % (board, serial),
                            len(match), 1):
                    continue
            else:
                match = [x for x in unclaimed if x[0].getProductID() == pid]
                if not c.ok("%s: a device with PID 0x%04x" % (board, pid), match):
                    continue
                c.ok("§1.1 %s: default serial is 32 lower-case hex digits" % board,
                     len(match[0][2]) == 32 and all(ch in "0123456789abcdef"
                                                    for ch in match[0][2]),
                     "got %r" % match[0][2])
            dev, h, sn, prod = match[0]
            unclaimed.remove(match[0])
            picked.append((board, h))
            c.eq("§1.1 %s (%s): PID" % (board, sn), dev.getProductID(), pid)
            c.eq("§1.1 %s (%s): product string" % (board, sn), prod, product)
            ver = bytes(h.controlRead(0xC1, 0x17, 0, 0, 3, timeout=cwsteps.TIMEOUT_MS))
            c.eq("§1.1 %s (%s): ctrl IN 0x17 gives the bundled firmware %d.%d" %
                 (board, sn, fw[0], fw[1]), tuple(ver[:2]), fw)
            if hwtype is not None:
                b = cwsteps.Board(c, _Port(h))
                v = b.read(cwsteps.VERSION, 6, board)
                c.eq("§3.5 %s (%s): VERSION byte1 >> 3 is HW type %d" % (board, sn, hwtype),
                     v[1] >> 3, hwtype)

        # The boards are separate: a register written on one is not seen on the other.
        fpga = [(board, h) for board, h in picked if BOARDS[board][3] is not None]
        if len(fpga) >= 2:
            (b1, h1), (b2, h2) = fpga[0], fpga[1]
            r1, r2 = cwsteps.Board(c, _Port(h1)), cwsteps.Board(c, _Port(h2))
            r1.write(ECHO, [0x5A], b1)
            c.eq("§4.0 ECHO written on %s reads back 5a there" % b1, r1.read(ECHO, 1, b1),
                 b"\x5a")
            c.eq("§4.0 ECHO on %s still reads its reset value 00" % b2, r2.read(ECHO, 1, b2),
                 b"\x00")
        for _, h, _, _ in devs:
            h.close()
    return c.report()


class _Port:
    def __init__(self, h):
        self.h = h

    def ctrl_in(self, breq, wvalue, wlength):
        return self.h.controlRead(0xC1, breq, wvalue, 0, wlength, timeout=cwsteps.TIMEOUT_MS)

    def ctrl_out(self, breq, wvalue, data):
        return self.h.controlWrite(0x41, breq, wvalue, 0, data, timeout=cwsteps.TIMEOUT_MS)


if __name__ == "__main__":
    sys.exit(main())
