#ifndef CPU_TARGET_H
#define CPU_TARGET_H

/// The vector instruction set this target was compiled for (the numeric code's, from the same
/// -march): "AVX-512", "AVX2 + FMA", "SSE2", "NEON" or "none".
const char *cpu_target_compiled(void);

/// The width of the compiled-for vector registers, in bits (512, 256 or 128).
int cpu_target_vector_bits(void);

/// The widest vector instruction set this CPU (and its operating system) offers, named as above.
const char *cpu_target_machine(void);

/// 1 if this CPU runs what the target was compiled for, 0 if the binary would die of an illegal
/// instruction.
int cpu_target_runnable(void);

#endif
