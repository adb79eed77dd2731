#include "cpu_target.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

const char *cpu_target_compiled(void) {
#if defined(__AVX512F__)
    return "AVX-512";
#elif defined(__AVX2__) && defined(__FMA__)
    return "AVX2 + FMA";
#elif defined(__x86_64__)
    return "SSE2";
#elif defined(__ARM_NEON)
    return "NEON";
#else
    return "none";
#endif
}

int cpu_target_vector_bits(void) {
#if defined(__AVX512F__)
    return 512;
#elif defined(__AVX2__)
    return 256;
#else
    return 128;
#endif
}

#if defined(__x86_64__)
enum { has_avx2_fma = 1, has_avx512 = 2 };

/// What the CPU offers and the OS saves on a context switch (XCR0), by CPUID. Compiled for the
/// baseline, so that asking cannot itself fault.
__attribute__((target("arch=x86-64")))
static int machine_features(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return 0;
    unsigned xcr0_low, xcr0_high;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & 0x6) != 0x6) return 0;  // XMM and YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int features = 0;
    if (((b >> 5) & 1) && fma) features |= has_avx2_fma;
    // AVX-512 F, DQ, BW and VL (x86-64-v4), with opmask and ZMM state enabled.
    unsigned v4 = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    if ((b & v4) == v4 && (xcr0_low & 0xE6) == 0xE6) features |= has_avx512;
    return features;
}
#endif

const char *cpu_target_machine(void) {
#if defined(__x86_64__)
    int features = machine_features();
    return (features & has_avx512) ? "AVX-512" : (features & has_avx2_fma) ? "AVX2 + FMA" : "SSE2";
#elif defined(__ARM_NEON)
    return "NEON";
#else
    return "none";
#endif
}

int cpu_target_runnable(void) {
#if defined(__AVX512F__)
    return (machine_features() & has_avx512) != 0;
#elif defined(__AVX2__)
    return (machine_features() & has_avx2_fma) != 0;
#else
    return 1;
#endif
}
