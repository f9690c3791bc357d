package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.function.IntUnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Interleaved rows (Q4_K, Q5_K, Q2_K, Q3_K, Q6_K, Q8_0, Q4_0): the layout round-trips, and every path over it gives the row-major kernel's bits. */
class InterleavedTest {
    private static final int COLS = 768;

    private static WeightMatrix randomMatrix(GgmlType t, int rows, long seed) {
        return randomMatrix(t, rows, COLS, seed);
    }

    private static WeightMatrix randomMatrix(GgmlType t, int rows, int cols, long seed) {
        MemorySegment data = Arena.ofAuto().allocate(t.bytesFor((long) rows * cols));
        KernelBenchmark.fillRandomBlocks(t, data, new SplittableRandom(seed));
        return WeightMatrix.of(t, data, rows, cols);
    }

    private static WeightMatrix interleaved(WeightMatrix m) {
        return Interleaved.interleave(m, Arena.ofAuto().allocate(m.byteSize()));
    }

    private static Activation[] activations(int count, long seed) {
        return activations(count, COLS, seed);
    }

    private static Activation[] activations(int count, int cols, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Activation[] xs = new Activation[count];
        for (int k = 0; k < count; k++) {
            float[] v = new float[cols];
            for (int i = 0; i < cols; i++) {
                v[i] = (float) (rnd.nextGaussian() * (1 + k % 5));
            }
            xs[k] = new Activation(cols).set(v, 0, cols);
        }
        return xs;
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_K", "Q5_K", "Q2_K", "Q3_K", "Q6_K", "Q8_0", "Q4_0", "IQ4_XS"})
    void shouldGiveEveryRowBackByteForByte(GgmlType t) {
        WeightMatrix m = randomMatrix(t, 48, 1);
        WeightMatrix in = interleaved(m);
        assertEquals(m.byteSize(), in.byteSize());
        for (int r = 0; r < m.rows(); r++) {
            MemorySegment row = Interleaved.row(in, r);
            byte[] expected = m.data().asSlice(r * m.rowBytes(), m.rowBytes()).toArray(ValueLayout.JAVA_BYTE);
            assertArrayEquals(expected, row.asSlice(0, m.rowBytes()).toArray(ValueLayout.JAVA_BYTE), "row " + r);
        }
        float[] a = new float[COLS];
        float[] b = new float[COLS];
        m.dequantizeRow(37, a);
        in.dequantizeRow(37, b);
        assertArrayEquals(a, b);
    }

    /** Interleaved where it lies (a cache slot): the same bytes as an interleaved copy; Q8_0's cached experts are left as they lie. */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_K", "Q5_K", "Q2_K", "Q3_K", "Q6_K", "Q8_0", "Q4_0", "IQ4_XS"})
    void shouldInterleaveInPlaceAsIntoACopy(GgmlType t) {
        WeightMatrix m = randomMatrix(t, 32, 8);
        byte[] expected = interleaved(m).data().toArray(ValueLayout.JAVA_BYTE);
        WeightMatrix in = Interleaved.inPlace(m);
        if (!Interleaved.ENABLED || !Interleaved.worthwhile(t, 32) || !Interleaved.paysInPlace(t)) {
            assertEquals(m, in, "left as it lies");
            // The same rearranging where the bytes lie, asked for directly (a group is copied out before it is written).
            in = Interleaved.interleave(m, m.data());
        }
        assertEquals(m.data().address(), in.data().address());
        assertArrayEquals(expected, m.data().toArray(ValueLayout.JAVA_BYTE));
        assertEquals(in, Interleaved.inPlace(in), "already interleaved: left as it is");
    }

    /** Decode's group kernel and prefill's GEMM over interleaved rows give the row-major per-row kernel's bits. */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_K", "Q5_K", "Q2_K", "Q3_K", "Q6_K", "Q8_0", "Q4_0", "IQ4_XS"})
    void shouldGiveTheRowKernelsBitsForAnyTokenCountAndThreads(GgmlType t) {
        WeightMatrix m = randomMatrix(t, 64, 2);
        WeightMatrix in = interleaved(m);
        // Past the Q8_0 GEMM's threshold too, with one and two tokens beyond whole tiles of four.
        int g = InterleavedQ8_0Gemm.MIN_TOKENS;
        Activation[] xs = activations(g + 6, 3);
        try (ParallelExecutor e1 = new ParallelExecutor(1); ParallelExecutor e2 = new ParallelExecutor(2)) {
            for (ParallelExecutor e : new ParallelExecutor[] {e1, e2}) {
                MatMat mm = new MatMat(e);
                for (int count : new int[] {1, 2, 3, 4, 5, 8, 9, 17, g + 1, g + 6}) {
                    assertRowKernelBits(mm, m, in, xs, count, "count " + count);
                }
                int[] which = {16, 3, 9};
                float[][] out = new float[xs.length][m.rows()];
                mm.apply(in, xs, which, which.length, out);
                for (int k : which) {
                    for (int r = 0; r < m.rows(); r++) {
                        assertEquals(Float.floatToIntBits(Dot.row(m, r, xs[k])), Float.floatToIntBits(out[k][r]));
                    }
                }
            }
        }
    }

    /**
     * Q8_0's GEMM over interleaved rows takes its blocks a chunk at a time and its rows 32 at a time: a row length that
     * ends in a partial chunk (13 blocks) and a row count that ends in a lone group (48 rows: the group kernel) give the
     * row kernel's bits too.
     */
    @Test
    void shouldGiveTheRowKernelsBitsForPartialChunksAndLoneGroups() {
        for (int rows : new int[] {96, 48}) {
            WeightMatrix m = randomMatrix(GgmlType.Q8_0, rows, 13 * 32, 11);
            WeightMatrix in = interleaved(m);
            Activation[] xs = activations(InterleavedQ8_0Gemm.MIN_TOKENS + 7, 13 * 32, 12);
            try (ParallelExecutor e = new ParallelExecutor(2)) {
                // Past the GEMM's threshold, ending in one, two and three tokens after the whole tiles of four.
                int g = InterleavedQ8_0Gemm.MIN_TOKENS / 4 * 4 + 4;
                for (int count : new int[] {g + 1, g + 2, g + 3}) {
                    assertRowKernelBits(new MatMat(e), m, in, xs, count, rows + " rows, count " + count);
                }
            }
        }
    }

    /**
     * Decode reads a range's two halves side by side where the format has a two-group kernel (Q4_K at 512 bits): an odd
     * number of groups (the last one alone) and a range of a single group give the row kernel's bits too.
     */
    @Test
    void shouldGiveTheRowKernelsBitsWithTwoGroupsSideBySide() {
        assertEquals(Dot.L == Interleaved.GROUP, Interleaved.hasTwoGroupKernel(GgmlType.Q4_K), "Q4_K at 512 bits only");
        for (int rows : new int[] {16, 32, 48, 80}) {
            WeightMatrix m = randomMatrix(GgmlType.Q4_K, rows, 13);
            Activation[] xs = activations(1, 14);
            try (ParallelExecutor e = new ParallelExecutor(1)) {
                assertRowKernelBits(new MatMat(e), m, interleaved(m), xs, 1, rows + " rows");
            }
        }
    }

    /**
     * Q4_K takes its four-token group kernel below {@link KQuantRowGemm#INTERLEAVED_Q4K_MIN_TOKENS} tokens (the counts
     * above) and the row-lane GEMM over the layout from there: at the threshold and past it by one to three tokens, one
     * and two threads, the row kernel's bits.
     */
    @Test
    void shouldGiveTheRowKernelsBitsThroughTheQ4KGemmPastItsThreshold() {
        int g = KQuantRowGemm.INTERLEAVED_Q4K_MIN_TOKENS;
        WeightMatrix m = randomMatrix(GgmlType.Q4_K, 64, 21);
        WeightMatrix in = interleaved(m);
        Activation[] xs = activations(g + 3, 22);
        try (ParallelExecutor e1 = new ParallelExecutor(1); ParallelExecutor e2 = new ParallelExecutor(2)) {
            for (ParallelExecutor e : new ParallelExecutor[] {e1, e2}) {
                for (int count : new int[] {g - 1, g, g + 3}) {
                    assertRowKernelBits(new MatMat(e), m, in, xs, count, "count " + count);
                }
            }
        }
    }

    /** An expert's slice of an interleaved stacked tensor is the interleaved slice; a slice splitting a group is refused. */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_K", "Q5_K", "Q2_K", "Q3_K", "Q6_K", "Q8_0", "Q4_0", "IQ4_XS"})
    void shouldSliceWholeGroupsOnly(GgmlType t) {
        WeightMatrix m = randomMatrix(t, 64, 4);
        WeightMatrix slice = interleaved(m).rows(32, 16);
        Activation a = activations(1, 5)[0];
        try (ParallelExecutor e = new ParallelExecutor(1)) {
            float[][] out = new float[1][16];
            new MatMat(e).apply(slice, new Activation[] {a}, null, 1, out);
            for (int r = 0; r < 16; r++) {
                assertEquals(Float.floatToIntBits(Dot.row(m, 32 + r, a)), Float.floatToIntBits(out[0][r]), "row " + r);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> interleaved(m).rows(8, 16));
        assertThrows(IllegalArgumentException.class, () -> interleaved(randomMatrix(t, 40, 6)));
    }

    /**
     * At the bound of the float sums: every nibble 15, every scale and minimum 63, activations of largest magnitude
     * whose halves cancel (so an error of one in any sub-block sum shows).
     */
    @Test
    void shouldStayExactAtTheLargestQ4KWeightsAndScales() {
        // Scales, minimums and nibbles all ones (d and dmin left as they are).
        WeightMatrix m = withBlockBytes(GgmlType.Q4_K, 7, 4, 144, i -> 0xFF);
        // One weight of row 5 one less: its row's sum must differ by exactly that.
        m.data().set(ValueLayout.JAVA_BYTE, 5 * m.rowBytes() + 16 + 3, (byte) 0xFE);
        assertSameAsRowKernel(m, cancelling(64));
    }

    /**
     * Q2_K at the bound of its sums: every weight 3, every scale and minimum 15, activations of largest magnitude whose
     * halves cancel (so an error of one in any sub-block sum shows).
     */
    @Test
    void shouldStayExactAtTheLargestQ2KWeightsAndScales() {
        WeightMatrix m = withBlockBytes(GgmlType.Q2_K, 10, 0, 80, i -> 0xFF);
        // One weight of row 5 one less: its row's sum must differ by exactly that.
        m.data().set(ValueLayout.JAVA_BYTE, 5 * m.rowBytes() + 16 + 9, (byte) 0xFE);
        assertSameAsRowKernel(m, cancelling(32));
    }

    /**
     * Q3_K at the bound of its sums: every weight's bits set (q = 3) or, in the hmask's alternate bytes, the high bit
     * clear (q = -1 and -4 at the extremes), the scales at both ends, activations of largest magnitude whose halves
     * cancel.
     */
    @Test
    void shouldStayExactAtTheLargestQ3KWeightsAndScales() {
        WeightMatrix m = withBlockBytes(GgmlType.Q3_K, 15, 0, 108,
                i -> i < 32 && i % 3 == 0 ? 0x00 : i >= 96 && i % 2 == 0 ? 0x00 : 0xFF);
        m.data().set(ValueLayout.JAVA_BYTE, 5 * m.rowBytes() + 32 + 9, (byte) 0xFE);
        assertSameAsRowKernel(m, cancelling(32));
    }

    /**
     * Q6_K at the bound of its 16-bit halves: every weight's six bits set (q = 63, four products of 63 * 127 in a half)
     * or, in alternate bytes, clear (q = 0, the weight -32), the scales at both ends (-128, 127), activations of largest
     * magnitude whose halves cancel (so an error of one in any sub-block sum shows).
     */
    @Test
    void shouldStayExactAtTheLargestQ6KWeightsAndScales() {
        WeightMatrix m = withBlockBytes(GgmlType.Q6_K, 16, 0, 208,
                i -> i < 192 ? (i % 7 == 3 ? 0x00 : 0xFF) : i % 2 == 0 ? 0x80 : 0x7F);
        m.data().set(ValueLayout.JAVA_BYTE, 5 * m.rowBytes() + 70, (byte) 0xFE);
        assertSameAsRowKernel(m, cancelling(32));
    }

    /**
     * Q4_0 at the bound of its 16-bit halves: every nibble 15 or, in alternate bytes, 0 (the weights 7 and -8), against
     * activations of largest magnitude of either sign (four products of 15 * 127 and the offset of 8 * 4 * 127).
     */
    @Test
    void shouldStayExactAtTheLargestQ4_0Weights() {
        WeightMatrix m = withBlockBytes(GgmlType.Q4_0, 17, 2, 18, i -> i % 3 == 0 ? 0x00 : 0xFF);
        m.data().set(ValueLayout.JAVA_BYTE, 5 * m.rowBytes() + 7, (byte) 0xEF);
        assertSameAsRowKernel(m, cancelling(32));
        assertSameAsRowKernel(m, cancelling(4));
    }

    /**
     * Q5_K at the bound of its 16-bit halves: every nibble and fifth bit set (q = 31, eight products of 31 * 127 in a
     * half), scales and minimums 63, activations of largest magnitude whose halves cancel.
     */
    @Test
    void shouldStayExactAtTheLargestQ5KWeightsAndScales() {
        WeightMatrix m = withBlockBytes(GgmlType.Q5_K, 18, 4, 176, i -> i >= 16 && i < 48 && i % 5 == 0 ? 0x55 : 0xFF);
        m.data().set(ValueLayout.JAVA_BYTE, 5 * m.rowBytes() + 48 + 3, (byte) 0xFE);
        assertSameAsRowKernel(m, cancelling(64));
    }

    /** Q8_0 at the bound of its 16-bit halves: weights of -128 against activations of 127 (two products: 32,512). */
    @Test
    void shouldStayExactAtTheLargestQ8Products() {
        WeightMatrix m = withBlockBytes(GgmlType.Q8_0, 9, 2, 34, i -> i % 5 == 0 ? 127 : -128);
        float[] v = new float[COLS];
        for (int i = 0; i < COLS; i++) {
            v[i] = i % 7 == 0 ? -3f : 3f;
        }
        assertSameAsRowKernel(m, new Activation(COLS).set(v, 0, COLS));
    }

    /**
     * Scales of every kind (negative, subnormal, zero, the largest half) convert as Float.float16ToFloat does in every
     * interleaved path: the kernels read a lane's low 16 bits only, whatever sign extension put above them.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_K", "Q5_K", "Q2_K", "Q3_K", "Q6_K", "Q8_0", "Q4_0", "IQ4_XS"})
    void shouldConvertEveryKindOfBlockScale(GgmlType t) {
        WeightMatrix m = randomMatrix(t, 32, 13);
        MemorySegment s = m.data();
        short[] halves = {(short) 0xB800, (short) 0x8001, 0x0003, 0, 0x7BFF, (short) 0xBC00, 0x3555};
        int k = 0;
        long d = t == GgmlType.Q2_K ? 80 : t == GgmlType.Q3_K ? 108 : t == GgmlType.Q6_K ? 208 : 0;
        for (long bo = 0; bo < m.byteSize(); bo += t.blockBytes) {
            s.set(ValueLayout.JAVA_SHORT_UNALIGNED, bo + d, halves[k++ % halves.length]); // d
            if (t == GgmlType.Q4_K || t == GgmlType.Q5_K || t == GgmlType.Q2_K) {
                s.set(ValueLayout.JAVA_SHORT_UNALIGNED, bo + d + 2, halves[k++ % halves.length]); // dmin
            }
        }
        assertSameAsRowKernel(m, activations(1, 14)[0]);
    }

    /** A random 32-row matrix whose blocks' bytes {@code from..to-1} are set to {@code byteAt(i)}. */
    private static WeightMatrix withBlockBytes(GgmlType t, long seed, int from, int to, IntUnaryOperator byteAt) {
        WeightMatrix m = randomMatrix(t, 32, seed);
        for (long bo = 0; bo < m.byteSize(); bo += t.blockBytes) {
            for (int i = from; i < to; i++) {
                m.data().set(ValueLayout.JAVA_BYTE, bo + i, (byte) byteAt.applyAsInt(i));
            }
        }
        return m;
    }

    /**
     * Activations of largest magnitude whose halves cancel: the first half of every {@code period} values 100, the
     * second -99.2 (so an error of one in any sub-block's integer sum shows in the result).
     */
    private static Activation cancelling(int period) {
        float[] v = new float[COLS];
        for (int i = 0; i < COLS; i++) {
            v[i] = (i % period < period / 2) ? 100f : -99.2f;
        }
        return new Activation(COLS).set(v, 0, COLS);
    }

    /** One token (decode's group kernel), nine and past the Q8_0 GEMM's threshold (prefill's GEMMs, where one reads the layout). */
    private static void assertSameAsRowKernel(WeightMatrix m, Activation a) {
        WeightMatrix in = interleaved(m);
        try (ParallelExecutor e = new ParallelExecutor(1)) {
            for (int count : new int[] {1, 9, InterleavedQ8_0Gemm.MIN_TOKENS + 1}) {
                Activation[] xs = new Activation[count];
                java.util.Arrays.fill(xs, a);
                assertRowKernelBits(new MatMat(e), m, in, xs, count, count + " tokens");
            }
        }
    }

    /** mm over the interleaved {@code in} for tokens 0..count-1 gives the row kernel's bits over row-major m. */
    private static void assertRowKernelBits(MatMat mm, WeightMatrix m, WeightMatrix in, Activation[] xs, int count,
                                            String what) {
        float[][] out = new float[xs.length][m.rows()];
        mm.apply(in, xs, null, count, out);
        for (int k = 0; k < count; k++) {
            for (int r = 0; r < m.rows(); r++) {
                assertEquals(Float.floatToIntBits(Dot.row(m, r, xs[k])), Float.floatToIntBits(out[k][r]),
                        what + ", token " + k + ", row " + r);
            }
        }
    }
}
