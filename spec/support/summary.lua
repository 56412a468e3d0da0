-- SPDX-License-Identifier: MIT
-- busted output handler: the plain terminal output, then one closing line
-- "specs: N passed, N failed, N skipped" that dev/test adds up with the C tests' lines.
return function(options)
  local busted = require "busted"
  local handler = require "busted.outputHandlers.plainTerminal"(options)
  local subscribe = handler.subscribe
  handler.subscribe = function(h, opts)
    subscribe(h, opts)
    busted.subscribe({ "suite", "end" }, function()
      io.write(("specs: %d passed, %d failed, %d skipped\n"):format(handler.successesCount,
        handler.failuresCount + handler.errorsCount, handler.pendingsCount))
      io.flush()
      return nil, true
    end)
  end
  return handler
end
