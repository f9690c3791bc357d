package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every fast kernel against its scalar twin on random blocks, for several row lengths (including lengths that
 * leave tails for the vector loops) and through the threaded mat-mat. Tolerance: the two differ only in
 * summation order, so a small multiple of float epsilon times the sum of |products|.
 */
class DotTest {
    static float tolerance(float[] w, float[] x, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += Math.abs(w[i] * x[i]);
        }
        return (float) (s * 2e-5 + 1e-6);
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
            "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "MXFP4", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S",
            "IQ1_S", "IQ1_M", "IQ4_XS"})
    void shouldMatchScalarReference(GgmlType t) {
        int[] lengths = t.blockSize == 1 ? new int[] {1, 7, 8, 15, 16, 17, 33, 256, 1000}
                : t.blockSize == 32 ? new int[] {32, 64, 96, 256, 1024} : new int[] {256, 512, 2048};
        SplittableRandom r = new SplittableRandom(t.id);
        for (int n : lengths) {
            int rows = 5;
            MemorySegment data = Arena.ofAuto().allocate(t.bytesFor((long) n * rows));
            KernelBenchmark.fillRandomBlocks(t, data, r);
            WeightMatrix m = WeightMatrix.of(t, data, rows, n);
            float[] xv = new float[n];
            for (int i = 0; i < n; i++) {
                xv[i] = (float) r.nextGaussian();
            }
            Activation a = new Activation(n).set(xv, 0, n);
            a.prepareFor(t);
            float[] w = new float[n];
            for (int row = 0; row < rows; row++) {
                float fast = Dot.row(m, row, a);
                float ref = Dot.scalar(t, data, row * m.rowBytes(), a, n);
                m.dequantizeRow(row, w);
                float[] xs = t == GgmlType.F16 ? a.f16 : usesQ8(t) ? scaledQ8(a, n) : usesQ8K(t) ? scaledQ8K(a, n) : a.x;
                assertEquals(ref, fast, tolerance(w, xs, n), t + " n=" + n + " row " + row);
            }
        }
    }

    private static boolean usesQ8(GgmlType t) {
        return t == GgmlType.Q8_0 || t == GgmlType.Q4_0 || t == GgmlType.Q5_0 || t == GgmlType.Q4_1 || t == GgmlType.Q5_1
                || t == GgmlType.IQ4_NL || t == GgmlType.MXFP4;
    }

    private static boolean usesQ8K(GgmlType t) {
        Activation.Form f = t.format().activation();
        return f == Activation.Form.Q8_K || f == Activation.Form.Q8_K_NIBBLES || f == Activation.Form.Q8_K_PLANES8
                || f == Activation.Form.Q8_K_PLANES4;
    }

    private static float[] scaledQ8K(Activation a, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = a.q8k[i] * a.q8kScale[i / 256];
        }
        return v;
    }

    private static float[] scaledQ8(Activation a, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = a.q8s[i] * a.q8Scale[i / 32];
        }
        return v;
    }

    @Test
    void shouldQuantizeActivationsToQ8KAsGgmlDoes() {
        int n = 512;
        SplittableRandom r = new SplittableRandom(6);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        x[17] = -9f;
        x[300] = 8f;
        Activation a = new Activation(n).set(x, 0, n);
        a.prepareFor(GgmlType.Q4_K);
        // Per 256, the value of largest magnitude maps to -127 exactly (ggml's scale is -max/127).
        assertEquals(-127, a.q8k[17]);
        assertEquals(9f / 127, a.q8kScale[0], 1e-6f);
        assertEquals(-127, a.q8k[300]);
        assertEquals(-8f / 127, a.q8kScale[1], 1e-6f);
        for (int i = 0; i < n; i++) {
            assertTrue(Math.abs(a.q8k[i] * a.q8kScale[i / 256] - x[i]) <= Math.abs(a.q8kScale[i / 256]) * 0.51f, "value " + i);
        }
        for (int g = 0; g < n / 32; g++) {
            int sum = 0;
            for (int j = 0; j < 32; j++) {
                sum += a.q8k[g * 32 + j];
            }
            assertEquals(sum, a.q8kSum32[g], "sum of group " + g);
        }
    }

    @Test
    void shouldQuantizeActivationsCloseToTheirValues() {
        int n = 256;
        SplittableRandom r = new SplittableRandom(5);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        Activation a = new Activation(n).set(x, 0, n);
        a.prepareFor(GgmlType.Q8_0);
        for (int i = 0; i < n; i++) {
            float amax = 0;
            for (int j = i / 32 * 32; j < i / 32 * 32 + 32; j++) {
                amax = Math.max(amax, Math.abs(x[j]));
            }
            assertTrue(Math.abs(a.q8s[i] * a.q8Scale[i / 32] - x[i]) <= amax / 127 * 0.51f, "value " + i);
        }
    }

    /** Also covers MatMat's interleaved row runs: 301 rows make runs of unequal length on one thread and on three. */
    @Test
    void shouldGiveTheSameResultWithOneOrSeveralThreadsAndTokens() {
        GgmlType t = GgmlType.Q8_0;
        int rows = 301;
        int cols = 512;
        MemorySegment data = Arena.ofAuto().allocate(t.bytesFor((long) rows * cols));
        SplittableRandom r = new SplittableRandom(9);
        KernelBenchmark.fillRandomBlocks(t, data, r);
        WeightMatrix m = WeightMatrix.of(t, data, rows, cols);
        Activation[] xs = new Activation[3];
        for (int k = 0; k < 3; k++) {
            xs[k] = KernelBenchmark.randomActivation(cols + k * 0);
        }
        float[][] one = new float[3][rows];
        float[][] many = new float[3][rows];
        try (ParallelExecutor e1 = new ParallelExecutor(1); ParallelExecutor e3 = new ParallelExecutor(3)) {
            new MatMat(e1).apply(m, xs, null, 3, one);
            new MatMat(e3).apply(m, xs, null, 3, many);
        }
        for (int k = 0; k < 3; k++) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(one[k], many[k], "token " + k);
            for (int row = 0; row < rows; row++) {
                assertEquals(Dot.row(m, row, xs[k]), one[k][row], "row " + row);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "Q8_0", "Q4_K", "Q2_K", "IQ2_XXS", "IQ3_XXS", "IQ2_XS", "IQ3_S", "IQ2_S", "IQ1_M"})
    void shouldGiveBitIdenticalResultsTiledOrOneByOne(GgmlType t) {
        int n = t.isSuperBlock() ? 512 : 288 + (t.blockSize == 1 ? 5 : 0);
        MemorySegment data = Arena.ofAuto().allocate(t.bytesFor((long) n * 3));
        KernelBenchmark.fillRandomBlocks(t, data, new SplittableRandom(2));
        WeightMatrix m = WeightMatrix.of(t, data, 3, n);
        Activation[] a = new Activation[4];
        for (int k = 0; k < 4; k++) {
            a[k] = KernelBenchmark.randomActivation(n);
            a[k].set(a[k].x, 0, n);
            for (int i = 0; i < n; i++) {
                a[k].x[i] += k;
            }
            a[k].set(a[k].x.clone(), 0, n);
            a[k].prepareFor(t);
        }
        float[] four = new float[4];
        for (int r = 0; r < 3; r++) {
            Dot.row4(m, r, a[0], a[1], a[2], a[3], four);
            for (int k = 0; k < 4; k++) {
                assertEquals(Float.floatToIntBits(Dot.row(m, r, a[k])), Float.floatToIntBits(four[k]), t + " row " + r + " token " + k);
            }
        }
    }

    /**
     * The grid formats with plane kernels where those run (GridPlanes; elsewhere this checks the scalar decode):
     * most points at the grid's largest magnitudes, signs often all plus or all minus, activations the weights' signs
     * (so a plane's products share one sign) at the Q8_K extremes, so the kernels' 16-bit sums meet their bound. Rows
     * of one to six blocks (IQ2_XXS takes pairs and an odd last block) match the format's definition written out
     * ({@link #exactDot}) bit for bit.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"IQ2_XXS", "IQ3_XXS"})
    void shouldKeepTheGridPlaneKernelsExactAtTheExtremes(GgmlType t) {
        boolean iq2 = t == GgmlType.IQ2_XXS;
        int largest = 0; // the grid point with the largest sum of magnitudes
        for (int p = 1; p < 256; p++) {
            if (magnitudeSum(t, p) > magnitudeSum(t, largest)) {
                largest = p;
            }
        }
        SplittableRandom rnd = new SplittableRandom(21);
        for (int n : new int[] {256, 512, 768, 1536}) {
            MemorySegment data = Arena.ofAuto().allocate(t.bytesFor(n));
            for (int b = 0; b < n / 256; b++) {
                long bo = (long) b * t.blockBytes;
                data.set(Bytes.LE_SHORT, bo, Float.floatToFloat16((float) rnd.nextDouble(0.001, 0.05)));
                for (int ib = 0; ib < 8; ib++) {
                    for (int l = 0; l < (iq2 ? 4 : 8); l++) {
                        data.set(ValueLayout.JAVA_BYTE, bo + 2 + 8L * ib + l, (byte) (rnd.nextInt(4) == 0 ? rnd.nextInt(256) : largest));
                    }
                    int signs = rnd.nextBoolean() ? 0 : 0x0FFFFFFF & (rnd.nextBoolean() ? -1 : rnd.nextInt());
                    data.set(Bytes.LE_INT, bo + (iq2 ? 6 + 8L * ib : 66 + 4L * ib), signs | rnd.nextInt(16) << 28);
                }
            }
            WeightMatrix m = WeightMatrix.of(t, data, 1, n);
            float[] w = new float[n];
            m.dequantizeRow(0, w);
            for (float sign : new float[] {1f, -1f}) {
                float[] x = new float[n];
                for (int i = 0; i < n; i++) { // the weights' signs; one value per 256 a little larger
                    x[i] = sign * Math.signum(w[i]) * (i % 256 == 7 ? 1.01f : 1f);
                }
                Activation a = new Activation(n).set(x, 0, n);
                a.prepareFor(t);
                assertEquals(Float.floatToIntBits(exactDot(t, data, a, n)), Float.floatToIntBits(Dot.row(m, 0, a)),
                        t + " n=" + n + " sign " + sign);
            }
        }
    }

    /**
     * Every grid format with a plane kernel, on random blocks against activations carrying the weights' own signs (so
     * every product is positive and a plane's 16-bit sums are as large as the blocks allow): the kernel equals the
     * scalar decode ({@code row4}) bit for bit, for rows of one to six blocks.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"IQ2_XXS", "IQ3_XXS", "IQ2_XS", "IQ3_S", "IQ2_S"})
    void shouldMatchTheScalarDecodeWithProductsOfOneSign(GgmlType t) {
        for (int n : new int[] {256, 512, 768, 1536}) {
            MemorySegment data = Arena.ofAuto().allocate(t.bytesFor(n));
            KernelBenchmark.fillRandomBlocks(t, data, new SplittableRandom(n));
            WeightMatrix m = WeightMatrix.of(t, data, 1, n);
            float[] w = new float[n];
            m.dequantizeRow(0, w);
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = Math.signum(w[i]) * (i % 256 == 7 ? 1.01f : 1f);
            }
            Activation a = new Activation(n).set(x, 0, n);
            a.prepareFor(t);
            float[] four = new float[4];
            Dot.row4(m, 0, a, a, a, a, four);
            assertEquals(Float.floatToIntBits(four[0]), Float.floatToIntBits(Dot.row(m, 0, a)), t + " n=" + n);
        }
    }

    private static long magnitudeSum(GgmlType t, int point) {
        long g = t == GgmlType.IQ2_XXS ? IQGrids.IQ2XXS[point] : IQGrids.IQ3XXS[point] & 0xFFFFFFFFL;
        long sum = 0;
        for (int j = 0; j < 8; j++) {
            sum += g >>> (8 * j) & 0xFF;
        }
        return sum;
    }

    /**
     * IQ2_XXS's or IQ3_XXS's dot written out from the format's definition: per block the exact integer sum over
     * sub-blocks of (2s + 1) * grid * sign * activation, then (d / 8 or d / 4) * the activation scale * that sum,
     * added block by block.
     */
    private static float exactDot(GgmlType t, MemorySegment data, Activation a, int n) {
        boolean iq2 = t == GgmlType.IQ2_XXS;
        float total = 0;
        for (int b = 0; b < n / 256; b++) {
            long bo = (long) b * t.blockBytes;
            long dot = 0;
            for (int ib = 0; ib < 8; ib++) {
                int word = data.get(Bytes.LE_INT, bo + (iq2 ? 6 + 8L * ib : 66 + 4L * ib));
                long sub = 0;
                for (int l = 0; l < 4; l++) {
                    int sign = IQGrids.ksigns(word >>> (7 * l) & 127);
                    long grid = iq2 ? IQGrids.IQ2XXS[data.get(ValueLayout.JAVA_BYTE, bo + 2 + 8L * ib + l) & 0xFF]
                            : IQGrids.IQ3XXS[data.get(ValueLayout.JAVA_BYTE, bo + 2 + 8L * ib + 2 * l) & 0xFF] & 0xFFFFFFFFL
                            | (long) IQGrids.IQ3XXS[data.get(ValueLayout.JAVA_BYTE, bo + 3 + 8L * ib + 2 * l) & 0xFF] << 32;
                    for (int j = 0; j < 8; j++) {
                        int v = (int) (grid >>> (8 * j) & 0xFF) * ((sign >>> j & 1) != 0 ? -1 : 1);
                        sub += (long) v * a.q8k[256 * b + 32 * ib + 8 * l + j];
                    }
                }
                dot += (2L * (word >>> 28) + 1) * sub;
            }
            total += Float.float16ToFloat(data.get(Bytes.LE_SHORT, bo)) * (iq2 ? 0.125f : 0.25f) * a.q8kScale[b] * (int) dot;
        }
        return total;
    }

    /** Decode's paired rows (Dot.rowPair: Q8_0 has a paired kernel, Q4_K falls back to two passes) equal row by row. */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_K"})
    void shouldGiveBitIdenticalResultsInPairsOrOneByOne(GgmlType t) {
        int n = t.isSuperBlock() ? 512 : 288;
        int rows = 5;
        MemorySegment data = Arena.ofAuto().allocate(t.bytesFor((long) n * rows));
        SplittableRandom rnd = new SplittableRandom(4);
        KernelBenchmark.fillRandomBlocks(t, data, rnd);
        if (t == GgmlType.Q8_0) { // random blocks share one scale: give each its own, so a row's scales cannot be swapped
            for (long bo = 0; bo < data.byteSize(); bo += t.blockBytes) {
                data.set(Bytes.LE_SHORT, bo, Float.floatToFloat16((float) rnd.nextDouble(0.001, 0.05)));
            }
        }
        WeightMatrix m = WeightMatrix.of(t, data, rows, n);
        Activation a = KernelBenchmark.randomActivation(n);
        a.prepareFor(t);
        float[] two = new float[2];
        for (int r0 = 0; r0 < rows; r0++) {
            for (int r1 = 0; r1 < rows; r1++) {
                Dot.rowPair(m, r0, r1, a, two);
                assertEquals(Float.floatToIntBits(Dot.row(m, r0, a)), Float.floatToIntBits(two[0]), t + " rows " + r0 + ", " + r1);
                assertEquals(Float.floatToIntBits(Dot.row(m, r1, a)), Float.floatToIntBits(two[1]), t + " rows " + r0 + ", " + r1);
            }
        }
    }

    /**
     * The GEMM that batches of tokens take (Block32Gemm, Block32PairGemm at 512 bits, KQuantGemm) gives, for every token and row, the per-token kernel's
     * result bit for bit: for token counts below, at and above the vector width, a subset of tokens chosen by
     * index, an odd row count, and one or two threads.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K", "Q3_K", "IQ3_S", "IQ4_XS", "IQ2_XXS", "IQ3_XXS", "IQ2_XS", "IQ2_S", "IQ1_M"})
    void shouldGiveBitIdenticalResultsThroughTheGemm(GgmlType t) {
        int rows = 37;
        int cols = t.isSuperBlock() ? 768 : 320;
        MemorySegment data = Arena.ofAuto().allocate(t.bytesFor((long) rows * cols));
        KernelBenchmark.fillRandomBlocks(t, data, new SplittableRandom(12));
        WeightMatrix m = WeightMatrix.of(t, data, rows, cols);
        Activation[] xs = new Activation[40];
        SplittableRandom rnd = new SplittableRandom(13);
        for (int k = 0; k < xs.length; k++) {
            float[] v = new float[cols];
            for (int i = 0; i < cols; i++) {
                v[i] = (float) (rnd.nextGaussian() * (1 + k % 5));
            }
            xs[k] = new Activation(cols).set(v, 0, cols);
        }
        try (ParallelExecutor e1 = new ParallelExecutor(1); ParallelExecutor e2 = new ParallelExecutor(2)) {
            for (ParallelExecutor e : new ParallelExecutor[] {e1, e2}) {
                MatMat mm = new MatMat(e);
                for (int count : new int[] {4, 6, 7, 8, 9, 10, 16, 17, 33, 40}) {
                    float[][] out = new float[xs.length][rows];
                    mm.apply(m, xs, null, count, out);
                    for (int k = 0; k < count; k++) {
                        for (int r = 0; r < rows; r++) {
                            assertEquals(Float.floatToIntBits(Dot.row(m, r, xs[k])), Float.floatToIntBits(out[k][r]),
                                    t + " count " + count + " token " + k + " row " + r);
                        }
                    }
                }
                int[] which = {39, 3, 17, 5, 22, 8, 0, 31, 12};
                float[][] out = new float[xs.length][rows];
                mm.apply(m, xs, which, which.length, out);
                for (int k : which) {
                    for (int r = 0; r < rows; r++) {
                        assertEquals(Float.floatToIntBits(Dot.row(m, r, xs[k])), Float.floatToIntBits(out[k][r]), t + " token " + k);
                    }
                }
            }
        }
    }

    /**
     * The Q4_K and Q5_K GEMM at the bound of its float sums: every weight at its largest (15, or 31 with the fifth
     * bit), every scale and minimum 63, every activation integer of magnitude 127, so the sum of each 64 weights
     * converted at once ends near 64 * 63 * 127 times the weight, just below 2^24 for Q5_K, and each half super-block's
     * sum far above it (one weight is one less, so that sums past 2^24 would be odd and round).
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_K", "Q5_K"})
    void shouldKeepKQuantGemmSumsExactAtTheirBound(GgmlType t) {
        int rows = 35;
        int cols = 512;
        MemorySegment data = Arena.ofAuto().allocate(t.bytesFor((long) rows * cols));
        for (long b = 0; b < data.byteSize() / t.blockBytes; b++) {
            long o = b * t.blockBytes;
            data.set(ValueLayout.JAVA_SHORT_UNALIGNED, o, (short) 0x3C00); // d = 1
            data.set(ValueLayout.JAVA_SHORT_UNALIGNED, o + 2, (short) (b % 3 == 0 ? 0x3800 : 0)); // dmin 0.5 or 0
            for (int i = 4; i < t.blockBytes; i++) {
                data.set(ValueLayout.JAVA_BYTE, o + i, (byte) 0xFF); // scales and minimums 63, every weight bit set
            }
            // One weight one less: its chain's sum turns odd, so adding two chains in floats (past 2^24) would round.
            data.set(ValueLayout.JAVA_BYTE, o + t.blockBytes - 128 + 5, (byte) 0xFE);
        }
        WeightMatrix m = WeightMatrix.of(t, data, rows, cols);
        Activation[] xs = new Activation[9];
        for (int k = 0; k < xs.length; k++) {
            float[] v = new float[cols];
            for (int i = 0; i < cols; i++) {
                // Magnitude 127 everywhere, opposite signs in a super-block's halves: the halves' sums (far past 2^24)
                // cancel to a total that converts to float exactly, so an error of one in a half would show.
                v[i] = (i % 256 < 128 ? -1 : 1) * (k % 2 == 0 ? 1.5f : 0.25f);
            }
            xs[k] = new Activation(cols).set(v, 0, cols);
        }
        try (ParallelExecutor e = new ParallelExecutor(2)) {
            float[][] out = new float[xs.length][rows];
            new MatMat(e).apply(m, xs, null, xs.length, out);
            for (int k = 0; k < xs.length; k++) {
                for (int r = 0; r < rows; r++) {
                    assertEquals(Float.floatToIntBits(Dot.row(m, r, xs[k])), Float.floatToIntBits(out[k][r]), "token " + k + " row " + r);
                }
            }
        }
    }

    @Test
    void shouldChooseTheVectorWidthFromTheSetting() {
        int machine = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize();
        assertEquals(Math.min(256, machine), Dot.floatSpecies(null).vectorBitSize());
        assertEquals(Math.min(512, machine), Dot.floatSpecies("512").vectorBitSize());
        assertEquals(Math.min(256, machine), Dot.floatSpecies(" 256 ").vectorBitSize());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Dot.floatSpecies("384"));
        assertTrue(e.getMessage().contains("moed.kernels.bits"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Dot.floatSpecies("wide"));
        String bits = System.getProperty("moed.kernels.bits");
        if (Dot.vectorized()) {
            assertEquals(Dot.floatSpecies(bits).vectorBitSize(), Dot.F.vectorBitSize(), "the kernels use the chosen width");
        }
    }
}
