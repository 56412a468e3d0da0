#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Hold a ChipWhisperer board the way a notebook does (python-libusb1, as NewAE's library):
open it and claim interface 0, then wait until stdin closes.

    hold.py SERIAL READYFILE < fifo

Writes READYFILE once the interface is claimed, so the test knows the board is busy now.
"""
import sys

import usb1

serial, ready = sys.argv[1], sys.argv[2]
with usb1.USBContext() as ctx:
    for dev in ctx.getDeviceIterator(skip_on_error=True):
        if dev.getVendorID() == 0x2B3E and dev.getSerialNumber() == serial:
            handle = dev.open()
            handle.claimInterface(0)
            with open(ready, "w") as f:
                f.write("claimed\n")
            sys.stdin.read()
            handle.releaseInterface(0)
            handle.close()
            sys.exit(0)
sys.exit("hold.py: no board with serial " + serial)
