#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Run a program on a new pseudo-terminal of a given size, as a person's terminal would.

    pty_run.py COLS ROWS PROGRAM [ARGS...]

The pty is the program's stdin, stdout and stderr; its window size is COLS x ROWS (TIOCSWINSZ;
0 0 leaves it unset, as a pty nobody sized reports it). Everything the program writes is
copied to this script's stdout, byte for byte as the terminal received it (the tty turns "\\n"
into "\\r\\n"); the exit status is the program's (128 + N when signal N ended it). Python's
standard pty support only, like tests/lab/pty_lab.py.
"""
import errno
import fcntl
import os
import struct
import subprocess
import sys
import termios

cols, rows = int(sys.argv[1]), int(sys.argv[2])
master, slave = os.openpty()
if cols or rows:
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
proc = subprocess.Popen(sys.argv[3:], stdin=slave, stdout=slave, stderr=slave,
                        start_new_session=True)
os.close(slave)
out = bytearray()
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError as e:  # EIO: every copy of the slave side is closed
        if e.errno != errno.EIO:
            raise
        break
    if not chunk:
        break
    out += chunk
status = proc.wait()
sys.stdout.buffer.write(out)
sys.stdout.flush()
sys.exit(128 - status if status < 0 else status)
