-- targets/stm32f0.lua: STM32F0 through the ROM UART bootloader (ST AN3155).
-- Parts and aliases per design §3 (CW308_STM32F0 is an F071, CWNANO's target an F030).
-- Programming steps arrive with the STM32 family work; this is the metadata.
return {
  api = 1,
  name = "stm32f0",
  summary = "STM32F0 through the ROM UART bootloader (AN3155)",
  part = "stm32f071xb",
  parts = { "stm32f030x6", "stm32f051x8", "stm32f071xb" },
  chips = { 0x440, 0x444, 0x442, 0x445, 0x448 }, -- F0 rows of target-protocols §A.6
  aliases = { CW308_STM32F0 = "stm32f071xb", CWNANO = "stm32f030x6" },
}
