#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Synthetic FPGA bitstreams for cwlua's tests, in every form cwlua accepts (cw-usb-protocol.md §3.1,
§3.2): a Xilinx .bit, NewAE's firmware zip holding it (deflate-compressed, like NewAE's), NewAE's
generated Python module holding that zip as base64, and a minimal 'chipwhisperer' package
folder with that module in hardware/firmware/.

    mkbitstream.py BOARD OUTDIR [--part PART]

BOARD is cwlite, cw1200 or husky. The .bit has the size and sync-word offset of the bitstream
NewAE ships for that board (§3.1, §3.2), which is what the simulator checks before it raises
DONE (docs/simulator.md §1.7); its content is not a real design. Files written to OUTDIR:
BOARD.bit, BOARD_firmware.zip (entry names as NewAE's), BOARD.py, site/chipwhisperer/...
Standard library only.
"""
import base64
import os
import random
import struct
import sys
import zipfile

# size of the shipped .bit, offset of its sync word, zip and entry names, the part (§1.1, §3)
BOARDS = {
    "cwlite": (340722, 0x86, "cwlite.py", "cwlite_firmware.zip", "cwlite_interface.bit",
               "6slx9tqg144"),
    "cw1200": (1484523, 0x87, "cw1200.py", "cw1200_firmware.zip", "cw1200_interface.bit",
               "6slx45csg324"),
    "husky": (2192119, 0x9B, "cwhusky.py", "husky_firmware.zip", "cwhusky_top.bit",
              "7a35tftg256"),
}


def tlv(key, text):
    data = text.encode() + b"\0"
    return key + struct.pack(">H", len(data)) + data


def make_bit(board, part):
    size, sync, _, _, name, default_part = BOARDS[board]
    head = b"\x00\x09\x0f\xf0\x0f\xf0\x0f\xf0\x0f\xf0\x00\x00\x01"
    head += tlv(b"a", name.replace(".bit", ".ncd") + ";UserID=0xFFFFFFFF")
    head += tlv(b"b", part or default_part)
    head += tlv(b"c", "2024/01/01") + tlv(b"d", "12:00:00")
    head += b"e" + struct.pack(">I", size - len(head) - 5)
    assert len(head) + 5 <= sync, "header too long for the sync offset"
    head += b"\xff" * (sync - len(head)) + b"\xaa\x99\x55\x66"
    rng = random.Random(board)
    body = bytearray(size - len(head))
    for i in range(0, len(body) - 4, 4):  # mostly zeros with some words: compresses like a real one
        if rng.random() < 0.2:
            body[i:i + 4] = rng.getrandbits(32).to_bytes(4, "little")
    return head + bytes(body)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in BOARDS:
        sys.exit("usage: mkbitstream.py cwlite|cw1200|husky OUTDIR [--part PART]")
    board, out = sys.argv[1], sys.argv[2]
    part = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--part" else None
    _, _, module, zipname, bitname, _ = BOARDS[board]
    os.makedirs(out, exist_ok=True)
    bit = make_bit(board, part)
    with open(os.path.join(out, board + ".bit"), "wb") as f:
        f.write(bit)
    zpath = os.path.join(out, zipname)
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(board + "-glitchwidth.p", bytes(range(256)) * 4)
        z.writestr(bitname, bit)
        z.writestr("registers.v", "`define GAIN_ADDR 0\n")
    with open(zpath, "rb") as f:
        zdata = f.read()
    # NewAE's generated module (generate_firmware_files.py): a dict of base64 strings
    text = ("# This file was auto-generated. Do not manually edit or save.\n"
            "import binascii\nimport io\n\nfwver = [0, 65]\n"
            "def getsome(item, filelike=True):\n"
            "    data = _contents[item].encode('latin-1')\n"
            "    data = binascii.a2b_base64(data)\n"
            "    if filelike:\n        data = io.BytesIO(data)\n    return data\n\n"
            "_contents = {\n\n"
            "#Contents from firmware.bin\n'SAM3U.bin':'" + base64.b64encode(b"\0" * 64).decode()
            + "',\n\n#Contents from " + zipname + "\n'" + zipname + "':'"
            + base64.b64encode(zdata).decode() + "',\n\n}\n")
    with open(os.path.join(out, module), "w") as f:
        f.write(text)
    pkg = os.path.join(out, "site", "chipwhisperer")
    os.makedirs(os.path.join(pkg, "hardware", "firmware"), exist_ok=True)
    open(os.path.join(pkg, "__init__.py"), "w").close()
    with open(os.path.join(pkg, "hardware", "firmware", module), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
