#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""connect_libusb1.py - cw.scope() and default_setup() on a simulated CW-Lite, request by
request, through python-libusb1 (Debian's python3-usb1, the binding NewAE's library uses).

Run under the attach helper; the board is only on the mock USB bus there:
    cwlua-sim-attach cwlite -- /usr/bin/python3 connect_libusb1.py
    cwlua-sim-attach --sim-fault fpga-unprogrammed cwlite -- \
        /usr/bin/python3 connect_libusb1.py --unprogrammed
The last line is "connect_libusb1: N passed, N failed"; the exit status is 0 when nothing
failed. Each check names the section of cw-usb-protocol.md it comes from (see cwsteps.py).
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cwsteps  # noqa: E402
import usb1  # noqa: E402

SPEEDS = {usb1.SPEED_LOW: 1, usb1.SPEED_FULL: 12, usb1.SPEED_HIGH: 480,
          usb1.SPEED_SUPER: 5000}


class Port:
    def __init__(self, handle):
        self.h = handle

    def ctrl_in(self, breq, wvalue, wlength):
        return self.h.controlRead(0xC1, breq, wvalue, 0, wlength, timeout=cwsteps.TIMEOUT_MS)

    def ctrl_out(self, breq, wvalue, data):
        return self.h.controlWrite(0x41, breq, wvalue, 0, data, timeout=cwsteps.TIMEOUT_MS)

    def raw_ctrl_in(self, bmrt, breq, wvalue, windex, n):
        return self.h.controlRead(bmrt, breq, wvalue, windex, n, timeout=cwsteps.TIMEOUT_MS)

    def bulk_out(self, ep, data, timeout_ms):
        return self.h.bulkWrite(ep, data, timeout=timeout_ms)

    def bulk_in(self, ep, n, timeout_ms):
        return self.h.bulkRead(ep, n, timeout=timeout_ms)

    @staticmethod
    def is_stall(e):
        return isinstance(e, usb1.USBErrorPipe)

    @staticmethod
    def is_timeout(e):
        return isinstance(e, usb1.USBErrorTimeout)


def scopes(ctx, pids):
    """§1.3 steps 1-2: VID 0x2B3E, PID in the list, serial-number string readable."""
    found = []
    for dev in ctx.getDeviceIterator(skip_on_error=True):
        if dev.getVendorID() != cwsteps.VID or dev.getProductID() not in pids:
            continue
        try:
            found.append((dev, dev.getSerialNumber()))
        except usb1.USBError:
            dev.close()
    return found


def main():
    unprogrammed = "--unprogrammed" in sys.argv[1:]
    c = cwsteps.Checker("connect_libusb1" + ("_unprogrammed" if unprogrammed else ""))

    # §3.6 A.1 get_cw_type: a throw-away context, serial and product of each candidate
    with usb1.USBContext() as ctx:
        found = scopes(ctx, cwsteps.SCOPE_PIDS)
        c.eq("§3.6 A.1 exactly one ChipWhisperer on the bus", len(found), 1)
        if found:
            dev, _ = found[0]
            handle = dev.open()
            c.eq("§3.6 A.1 product string selects OpenADC", handle.getProduct(),
                 "ChipWhisperer Lite")
            handle.close()
        for dev, _ in found:
            dev.close()

    # §3.6 A.2 NAEUSB.con: list again (OpenADC PIDs), open, serial and product via the handle
    with usb1.USBContext() as ctx:
        found = scopes(ctx, (0xACE2, 0xACE3, 0xACE5, 0xACE6))
        if not c.eq("§3.6 A.2 one OpenADC-class device", len(found), 1):
            return c.report()
        dev, serial = found[0]
        handle = dev.open()
        port = Port(handle)
        cfg = dev[0]
        ident = {
            "idVendor": dev.getVendorID(), "idProduct": dev.getProductID(),
            "bcdDevice": dev.getbcdDevice(), "bcdUSB": dev.getbcdUSB(),
            "bMaxPacketSize0": dev.getMaxPacketSize0(),
            "bNumConfigurations": dev.getNumConfigurations(),
            "iManufacturer": dev.getManufacturerDescriptor(),
            "iProduct": dev.getProductDescriptor(),
            "iSerialNumber": dev.getSerialNumberDescriptor(),
            "speed_mbps": SPEEDS.get(dev.getDeviceSpeed()),
            "bNumInterfaces": cfg.getNumInterfaces(),
            "manufacturer": handle.getManufacturer(), "product": handle.getProduct(),
            "serial": handle.getSerialNumber(),
        }
        c.eq("§3.6 A.2 serial through the handle equals the listed one", ident["serial"], serial)
        c.step("§1 identity", cwsteps.check_identity, c, ident, port)
        cwsteps.run_lite(c, port, expect_configured=not unprogrammed)
        handle.close()
        dev.close()
    return c.report()


if __name__ == "__main__":
    sys.exit(main())
