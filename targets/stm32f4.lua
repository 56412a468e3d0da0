-- targets/stm32f4.lua: STM32F4 through the ROM UART bootloader (ST AN3155); design §3
-- (CW308_STM32F4 carries an STM32F415).
-- Programming steps arrive with the STM32 family work; this is the metadata.
return {
  api = 1,
  name = "stm32f4",
  summary = "STM32F4 through the ROM UART bootloader (AN3155)",
  part = "stm32f415xg",
  parts = { "stm32f415xg" },
  chips = { 0x413, 0x419, 0x423, 0x433 }, -- F4 rows of target-protocols §A.6
  aliases = { CW308_STM32F4 = "stm32f415xg" },
}
