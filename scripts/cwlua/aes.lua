-- SPDX-License-Identifier: MIT
-- cwlua.aes: AES-128 encryption (FIPS-197), for checking on the host what a SimpleSerial AES
-- target answers (`cwlua capture` checks every ciphertext) and for lab scripts that model the
-- cipher's intermediates (a CPA's S-box output). Plain Lua 5.4, byte-oriented, written for
-- clarity: a few thousand blocks a second is plenty when the wire carries 50 to 200 traces a
-- second. Not for protecting anything: no constant time, no decryption.
--
--   local aes = require "cwlua.aes"
--   aes.encrypt(key, plaintext) -> ciphertext     (16-byte strings)
--   aes.expand(key) -> round keys (a list of 176 bytes), aes.encrypt_with(rk, plaintext)
--   aes.SBOX[x + 1] -> S(x)                       (FIPS-197 §5.1.1)
local M = {}

-- The S-box from its definition (FIPS-197 §5.1.1): the multiplicative inverse in GF(2^8)
-- modulo x^8 + x^4 + x^3 + x + 1, then the affine transformation with the constant 0x63.
-- Computed rather than typed in, so no entry can be mistyped; the FIPS-197 vectors in
-- spec/unit/aes_spec.lua check the result.
local function xtime(a) -- multiplication by x (FIPS-197 §4.2.1)
  a = a << 1
  if a & 0x100 ~= 0 then a = a ~ 0x11B end
  return a
end

local function gmul(a, b)
  local p = 0
  while b ~= 0 do
    if b & 1 ~= 0 then p = p ~ a end
    a, b = xtime(a), b >> 1
  end
  return p
end

local SBOX = {}
do
  local inv = { [0] = 0 }
  for a = 1, 255 do
    for b = 1, 255 do
      if gmul(a, b) == 1 then
        inv[a] = b
        break
      end
    end
  end
  local function rotl8(x, n) return ((x << n) | (x >> (8 - n))) & 0xFF end
  for x = 0, 255 do
    local b = inv[x]
    SBOX[x + 1] = b ~ rotl8(b, 1) ~ rotl8(b, 2) ~ rotl8(b, 3) ~ rotl8(b, 4) ~ 0x63
  end
end
M.SBOX = SBOX

local function check_block(what, s)
  if type(s) ~= "string" or #s ~= 16 then
    error(("aes: %s must be a 16-byte string"):format(what), 3)
  end
end

--- aes.expand(key) -> the 11 round keys as one list of 176 bytes (FIPS-197 §5.2)
function M.expand(key)
  check_block("key", key)
  local w = { key:byte(1, 16) }
  local rcon = 1
  for i = 16, 175, 4 do
    local t0, t1, t2, t3 = w[i - 3], w[i - 2], w[i - 1], w[i]
    if i % 16 == 0 then -- RotWord, SubWord, Rcon
      t0, t1, t2, t3 = SBOX[t1 + 1] ~ rcon, SBOX[t2 + 1], SBOX[t3 + 1], SBOX[t0 + 1]
      rcon = xtime(rcon)
    end
    w[i + 1], w[i + 2], w[i + 3], w[i + 4] =
      w[i - 15] ~ t0, w[i - 14] ~ t1, w[i - 13] ~ t2, w[i - 12] ~ t3
  end
  return w
end

-- The state is a list of 16 bytes in input order: byte r + 4c is row r, column c (§3.4).
local function add_round_key(s, rk, round)
  local o = 16 * round
  for i = 1, 16 do s[i] = s[i] ~ rk[o + i] end
end

local function sub_shift(s) -- SubBytes then ShiftRows: row r moves left by r columns
  local t = {}
  for c = 0, 3 do
    for r = 0, 3 do t[r + 4 * c + 1] = SBOX[s[r + 4 * ((c + r) % 4) + 1] + 1] end
  end
  return t
end

local function mix_columns(s) -- §5.1.3
  for c = 0, 3 do
    local i = 4 * c
    local a0, a1, a2, a3 = s[i + 1], s[i + 2], s[i + 3], s[i + 4]
    local all = a0 ~ a1 ~ a2 ~ a3
    s[i + 1] = a0 ~ all ~ xtime(a0 ~ a1)
    s[i + 2] = a1 ~ all ~ xtime(a1 ~ a2)
    s[i + 3] = a2 ~ all ~ xtime(a2 ~ a3)
    s[i + 4] = a3 ~ all ~ xtime(a3 ~ a0)
  end
end

--- aes.encrypt_with(round_keys, plaintext) -> ciphertext (round keys from aes.expand)
function M.encrypt_with(rk, pt)
  check_block("plaintext", pt)
  local s = { pt:byte(1, 16) }
  add_round_key(s, rk, 0)
  for round = 1, 9 do
    s = sub_shift(s)
    mix_columns(s)
    add_round_key(s, rk, round)
  end
  s = sub_shift(s)
  add_round_key(s, rk, 10)
  return string.char(table.unpack(s))
end

--- aes.encrypt(key, plaintext) -> ciphertext: AES-128 of one 16-byte block
function M.encrypt(key, pt)
  return M.encrypt_with(M.expand(key), pt)
end

return M
