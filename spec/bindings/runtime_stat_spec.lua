-- SPDX-License-Identifier: MIT
-- cwlua.core.runtime.stat (runtime/runtime.c): the kind and size of what a path names, so
-- that image loading can refuse a FIFO or a device before opening it.
local runtime = require "cwlua.core.runtime"
local cli = require "support.cli"

describe("runtime.stat", function()
  after_each(cli.cleanup)

  it("gives a regular file's kind and size", function()
    local file = cli.write(cli.tmpdir() .. "/f.bin", "12345")
    assert.are.same({ type = "file", size = 5 }, runtime.stat(file))
  end)

  it("names directories, FIFOs and character devices", function()
    local dir = cli.tmpdir()
    assert.are.equal("directory", runtime.stat(dir).type)
    assert(os.execute("mkfifo " .. cli.quote(dir .. "/p")))
    assert.are.equal("fifo", runtime.stat(dir .. "/p").type)
    assert.are.equal("char", runtime.stat("/dev/null").type)
  end)

  it("follows symbolic links", function()
    local dir = cli.tmpdir()
    assert(os.execute("ln -s /dev/zero " .. cli.quote(dir .. "/fw.bin")))
    assert.are.equal("char", runtime.stat(dir .. "/fw.bin").type)
  end)

  it("returns nil, message, code for a path that is not there", function()
    local dir = cli.tmpdir()
    assert.are.same({ nil, dir .. "/none: No such file or directory", "not_found" },
      { runtime.stat(dir .. "/none") })
  end)
end)
