-- targets/xmega.lua: ATxmega over PDI through the board's XPROG engine; design §3
-- (CWLITEXMEGA, CW303 and CW308_XMEGA carry an ATxmega128D4).
-- Programming steps arrive with the XMEGA work; this is the metadata.
return {
  api = 1,
  name = "xmega",
  summary = "ATxmega over PDI through the board's XPROG engine",
  part = "atxmega128d4",
  parts = { "atxmega128d4", "atxmega16a4" },
  aliases = { CWLITEXMEGA = "atxmega128d4", CW303 = "atxmega128d4",
              CW308_XMEGA = "atxmega128d4" },
}
