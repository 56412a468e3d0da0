-- SPDX-License-Identifier: MIT
-- cwlua.bitstream: raw inflate, zip, base64, NewAE's firmware modules, .bit files, where the
-- bitstream is looked for; and the firmware-version rules of cwlua.connect.
--
-- Fixtures: the deflate streams below were made with Python's zlib (raw deflate, wbits -15):
-- STORED at level 0, FIXED with Z_FIXED, DYNAMIC at level 9, of the texts given beside them;
-- ZIP with Python's zipfile (readme.txt stored, cwlite_interface.bit deflated).
local bitstream = require "cwlua.bitstream"
local connect = require "cwlua.connect"

local function b64(s) return assert(bitstream.base64_decode(s)) end

local CW_TEXT = ("ChipWhisperer "):rep(20) .. (function()
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  return table.concat(t)
end)()
local STORED = table.concat({
  "ARgC5/1DaGlwV2hpc3BlcmVyIENoaXBXaGlzcGVyZXIgQ2hpcFdoaXNwZXJlciBDaGlwV2hpc3BlcmVyIENoaXBX",
  "aGlzcGVyZXIgQ2hpcFdoaXNwZXJlciBDaGlwV2hpc3BlcmVyIENoaXBXaGlzcGVyZXIgQ2hpcFdoaXNwZXJlciBD",
  "aGlwV2hpc3BlcmVyIENoaXBXaGlzcGVyZXIgQ2hpcFdoaXNwZXJlciBDaGlwV2hpc3BlcmVyIENoaXBXaGlzcGVy",
  "ZXIgQ2hpcFdoaXNwZXJlciBDaGlwV2hpc3BlcmVyIENoaXBXaGlzcGVyZXIgQ2hpcFdoaXNwZXJlciBDaGlwV2hp",
  "c3BlcmVyIENoaXBXaGlzcGVyZXIgAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss",
  "LS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1u",
  "b3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+w",
  "sbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy",
  "8/T19vf4+fr7/P3+/w==",
})
local FIXED = table.concat({
  "c87ILAjPyCwuSC1KLVJwHuVBeQyMTMwsrGzsHJxc3Dy8fPwCgkLCIqJi4hKSUtIysnLyCopKyiqqauoamlraOrp6",
  "+gaGRsYmpmbmFpZW1ja2dvYOjk7OLq5u7h6eXt4+vn7+AYFBwSGhYeERkVHRMbFx8QmJSckpqWnpGZlZ2Tm5efkF",
  "hUXFJaVl5RWVVdU1tXX1DY1NzS2tbe0dnV3dPb19/RMmTpo8Zeq06TNmzpo9Z+68+QsWLlq8ZOmy5StWrlq9Zu26",
  "9Rs2btq8Zeu27Tt27tq9Z+++/QcOHjp85Oix4ydOnjp95uy58xcuXrp85eq16zdu3rp95+69+w8ePnr85Omz5y9e",
  "vnr95u279x8+fvr85eu37z9+/vr95++//wA=",
})
local SQUARES = (function()
  local t = {}
  for i = 1, 400 do t[#t + 1] = ("%d "):format(i * i) end
  return table.concat(t)
end)()
local DYNAMIC = table.concat({
  "LZbbYcUwCENXyQjGgIH9F6sOtz+Nb4J5SqL2xTefve/m5++L+V58bZ+d89nVM0JfZTEykc1NPXs+vyF7+0J2EXp2",
  "fHnny3rfk93Ts/S79L71fWQ3D7+6aEcezOTK8GlXzs2JEoRL4j4SeGRSysg6yEEZ3kMWRsb3zHf9xHfjmDLTjfs4",
  "Fe+aryM754bLP0krc5c/D3l2Yngpmrfi+iiDOMolyCpc+UUo03jKOYpqKSOP6kmjYKdiffmSmrM4jd69o6+6Zeqm",
  "brzU3Vfy8lr+6iTN0Y1SzK9ScauUQY1yaVrfV/l1MIunnLuV/VCHLHRSluqmqpw+Oyuade6e49DgJwu1WcZm3DO7",
  "zjnooz1aak1372/STs9v0v5bTOLODmXn45E7IKbmwwDD3mKDu8qSczej0z39dTXCtieWzfnt++fYvLV/tNJq/VTg",
  "s9Z/DbF642ronDefOeQ2m+csOIb8VbNquYe67ikAYj+EOBAx+nC5LLjQn/uDyaVv1433Houjwj72bjh+gs4LMfhP",
  "5iHsczeZ0tV09f4xu6vEZb8TvZUwpJjzVRUAkemLM9wdMHEn1Qc1WD0ROAuI0is/w9lAlbKXjV+wJtgC1AsC3Q3m",
  "Obh0l2tBmbga0XAGw54OnHOR/ZivIL94b6Bfy4J6EKKXGyIoZxij8Z6lwlluw+4Te269D4NzDB+ScFeTQzYu/Ay/",
  "8q/fiiVNWGWAy5qN8omE4ZEFwd4y7D0oVqhBVC7J0AhpCXcb3YiRa/1FS/IYBNtepR3OtpojKKA+6JB+Q1FHm9Jb",
  "PjPQK7FUsTKJqwkNlEXXUmiUTaF10i7utmijv6laUsCRzSh1cZp630nVTlPFcpMUiOZH/XmLq+d79n0faxNrn3s3",
  "18/DJ6XLpoj1Nq66phwYkd4PuSlL5OGsUhzyV5roh1FXXWqsrbec2qUm6kMFPamkP7UcFG44v9Xjop9V9La2z9X0",
  "XLSTzz7Mog9z6dXmNubVl9n1ZY7tzLR3vlIodCqZeycYUPqqsYt6RVzV3g1musFPD1iaxdUcMDYG3sbAHuSQuK1e",
  "S+qRvACrE+B2EgzP4nke2B7K1l8wPw3+RSnuDryQHSSxY7Yrx+p//axWOsTSA5ZJBaCcHvDPzk+4BLP99Wa/Va5l",
  "3723bLYzUBuBJYLe7lozFEBB70920QYzRygkv6iGHkgICxAv9hAXPWZVud5KdPvq9fzEe1AnWoWsa/uh8ddW/H+K",
  "hoLvL5/9FrsAbvree+vlPvRR+r5LQEGJd/u3Bn6a6mcFFmEMHiu9rE30/38Z+Cq0x28d5Gq3oEgn/KfqEhe65L16",
  "77PiL3DSz1j6aoHsjoi730RRLAWdXSX/eyV/SyZ/G+dtvKjdRfFbEBowmTE31s7Z/ZW2NeRvs0m5qU/Mo1oZULt0",
  "wHdDbV/y7Z6E/nzr3aCKen7/hsjLHw==",
})
local ZIP = table.concat({
  "UEsDBBQAAAAAAAAAIQDYfpogEAAAABAAAAAKAAAAcmVhZG1lLnR4dG5vdCBhIGJpdHN0cmVhbQpQSwMEFAAAAAgA",
  "AAAhAJV83IkiAQAAGAIAABQAAABjd2xpdGVfaW50ZXJmYWNlLmJpdHPOyCwIz8gsLkgtSi1ScB7lQXkMjEzMLKxs",
  "7BycXNw8vHz8AoJCwiKiYuISklLSMrJy8gqKSsoqqmrqGppa2jq6evoGhkbGJqZm5haWVtY2tnb2Do5Ozi6ubu4e",
  "nl7ePr5+/gGBQcEhoWHhEZFR0TGxcfEJiUnJKalp6RmZWdk5uXn5BYVFxSWlZeUVlVXVNbV19Q2NTc0trW3tHZ1d",
  "3T29ff0TJk6aPGXqtOkzZs6aPWfuvPkLFi5avGTpsuUrVq5avWbtuvUbNm7avGXrtu07du7avWfvvv0HDh46fOTo",
  "seMnTp46febsufMXLl66fOXqtes3bt66fefuvfsPHj56/OTps+cvXr56/ebtu/cfPn76/OXrt+8/fv76/efvv/8A",
  "UEsBAhQDFAAAAAAAAAAhANh+miAQAAAAEAAAAAoAAAAAAAAAAAAAAIABAAAAAHJlYWRtZS50eHRQSwECFAMUAAAA",
  "CAAAACEAlXzciSIBAAAYAgAAFAAAAAAAAAAAAAAAgAE4AAAAY3dsaXRlX2ludGVyZmFjZS5iaXRQSwUGAAAAAAIA",
  "AgB6AAAAjAEAAAAA",
})

-- A .bit as Xilinx writes it (§3.2): the TLV header, 0xFF up to the sync word, a payload.
local function make_bit(part, sync_at, payload)
  local function tlv(key, text)
    return key .. string.pack(">s2", text .. "\0")
  end
  local head = "\0\9\15\240\15\240\15\240\15\240\0\0\1" .. tlv("a", "cwlite_interface.ncd")
    .. tlv("b", part) .. tlv("c", "2024/01/01") .. tlv("d", "12:00:00")
  head = head .. "e" .. string.pack(">I4", 4 + #payload)
  return head .. ("\xFF"):rep(sync_at - #head) .. "\xAA\x99\x55\x66" .. payload
end

local function base64_encode(s)
  local a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return (s:gsub("..?.?", function(c)
    local x, y, z = c:byte(1, 3)
    local v = (x << 16) | ((y or 0) << 8) | (z or 0)
    local out = {}
    for k = 1, 4 do out[k] = a:sub((v >> (24 - 6 * k) & 63) + 1, (v >> (24 - 6 * k) & 63) + 1) end
    if not y then out[3], out[4] = "=", "=" elseif not z then out[4] = "=" end
    return table.concat(out)
  end))
end

-- A zip of stored entries (APPNOTE 4.3.7, 4.3.12, 4.3.16), enough for load()'s paths.
local function make_zip(entries)
  local body, central = {}, {}
  local offset = 0
  for _, e in ipairs(entries) do
    local name, data = e[1], e[2]
    local crc = bitstream.crc32(data)
    local fields = string.pack("<I2I2I2I2I2I4I4I4I2I2", 20, 0, 0, 0, 0, crc, #data, #data,
      #name, 0)
    body[#body + 1] = "PK\3\4" .. fields .. name .. data
    central[#central + 1] = "PK\1\2" .. string.pack("<I2", 20) .. fields
      .. string.pack("<I2I2I2I4I4", 0, 0, 0, 0, offset) .. name
    offset = offset + 30 + #name + #data
  end
  local cd = table.concat(central)
  return table.concat(body) .. cd .. "PK\5\6" .. string.pack("<I2I2I2I2I4I4I2", 0, 0,
    #entries, #entries, #cd, offset, 0)
end

local tmp = {}
local function tmpfile(content)
  local p = os.tmpname()
  tmp[#tmp + 1] = p
  local f = assert(io.open(p, "wb"))
  f:write(content)
  f:close()
  return p
end

describe("cwlua.bitstream", function()
  after_each(function()
    for _, p in ipairs(tmp) do os.remove(p) end
    tmp = {}
  end)

  describe("inflate()", function()
    it("decodes stored, fixed-Huffman and dynamic-Huffman blocks (RFC 1951)", function()
      assert.are.equal(CW_TEXT, bitstream.inflate(b64(STORED)))
      assert.are.equal(CW_TEXT, bitstream.inflate(b64(FIXED)))
      assert.are.equal(SQUARES, bitstream.inflate(b64(DYNAMIC), 1, #SQUARES))
    end)

    it("starts at a given byte", function()
      assert.are.equal(CW_TEXT, bitstream.inflate("xyz" .. b64(FIXED), 4))
    end)

    it("raises { inflate = msg } on corrupt data", function()
      local function why(data, pos, size)
        local ok, e = pcall(bitstream.inflate, data, pos, size)
        assert.is_false(ok)
        return e.inflate
      end
      assert.are.equal("corrupt deflate data (truncated)", why(b64(DYNAMIC):sub(1, 500)))
      -- the reasons in between are zlib's words (cwlua.zlib)
      assert.are.equal("corrupt deflate data (invalid block type)", why("\7"))
      assert.are.equal("corrupt deflate data (invalid stored block lengths)",
        why("\1\5\0\5\0hello"))
      assert.are.equal("corrupt deflate data (more than 100 bytes, expected 100)",
        why(b64(FIXED), 1, 100))
      assert.are.equal("corrupt deflate data (536 bytes, expected 600)",
        why(b64(FIXED), 1, 600))
    end)
  end)

  describe("crc32()", function()
    it("is zip's CRC-32", function()
      assert.are.equal(0xD286D105, bitstream.crc32(SQUARES))
      assert.are.equal(0x89DC7C95, bitstream.crc32(CW_TEXT))
      assert.are.equal(0, bitstream.crc32(""))
    end)
  end)

  describe("zip_list() and zip_read()", function()
    it("reads stored and deflated entries, checking their CRC", function()
      local z = b64(ZIP)
      local list = assert(bitstream.zip_list(z))
      assert.are.same({ "readme.txt", "cwlite_interface.bit" }, { list[1].name, list[2].name })
      assert.are.same({ 0, 8 }, { list[1].method, list[2].method })
      assert.are.equal("not a bitstream\n", bitstream.zip_read(z, list[1]))
      assert.are.equal(CW_TEXT, bitstream.zip_read(z, list[2]))
    end)

    it("says what is wrong with a bad zip", function()
      assert.are.same({ nil, "not a zip file (no end of central directory)" },
        { bitstream.zip_list("PK\3\4 nothing else") })
      local z = b64(ZIP)
      local list = assert(bitstream.zip_list(z))
      local damaged = z:sub(1, 44) .. "X" .. z:sub(46) -- inside readme.txt's data
      assert.are.same({ nil, "'readme.txt' fails its CRC check (damaged zip)" },
        { bitstream.zip_read(damaged, list[1]) })
    end)
  end)

  describe("base64_decode()", function()
    it("decodes RFC 4648 with and without padding, skipping whitespace", function()
      for text, enc in pairs({ [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v",
                               foob = "Zm9vYg", fooba = "Zm9vYmE=", foobar = "Zm9v\nYmFy" }) do
        assert.are.equal(text, bitstream.base64_decode(enc))
      end
      assert.are.same({ nil, "not base64" }, { bitstream.base64_decode("Zm9v!") })
    end)
  end)

  describe("py_entry()", function()
    it("finds an entry of NewAE's generated firmware module", function()
      local py = "import binascii\nfwver = [0, 65]\n_contents = {\n\n#Contents from x\n"
        .. "'SAM3U.bin':'AAAA',\n\n'cwlite_firmware.zip':'" .. base64_encode("zip bytes")
        .. "',\n\n}\n"
      assert.are.equal("zip bytes", bitstream.py_entry(py, "cwlite_firmware.zip"))
      assert.are.equal("\0\0\0", bitstream.py_entry(py, "SAM3U.bin"))
      assert.are.same({ nil, "has no entry 'husky_firmware.zip'" },
        { bitstream.py_entry(py, "husky_firmware.zip") })
    end)

    it("joins adjacent string literals", function()
      local py = "_contents = {'a.zip': 'Zm9v'\n  'YmFy',}"
      assert.are.equal("foobar", bitstream.py_entry(py, "a.zip"))
    end)
  end)

  describe("parse_bit() and stream()", function()
    it("reads the header and finds the sync word (§3.2)", function()
      local info = assert(bitstream.parse_bit(make_bit("6slx9tqg144", 0x86, "payload")))
      assert.are.same({ "cwlite_interface.ncd", "6slx9tqg144", "2024/01/01", "12:00:00", 0x86 },
        { info.design, info.part, info.date, info.time, info.sync })
    end)

    it("accepts a raw bitstream without a header", function()
      local info = assert(bitstream.parse_bit(("\xFF"):rep(200) .. "\xAA\x99\x55\x66"))
      assert.are.equal(200, info.sync)
      assert.is_nil(info.part)
    end)

    it("refuses data without a sync word, or with it inside the skipped bytes", function()
      assert.are.same({ nil, "not a Xilinx bitstream (no sync word AA 99 55 66)" },
        { bitstream.parse_bit(("\xFF"):rep(300)) })
      assert.are.same({ nil, "its sync word is at offset 16, inside the first 124 bytes, which "
        .. "the board's loader does not send: not a bitstream for this board" },
        { bitstream.parse_bit(("\xFF"):rep(16) .. "\xAA\x99\x55\x66") })
    end)

    it("drops the first 124 bytes and adds 32 x 0xFF, as NewAE does (§3.2)", function()
      local bit = ("A"):rep(124) .. "BODY"
      assert.are.equal("BODY" .. ("\xFF"):rep(32), bitstream.stream(bit))
    end)
  end)

  describe("load()", function()
    local bit = make_bit("6slx9tqg144", 0x86, ("\0\1\2\3"):rep(64))

    it("reads a .bit, a zip holding it and NewAE's module holding the zip", function()
      local path = tmpfile(bit)
      assert.are.same({ bit, path }, { bitstream.load(path, "cwlite") })
      local zip = make_zip({ { "registers.v", "`define X 1\n" }, { "cwlite_interface.bit", bit } })
      path = tmpfile(zip)
      assert.are.same({ bit, "cwlite_interface.bit in " .. path },
        { bitstream.load(path, "cwlite") })
      path = tmpfile("# generated\n_contents = {\n\n'SAM3U_CW1173.bin':'AAAA',\n\n"
        .. "'cwlite_firmware.zip':'" .. base64_encode(zip) .. "',\n\n}\n")
      assert.are.same({ bit, "cwlite_interface.bit in cwlite_firmware.zip in " .. path },
        { bitstream.load(path, "cwlite") })
    end)

    it("reads only regular files, bounded: a device, a FIFO or a folder is refused at once",
      function()
        assert.are.same({ nil, "/dev/zero: not a regular file (a character device)", "io" },
          { bitstream.load("/dev/zero", "cwlite") })
        local dir = os.tmpname()
        os.remove(dir)
        assert(os.execute("mkdir " .. dir))
        assert.are.same({ nil, "cannot read " .. dir .. ": Is a directory", "io" },
          { bitstream.load(dir, "cwlite") })
        assert(os.execute("mkfifo " .. dir .. "/fifo"))
        assert.are.same({ nil, dir .. "/fifo: not a regular file (a FIFO)", "io" },
          { bitstream.load(dir .. "/fifo", "cwlite") })
        -- a file past the bound (sparse: no disk used) is refused before it is read
        assert(os.execute("truncate -s " .. (64 * 1024 * 1024 + 1) .. " " .. dir .. "/big.bit"))
        assert.are.same({ nil, dir .. "/big.bit: file is larger than 64 MiB, the largest "
          .. "bitstream file cwlua reads", "io" }, { bitstream.load(dir .. "/big.bit", "cwlite") })
        os.execute("rm -rf " .. dir)
      end)

    it("takes the only .bit of a zip whatever its name", function()
      local path = tmpfile(make_zip({ { "top.bit", bit } }))
      assert.are.same({ bit, "top.bit in " .. path }, { bitstream.load(path, "cwlite") })
    end)

    it("says where it found something that is not a bitstream", function()
      local path = tmpfile(b64(ZIP)) -- its cwlite_interface.bit is text
      assert.are.same({ nil, "cwlite_interface.bit in " .. path .. ": not a Xilinx bitstream "
        .. "(no sync word AA 99 55 66)", "invalid" }, { bitstream.load(path, "cwlite") })
    end)

    it("refuses a bitstream for another board's FPGA", function()
      local path = tmpfile(bit)
      assert.are.same({ nil, path .. " is for a 6slx9tqg144 FPGA; this board has a Spartan-6 "
        .. "LX45 (6slx45...)", "invalid" }, { bitstream.load(path, "cw1200") })
    end)

    it("says what it expected for anything else", function()
      local path = tmpfile("hello\n")
      assert.are.same({ nil, path .. " is not a bitstream: expected a .bit file, NewAE's "
        .. "husky_firmware.zip or chipwhisperer's hardware/firmware/cwhusky.py", "invalid" },
        { bitstream.load(path, "husky") })
      assert.are.same({ nil, "cannot open /nonexistent/x.bit: No such file or directory", "io" },
        { bitstream.load("/nonexistent/x.bit", "cwlite") })
      local zpath = tmpfile(make_zip({ { "readme.txt", "x" }, { "SAM3U.bin", "y" } }))
      local py = tmpfile("_contents = {\n'cwlite_firmware.zip':'AAAA',\n}\n")
      assert.are.same({ nil, py .. ": has no entry 'cw1200_firmware.zip'", "invalid" },
        { bitstream.load(py, "cw1200") })
      assert.are.same({ nil, zpath .. ": has no cw1200_interface.bit (it holds readme.txt, "
        .. "SAM3U.bin)", "invalid" }, { bitstream.load(zpath, "cw1200") })
    end)
  end)

  describe("locate()", function()
    it("takes --bitstream first, then $CWLUA_BITSTREAM, then the config files'", function()
      local conf = { file = "/c.bit", where = "the user file /u/config.lua:3" }
      assert.are.same({ "/a.bit", "--bitstream" },
        { bitstream.locate("cwlite", { file = "/a.bit", env = "/b.bit", config = conf }) })
      assert.are.same({ "/b.bit", "CWLUA_BITSTREAM" },
        { bitstream.locate("cwlite", { env = "/b.bit", config = conf }) })
      assert.are.same({ "/c.bit", "the user file /u/config.lua:3" },
        { bitstream.locate("cwlite", { config = conf }) })
    end)

    it("lists every place it looked when there is nothing", function()
      assert.are.same({ nil, { "--bitstream (not given)", "$CWLUA_BITSTREAM (not set)",
        "the config files' bitstream (not set)",
        "the chipwhisperer package of /nonexistent/python3 (no such Python)" } },
        { bitstream.locate("cwlite", { pythons = { "/nonexistent/python3" } }) })
    end)

    -- Python is started with an argument vector, never through a shell (contract.md §3.5)
    describe("asking Python", function()
      local cli = require "support.cli"
      after_each(cli.cleanup)

      it("runs no shell: a name with shell syntax is a program that does not exist", function()
        local dir = cli.tmpdir()
        local names = { "touch " .. dir .. "/p1;", "python3; touch " .. dir .. "/p2",
                        "$(touch " .. dir .. "/p3)", "`touch " .. dir .. "/p4`" }
        local path, searched = bitstream.locate("cwlite", { pythons = names })
        assert.is_nil(path)
        for i, name in ipairs(names) do
          assert.are.equal("the chipwhisperer package of " .. name .. " (no such Python)",
            searched[3 + i])
        end
        assert.are.same({}, require("cwlua.core.runtime").dir(dir))
      end)

      it("passes its code as one argument and reads the package folder it prints", function()
        local dir = cli.tmpdir()
        local pkg = dir .. "/site/chipwhisperer"
        cli.write(pkg .. "/hardware/firmware/cwlite.py", "_contents = {}\n")
        -- a stand-in interpreter: prints its arguments' count and answers like PY_FIND does
        local py = cli.write(dir .. "/bin/python 3", "#!/bin/sh\n"
          .. "[ \"$#\" = 2 ] && [ \"$1\" = -c ] || exit 1\n"
          .. "printf 'cwlua:/usr/bin/fake\\t%s\\n' " .. cli.quote(pkg) .. "\n")
        assert(os.execute("chmod +x " .. cli.quote(py)))
        assert.are.same({ pkg .. "/hardware/firmware/cwlite.py",
          "chipwhisperer package (/usr/bin/fake)" },
          { bitstream.locate("cwlite", { pythons = { py } }) })
      end)
    end)
  end)
end)

describe("cwlua.connect firmware rules", function()
  it("compares versions numerically (§2.4)", function()
    assert.is_true(connect.older({ 1, 4, 0 }, { 1, 10, 0 }))
    assert.is_false(connect.older({ 1, 10, 0 }, { 1, 4, 0 }))
    assert.is_false(connect.older({ 0, 65, 0 }, { 0, 65, 0 }))
    assert.is_true(connect.older({ 0, 65, 0 }, { 0, 65, 1 }))
  end)

  it("notes firmware below cwlua's minimum and below what NewAE ships (§1.1, §2.4)", function()
    assert.are.equal("too old for cwlua, which needs 0.30.0", connect.firmware_note(0xACE2,
      "0.20.0"))
    assert.are.equal("NewAE ships 0.65.0", connect.firmware_note(0xACE2, "0.60.0"))
    assert.is_nil(connect.firmware_note(0xACE2, "0.65.0"))
    assert.are.equal("NewAE ships 1.62.0", connect.firmware_note(0xACE3, "1.30.0"))
    assert.are.equal("too old for cwlua, which needs 0.23.0", connect.firmware_note(0xACE0,
      "0.22.9"))
    assert.is_nil(connect.firmware_note(0xC305, "0.1.0")) -- not a capture board
  end)
end)
