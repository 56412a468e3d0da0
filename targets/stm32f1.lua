-- targets/stm32f1.lua: STM32F1 through the ROM UART bootloader (ST AN3155).
-- Parts and aliases per design §3 (CW308_STM32F1 carries an STM32F100).
-- Programming steps arrive with the STM32F1 work; this is the metadata.
return {
  api = 1,
  name = "stm32f1",
  summary = "STM32F1 through the ROM UART bootloader (AN3155)",
  part = "stm32f100xb",
  parts = { "stm32f100xb", "stm32f103xb" },
  aliases = { CW308_STM32F1 = "stm32f100xb" },
}
