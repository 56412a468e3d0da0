-- SPDX-License-Identifier: MIT
-- cwlua.image.spans: turn the data spans a file parser found into sorted, merged, disjoint
-- address ranges, or find the first address given twice.
--
-- Used by cwlua.image.hex and cwlua.image.elf; cwlua.image wraps the result. Duplicates are found
-- by sorting spans, not with a table per byte (issue: a 1 MiB image must load well under a
-- second). The conflict reported is the one a file read front to back meets first (contract.md §3:
-- `file:line: 0x… already set at line M`): the earliest span that overlaps an earlier one, at
-- its lowest byte that an earlier span already set.
local M = {}

local concat, sort = table.concat, table.sort

-- order_of(addrs, n) -> list of span indices sorted by address (file order among equals)
local function order_of(addrs, n)
  local order, sorted = {}, true
  for i = 1, n do
    order[i] = i
    if i > 1 and addrs[i] < addrs[i - 1] then sorted = false end
  end
  if not sorted then
    sort(order, function(a, b)
      local x, y = addrs[a], addrs[b]
      if x ~= y then return x < y end
      return a < b
    end)
  end
  return order
end

-- overlaps_within(order, addrs, lens, last) -> true when two of the spans 1..last share a byte
local function overlaps_within(order, addrs, lens, last)
  local reach = -1
  for k = 1, #order do
    local i = order[k]
    if i <= last then
      local a = addrs[i]
      if a < reach then return true end
      reach = a + lens[i]
    end
  end
  return false
end

-- first_conflict(order, addrs, lens) -> later, addr, earlier (span indices and the address)
local function first_conflict(order, addrs, lens)
  -- "spans 1..L overlap" is monotonic in L: bisect for the smallest such L.
  local lo, hi = 2, #addrs
  while lo < hi do
    local mid = (lo + hi) // 2
    if overlaps_within(order, addrs, lens, mid) then hi = mid else lo = mid + 1 end
  end
  local later = lo
  -- Spans before `later` are disjoint, so each byte of `later` has at most one earlier owner.
  local first, last = addrs[later], addrs[later] + lens[later]
  local best_addr, best
  for i = 1, later - 1 do
    local a, e = addrs[i], addrs[i] + lens[i]
    if a < last and e > first then
      local at = a > first and a or first
      if best_addr == nil or at < best_addr then best_addr, best = at, i end
    end
  end
  return later, best_addr, best
end

--- spans.merge(addrs, datas [, order]) -> ranges: sorted, disjoint spans (in the given order,
-- or file order when order is nil) joined where they touch
function M.merge(addrs, datas, order)
  local ranges, pieces, start, reach = {}, nil, nil, nil
  for k = 1, #addrs do
    local i = order and order[k] or k
    local a, data = addrs[i], datas[i]
    if a == reach then
      pieces[#pieces + 1] = data
    else
      if pieces then ranges[#ranges + 1] = { addr = start, data = concat(pieces) } end
      pieces, start = { data }, a
    end
    reach = a + #data
  end
  if pieces then ranges[#ranges + 1] = { addr = start, data = concat(pieces) } end
  return ranges
end

--- spans.check(addrs, lens) -> true [, order] | false, later, addr, earlier
-- addrs[i], lens[i]: span i in file order (lens > 0). Needs only the sizes, so a loader can
-- check a file's claims before it copies any data. When no byte is set twice: true, and the
-- span indices sorted by address (nil when file order already is). Otherwise: false, the index
-- of the first span (in file order) that sets an already set byte, that byte's address, and the
-- index of the span that set it first.
function M.check(addrs, lens)
  local n = #addrs
  -- Fast path: files usually list their spans in address order, without overlap.
  local reach = -1
  for i = 1, n do
    local a = addrs[i]
    if a < reach then break end
    if i == n then return true end
    reach = a + lens[i]
  end
  if n == 0 then return true end
  local order = order_of(addrs, n)
  if overlaps_within(order, addrs, lens, n) then
    return false, first_conflict(order, addrs, lens)
  end
  return true, order
end

--- spans.assemble(addrs, datas) -> ranges | nil, later, addr, earlier
-- addrs[i], datas[i]: span i in file order (non-empty strings). On success returns the sorted,
-- merged list { {addr=, data=}, ... }; if a byte is set twice, returns nil and what
-- spans.check returns after false.
function M.assemble(addrs, datas)
  -- The fast path of spans.check, without a table of lengths.
  local reach = -1
  for i = 1, #addrs do
    local a = addrs[i]
    if a < reach then break end
    if i == #addrs then return M.merge(addrs, datas) end
    reach = a + #datas[i]
  end
  local lens = {}
  for i = 1, #datas do lens[i] = #datas[i] end
  local ok, order, addr, earlier = M.check(addrs, lens)
  if not ok then return nil, order, addr, earlier end
  return M.merge(addrs, datas, order)
end

return M
