-- targets/stm32f2.lua: STM32F2 through the ROM UART bootloader (ST AN3155); design §3.
-- Programming steps arrive with the STM32 family work; this is the metadata.
return {
  api = 1,
  name = "stm32f2",
  summary = "STM32F2 through the ROM UART bootloader (AN3155)",
  part = "stm32f205xe",
  parts = { "stm32f205xe" },
  chips = { 0x411 }, -- F2 row of target-protocols §A.6
  aliases = { CW308_STM32F2 = "stm32f205xe" },
}
