#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""connect_pyusb.py - cw.scope() and default_setup() on a simulated CW-Lite, request by request,
through pyusb (Debian's python3-usb, libusb-1.0 backend): the same checks as
connect_libusb1.py, from a second client library.

Run under the attach helper:
    cwlua-sim-attach cwlite -- /usr/bin/python3 connect_pyusb.py
The last line is "connect_pyusb: N passed, N failed"; the exit status is 0 when nothing failed.
"""
import errno
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cwsteps  # noqa: E402
import usb.core  # noqa: E402
import usb.util  # noqa: E402

# pyusb's speed constants (usb.util.SPEED_*) -> Mbit/s
SPEEDS = {usb.util.SPEED_LOW: 1, usb.util.SPEED_FULL: 12, usb.util.SPEED_HIGH: 480,
          usb.util.SPEED_SUPER: 5000}


class Port:
    def __init__(self, dev):
        self.d = dev

    def ctrl_in(self, breq, wvalue, wlength):
        return bytes(self.d.ctrl_transfer(0xC1, breq, wvalue, 0, wlength,
                                          timeout=cwsteps.TIMEOUT_MS))

    def ctrl_out(self, breq, wvalue, data):
        return self.d.ctrl_transfer(0x41, breq, wvalue, 0, data, timeout=cwsteps.TIMEOUT_MS)

    def raw_ctrl_in(self, bmrt, breq, wvalue, windex, n):
        return bytes(self.d.ctrl_transfer(bmrt, breq, wvalue, windex, n,
                                          timeout=cwsteps.TIMEOUT_MS))

    def bulk_out(self, ep, data, timeout_ms):
        return self.d.write(ep, data, timeout=timeout_ms)

    def bulk_in(self, ep, n, timeout_ms):
        return bytes(self.d.read(ep, n, timeout=timeout_ms))

    @staticmethod
    def is_stall(e):
        return isinstance(e, usb.core.USBError) and e.errno == errno.EPIPE

    @staticmethod
    def is_timeout(e):
        return isinstance(e, usb.core.USBTimeoutError) or (
            isinstance(e, usb.core.USBError) and e.errno == errno.ETIMEDOUT)


def scopes(pids):
    """§1.3 steps 1-2: VID 0x2B3E, PID in the list, serial-number string readable."""
    found = []
    for dev in usb.core.find(find_all=True, idVendor=cwsteps.VID):
        if dev.idProduct not in pids:
            continue
        try:
            found.append((dev, usb.util.get_string(dev, dev.iSerialNumber)))
        except (usb.core.USBError, ValueError):
            pass
    return found


def main():
    c = cwsteps.Checker("connect_pyusb")

    # §3.6 A.1: candidates, their serial and product strings
    found = scopes(cwsteps.SCOPE_PIDS)
    c.eq("§3.6 A.1 exactly one ChipWhisperer on the bus", len(found), 1)
    if found:
        c.eq("§3.6 A.1 product string selects OpenADC",
             usb.util.get_string(found[0][0], found[0][0].iProduct), "ChipWhisperer Lite")
    for dev, _ in found:
        usb.util.dispose_resources(dev)

    # §3.6 A.2: list again (OpenADC PIDs) and open
    found = scopes((0xACE2, 0xACE3, 0xACE5, 0xACE6))
    if not c.eq("§3.6 A.2 one OpenADC-class device", len(found), 1):
        return c.report()
    dev, serial = found[0]
    # pyusb users call set_configuration() first; usbfs then sends SET_CONFIGURATION(1)
    c.step("SET_CONFIGURATION(1) through usbfs", dev.set_configuration)
    cfg = dev.get_active_configuration()
    c.eq("active configuration is 1", cfg.bConfigurationValue, 1)
    ident = {
        "idVendor": dev.idVendor, "idProduct": dev.idProduct, "bcdDevice": dev.bcdDevice,
        "bcdUSB": dev.bcdUSB, "bMaxPacketSize0": dev.bMaxPacketSize0,
        "bNumConfigurations": dev.bNumConfigurations, "iManufacturer": dev.iManufacturer,
        "iProduct": dev.iProduct, "iSerialNumber": dev.iSerialNumber,
        "speed_mbps": SPEEDS.get(dev.speed), "bNumInterfaces": cfg.bNumInterfaces,
        "manufacturer": usb.util.get_string(dev, dev.iManufacturer),
        "product": usb.util.get_string(dev, dev.iProduct),
        "serial": usb.util.get_string(dev, dev.iSerialNumber),
    }
    c.eq("§3.6 A.2 serial read again equals the listed one", ident["serial"], serial)
    port = Port(dev)
    c.step("§1 identity", cwsteps.check_identity, c, ident, port)
    cwsteps.run_lite(c, port)
    usb.util.dispose_resources(dev)
    return c.report()


if __name__ == "__main__":
    sys.exit(main())
