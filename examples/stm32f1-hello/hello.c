/* SPDX-License-Identifier: MIT */
/* hello.c - cwlua example firmware for the CW308 STM32F1 target (STM32F100RBT6B, Cortex-M3).
 *
 * After reset it prints one banner line on USART1 (PA9 = TX, PA10 = RX, 38400 8N1), then echoes
 * every byte it receives. A line that is exactly "?" (ended by '\n'; a '\r' before the '\n' is
 * allowed) is answered with the banner again, after the echo of its '\n'.
 *
 * The core runs from HSI, the 8 MHz internal RC oscillator that is selected at reset, so nothing
 * here waits for a crystal or a PLL: the only loops that wait are the USART status polls.
 * No libc, no HAL, no interrupts. Register addresses and bits are from RM0041 (STM32F100xx).
 */
#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* RCC (0x40021000) */
#define RCC_APB2ENR     REG32(0x40021018u)
#define RCC_APB2_IOPAEN (1u << 2)
#define RCC_APB2_USART1 (1u << 14)

/* GPIOA (0x40010800) */
#define GPIOA_CRH  REG32(0x40010804u) /* pins 8..15, 4 bits each: CNF[1:0] MODE[1:0] */
#define GPIOA_BSRR REG32(0x40010810u)

/* USART1 (0x40013800), on APB2; PCLK2 = HCLK = HSI = 8 MHz after reset */
#define USART1_SR     REG32(0x40013800u)
#define USART1_DR     REG32(0x40013804u)
#define USART1_BRR    REG32(0x40013808u)
#define USART1_CR1    REG32(0x4001380Cu)
#define USART1_CR2    REG32(0x40013810u)
#define USART1_CR3    REG32(0x40013814u)
#define USART_SR_RXNE (1u << 5)
#define USART_SR_TXE  (1u << 7)
#define USART_CR1_RE  (1u << 2)
#define USART_CR1_TE  (1u << 3)
#define USART_CR1_UE  (1u << 13)

/* 8 MHz / (16 * 38400) = 13.02 -> mantissa 13, fraction 0: 38462 baud, +0.16 % */
#define PCLK2_HZ 8000000u
#define BAUD     38400u
#define BRR_VAL  ((PCLK2_HZ + BAUD / 2u) / BAUD)

/* Not const on purpose: it lives in .data, so a correct banner also shows that the reset
 * handler copied .data from flash. */
static char banner[] = "cwlua example: hello from STM32F100\n";

/* .bss: where we are in the current input line */
enum { LINE_START = 0, LINE_QUERY, LINE_OTHER };
static uint32_t line_state;

static void usart1_init(void)
{
    RCC_APB2ENR |= RCC_APB2_IOPAEN | RCC_APB2_USART1;

    /* PA9: alternate function push-pull, 2 MHz (CNF=10, MODE=10 -> 0xA).
     * PA10: input with pull-up (CNF=10, MODE=00 -> 0x8, ODR10 = 1), so an open RX line
     * reads idle instead of floating. USART1 is not remapped (AFIO_MAPR reset value). */
    uint32_t crh = GPIOA_CRH;
    crh &= ~((0xFu << 4) | (0xFu << 8));
    crh |= (0xAu << 4) | (0x8u << 8);
    GPIOA_CRH = crh;
    GPIOA_BSRR = 1u << 10;

    USART1_CR1 = 0; /* 8 data bits, no parity */
    USART1_CR2 = 0; /* 1 stop bit */
    USART1_CR3 = 0; /* no flow control, no DMA */
    USART1_BRR = BRR_VAL;
    USART1_CR1 = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE;
}

static void usart1_putc(uint8_t c)
{
    while (!(USART1_SR & USART_SR_TXE)) {
    }
    USART1_DR = c;
}

static uint8_t usart1_getc(void)
{
    while (!(USART1_SR & USART_SR_RXNE)) {
    }
    /* reading SR then DR also clears an overrun (ORE) */
    return (uint8_t)USART1_DR;
}

static void print_banner(void)
{
    for (const char *s = banner; *s; s++)
        usart1_putc((uint8_t)*s);
}

int main(void)
{
    usart1_init();
    print_banner();
    for (;;) {
        uint8_t c = usart1_getc();
        usart1_putc(c);
        if (c == '\n') {
            if (line_state == LINE_QUERY)
                print_banner();
            line_state = LINE_START;
        } else if (c == '\r') {
            /* ignored, so "?\r\n" is a query too */
        } else if (c == '?' && line_state == LINE_START) {
            line_state = LINE_QUERY;
        } else {
            line_state = LINE_OTHER;
        }
    }
}

/* ---- startup: vector table and reset handler ---- */

/* from stm32f100xb.ld */
extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];

void Reset_Handler(void);
void Default_Handler(void);

/* RAM is not initialised on reset: copy .data from flash, zero .bss, then run main. The loops
 * use volatile pointers so the compiler cannot turn them into memcpy/memset calls (there is no
 * libc to link against). */
void Reset_Handler(void)
{
    const volatile uint32_t *src = _sidata;
    volatile uint32_t *dst = _sdata;

    while (dst < _edata)
        *dst++ = *src++;
    for (dst = _sbss; dst < _ebss;)
        *dst++ = 0;
    main();
    for (;;) {
    }
}

/* Every exception but reset ends here. No interrupt is enabled, so only a fault can. */
void Default_Handler(void)
{
    for (;;) {
    }
}

/* Cortex-M3 core vectors only: this program enables no peripheral interrupt, so the STM32F100
 * IRQ entries that would follow are never fetched. */
typedef void (*vector_t)(void);
__attribute__((section(".isr_vector"), used)) static const vector_t vectors[16] = {
    (vector_t)_estack, /* 0  initial main stack pointer */
    Reset_Handler,     /* 1  reset */
    Default_Handler,   /* 2  NMI */
    Default_Handler,   /* 3  HardFault */
    Default_Handler,   /* 4  MemManage */
    Default_Handler,   /* 5  BusFault */
    Default_Handler,   /* 6  UsageFault */
    0,                 /* 7  reserved */
    0,                 /* 8  reserved */
    0,                 /* 9  reserved */
    0,                 /* 10 reserved */
    Default_Handler,   /* 11 SVCall */
    Default_Handler,   /* 12 DebugMonitor */
    0,                 /* 13 reserved */
    Default_Handler,   /* 14 PendSV */
    Default_Handler,   /* 15 SysTick */
};
