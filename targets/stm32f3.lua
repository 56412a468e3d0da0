-- targets/stm32f3.lua: STM32F3 through the ROM UART bootloader (ST AN3155); design §3
-- (CWLITEARM, the CW-Lite's own ARM target, is an STM32F303).
-- Programming steps arrive with the STM32 family work; this is the metadata.
return {
  api = 1,
  name = "stm32f3",
  summary = "STM32F3 through the ROM UART bootloader (AN3155)",
  part = "stm32f303xc",
  parts = { "stm32f303xc" },
  chips = { 0x432, 0x422, 0x439, 0x438, 0x446 }, -- F3 rows of target-protocols §A.6
  aliases = { CW308_STM32F3 = "stm32f303xc", CWLITEARM = "stm32f303xc" },
}
