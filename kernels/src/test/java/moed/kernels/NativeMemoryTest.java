package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Copies that only speed things up must never pass the JVM's direct-memory limit (an OutOfMemoryError at start). */
class NativeMemoryTest {
    @Test
    void shouldSeeTheLimitAndWhatIsUsed() {
        assertTrue(NativeMemory.limit() > 0);
        long before = NativeMemory.used();
        MemorySegment s = Arena.ofAuto().allocate(32L << 20);
        assertTrue(NativeMemory.used() >= before + s.byteSize(), "an Arena allocation counts as direct memory");
        assertFalse(NativeMemory.hasRoomFor(NativeMemory.limit()), "the reserve is kept");
        assertEquals(Math.max(0, NativeMemory.limit() - NativeMemory.used() - (512L << 20)), NativeMemory.room());
    }

    /** In a JVM limited to 600 MiB of direct memory, a 160 MiB matrix is read where it lies instead of copied. */
    @Test
    void shouldReadAMatrixInPlaceWhenItsCopyWouldPassTheLimit() throws Exception {
        List<String> lines = SecondJvm.output(NativeMemoryTest.class, "-XX:MaxDirectMemorySize=600m",
                "-Dmoed.kernels.bits=512");
        assertEquals(List.of("copied true", "copied false"), lines);
    }

    /** Copies a small matrix (room for it), then, with 300 MiB allocated, a 160 MiB one (none: read in place). */
    public static void main(String[] args) {
        GgmlType t = GgmlType.Q4_K;
        System.out.println("copied " + Interleaved.copyIfWorthwhile(matrix(t, 64)).interleaved());
        MemorySegment held = Arena.ofAuto().allocate(300L << 20);
        System.out.println("copied " + Interleaved.copyIfWorthwhile(matrix(t, 160 * 1024 * 1024 / 576)).interleaved());
        held.fill((byte) 0);
    }

    private static WeightMatrix matrix(GgmlType t, int rows) {
        int cols = 1024;
        rows = rows / Interleaved.GROUP * Interleaved.GROUP;
        MemorySegment data = MemorySegment.ofArray(new byte[(int) t.bytesFor((long) rows * cols)]);
        KernelBenchmark.fillRandomBlocks(t, data, new SplittableRandom(1));
        return WeightMatrix.of(t, data, rows, cols);
    }
}
