-- targets/avr.lua: AVR (ATmega) over ISP through the board's V2 engine; design §3.
-- Programming steps arrive with the AVR work; this is the metadata.
return {
  api = 1,
  name = "avr",
  summary = "AVR (ATmega) over ISP through the board's V2 engine",
  part = "atmega328p",
  parts = { "atmega328p", "atmega168pa" },
  aliases = { CW308_MEGA328P = "atmega328p" },
}
