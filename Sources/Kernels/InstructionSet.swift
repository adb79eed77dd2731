import CPUTarget

/// The vector instructions the kernels were compiled for (Package.swift's `LENET5_MARCH`,
/// x86-64-v3 unless set) and those of the machine running them.
public enum InstructionSet {
    /// "AVX-512", "AVX2 + FMA", "SSE2" or "NEON": what this build's kernels use.
    public static var compiled: String { String(cString: cpu_target_compiled()) }
    /// The width of a vector register the kernels' blocking is chosen for, in bits.
    public static var vectorBits: Int { Int(cpu_target_vector_bits()) }
    /// The widest of those this CPU offers.
    public static var machine: String { String(cString: cpu_target_machine()) }
    /// Whether this CPU can run the kernels at all.
    public static var isRunnable: Bool { cpu_target_runnable() != 0 }
}
