-- SPDX-License-Identifier: MIT
-- cwlua.zlib: raw inflate and CRC-32 through the system's zlib, for reading the zip NewAE ships
-- FPGA bitstreams in (cwlua.bitstream). The functions are the C module's (bindings/l_zlib.c):
--
--   zlib.inflate_raw(data, expected_len) -> string | nil, msg, code
--       a raw deflate stream (RFC 1951, as zip stores it), refused with "overflow" once it
--       inflates past expected_len bytes; corrupt or truncated data gives "invalid" and
--       "corrupt deflate data (<reason>)"
--   zlib.crc32(data [, crc]) -> integer    zip's CRC-32, continuing from crc when given
return require "cwlua.core.zlib"
