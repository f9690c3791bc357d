package moed.kernels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * The processor's instruction-set flags as Linux lists them ({@code /proc/cpuinfo}), for kernels that need one the
 * Vector API does not report: it names vector shapes, not instructions, and an operation it cannot map to one
 * instruction still runs, only many times slower. Empty where the file is absent: such kernels then stay off.
 */
final class CpuFlags {
    private static final Set<String> FLAGS = read();

    private CpuFlags() {
    }

    /** AVX-512 VBMI: byte permutes across a 512-bit vector (what {@link GridPlanes} need). */
    static boolean wideBytePermutes() {
        return has("avx512vbmi");
    }

    /** True when the processor lists {@code flag} (e.g. "avx512vbmi"). */
    static boolean has(String flag) {
        return FLAGS.contains(flag);
    }

    private static Set<String> read() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    return Set.of(line.substring(line.indexOf(':') + 1).trim().split("\\s+"));
                }
            }
        } catch (IOException | RuntimeException e) {
            // Not Linux, or not readable: no flags, so the kernels that need one keep to the general path.
        }
        return Set.of();
    }
}
