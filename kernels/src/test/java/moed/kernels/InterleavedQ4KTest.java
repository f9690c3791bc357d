package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Interleaved Q4_K rows: the layout round-trips, and every path over it gives the row-major kernel's bits. */
class InterleavedQ4KTest {
    private static final int COLS = 768;

    private static WeightMatrix randomMatrix(int rows, long seed) {
        MemorySegment data = Arena.ofAuto().allocate(GgmlType.Q4_K.bytesFor((long) rows * COLS));
        KernelBenchmark.fillRandomBlocks(GgmlType.Q4_K, data, new SplittableRandom(seed));
        return WeightMatrix.of(GgmlType.Q4_K, data, rows, COLS);
    }

    private static WeightMatrix interleaved(WeightMatrix m) {
        return InterleavedQ4K.interleave(m, Arena.ofAuto().allocate(m.byteSize()));
    }

    private static Activation[] activations(int count, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Activation[] xs = new Activation[count];
        for (int k = 0; k < count; k++) {
            float[] v = new float[COLS];
            for (int i = 0; i < COLS; i++) {
                v[i] = (float) (rnd.nextGaussian() * (1 + k % 5));
            }
            xs[k] = new Activation(COLS).set(v, 0, COLS);
        }
        return xs;
    }

    @Test
    void shouldGiveEveryRowBackByteForByte() {
        WeightMatrix m = randomMatrix(48, 1);
        WeightMatrix in = interleaved(m);
        assertEquals(m.byteSize(), in.byteSize());
        for (int r = 0; r < m.rows(); r++) {
            MemorySegment row = InterleavedQ4K.row(in, r);
            byte[] expected = m.data().asSlice(r * m.rowBytes(), m.rowBytes()).toArray(ValueLayout.JAVA_BYTE);
            assertArrayEquals(expected, row.asSlice(0, m.rowBytes()).toArray(ValueLayout.JAVA_BYTE), "row " + r);
        }
        float[] a = new float[COLS];
        float[] b = new float[COLS];
        m.dequantizeRow(37, a);
        in.dequantizeRow(37, b);
        assertArrayEquals(a, b);
    }

    /** Interleaved where it lies (a cache slot): the same bytes as an interleaved copy. */
    @Test
    void shouldInterleaveInPlaceAsIntoACopy() {
        WeightMatrix m = randomMatrix(32, 8);
        byte[] expected = interleaved(m).data().toArray(ValueLayout.JAVA_BYTE);
        WeightMatrix in = InterleavedQ4K.inPlace(m);
        if (!InterleavedQ4K.ENABLED || !InterleavedQ4K.worthwhile(GgmlType.Q4_K, 32)) {
            assertEquals(m, in);
            return;
        }
        assertEquals(m.data().address(), in.data().address());
        assertArrayEquals(expected, m.data().toArray(ValueLayout.JAVA_BYTE));
        assertEquals(in, InterleavedQ4K.inPlace(in), "already interleaved: left as it is");
    }

    /** Decode's group kernel and prefill's GEMM over interleaved rows give the row-major per-row kernel's bits. */
    @Test
    void shouldGiveTheRowKernelsBitsForAnyTokenCountAndThreads() {
        WeightMatrix m = randomMatrix(64, 2);
        WeightMatrix in = interleaved(m);
        Activation[] xs = activations(17, 3);
        try (ParallelExecutor e1 = new ParallelExecutor(1); ParallelExecutor e2 = new ParallelExecutor(2)) {
            for (ParallelExecutor e : new ParallelExecutor[] {e1, e2}) {
                MatMat mm = new MatMat(e);
                for (int count : new int[] {1, 2, 3, 4, 5, 8, 9, 17}) {
                    float[][] out = new float[xs.length][m.rows()];
                    mm.apply(in, xs, null, count, out);
                    for (int k = 0; k < count; k++) {
                        for (int r = 0; r < m.rows(); r++) {
                            assertEquals(Float.floatToIntBits(Dot.row(m, r, xs[k])), Float.floatToIntBits(out[k][r]),
                                    "count " + count + " token " + k + " row " + r);
                        }
                    }
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

    /** An expert's slice of an interleaved stacked tensor is the interleaved slice; a slice splitting a group is refused. */
    @Test
    void shouldSliceWholeGroupsOnly() {
        WeightMatrix m = randomMatrix(64, 4);
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
        assertThrows(IllegalArgumentException.class, () -> interleaved(randomMatrix(40, 6)));
    }

    /**
     * At the bound of the float sums: every nibble 15, every scale and minimum 63, activations of largest magnitude
     * whose halves cancel (so an error of one in any sub-block sum shows).
     */
    @Test
    void shouldStayExactAtTheLargestWeightsAndScales() {
        WeightMatrix m = randomMatrix(32, 7);
        MemorySegment s = m.data();
        for (long bo = 0; bo < m.byteSize(); bo += 144) {
            for (int i = 4; i < 16; i++) {
                s.set(ValueLayout.JAVA_BYTE, bo + i, (byte) 0xFF); // scales and minimums all 63
            }
            for (int i = 16; i < 144; i++) {
                s.set(ValueLayout.JAVA_BYTE, bo + i, (byte) 0xFF);
            }
        }
        // One weight of row 5 one less: its row's sum must differ by exactly that.
        s.set(ValueLayout.JAVA_BYTE, 5 * m.rowBytes() + 16 + 3, (byte) 0xFE);
        float[] v = new float[COLS];
        for (int i = 0; i < COLS; i++) {
            v[i] = (i % 64 < 32) ? 100f : -99.2f;
        }
        Activation a = new Activation(COLS).set(v, 0, COLS);
        WeightMatrix in = interleaved(m);
        try (ParallelExecutor e = new ParallelExecutor(1)) {
            float[][] out = new float[1][m.rows()];
            new MatMat(e).apply(in, new Activation[] {a}, null, 1, out);
            for (int r = 0; r < m.rows(); r++) {
                assertEquals(Float.floatToIntBits(Dot.row(m, r, a)), Float.floatToIntBits(out[0][r]), "row " + r);
            }
        }
    }
}
