-- cwlua.port: a plain serial adapter (-d serial:PATH), with the same stream interface as a
-- board's USART bridge (cwlua.board Stream) and its reset/boot lines (design §3 --gpio-seq).
local M = {}

--- port.open(path [, opts]) -> port | nil, msg, code
function M.open(path)
  return nil, ("serial:%s: plain serial adapters need cwlua's libserialport backend, which "
    .. "this build does not have yet"):format(path), "unsupported"
end

return M
