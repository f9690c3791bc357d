package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HeadProjectionsTest {

    /** Every head's projection, batched or head by head, equals one MatMat call per head, bit for bit. */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 9})
    void shouldEqualOneCallPerHead(int tokens) {
        int nHeads = 5;
        int rows = 24;
        int cols = 64;
        int inStride = 80;
        int outStride = 30;
        SplittableRandom r = new SplittableRandom(tokens);
        WeightMatrix[] ms = new WeightMatrix[nHeads];
        for (int h = 0; h < nHeads; h++) {
            MemorySegment data = Arena.ofAuto().allocate(GgmlType.Q8_0.bytesFor((long) rows * cols));
            KernelBenchmark.fillRandomBlocks(GgmlType.Q8_0, data, r);
            ms[h] = WeightMatrix.of(GgmlType.Q8_0, data, rows, cols);
        }
        float[][] in = new float[tokens][nHeads * inStride];
        for (float[] v : in) {
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) r.nextGaussian();
            }
        }
        try (ParallelExecutor ex = new ParallelExecutor(2)) {
            MatMat mm = new MatMat(ex);
            float[][] out = new float[tokens][nHeads * outStride];
            new HeadProjections(mm).apply(ms, in, 3, inStride, tokens, out, outStride);
            for (int h = 0; h < nHeads; h++) {
                Activation[] a = new Activation[tokens];
                for (int t = 0; t < tokens; t++) {
                    a[t] = new Activation(cols).set(in[t], 3 + h * inStride, cols);
                }
                float[][] one = new float[tokens][rows];
                mm.apply(ms[h], a, null, tokens, one);
                for (int t = 0; t < tokens; t++) {
                    for (int row = 0; row < rows; row++) {
                        assertEquals(Float.floatToRawIntBits(one[t][row]), Float.floatToRawIntBits(out[t][h * outStride + row]),
                                "head " + h + " token " + t + " row " + row);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {32, 64})
    void shouldRefuseHeadsOfDifferentShapes(int otherCols) {
        WeightMatrix a = WeightMatrix.of(GgmlType.F32, Arena.ofAuto().allocate(4L * 4 * 32), 4, 32);
        WeightMatrix b = WeightMatrix.of(GgmlType.F32, Arena.ofAuto().allocate(4L * 5 * otherCols), 5, otherCols);
        try (ParallelExecutor ex = new ParallelExecutor(1)) {
            assertThrows(IllegalArgumentException.class, () -> new HeadProjections(new MatMat(ex))
                    .apply(new WeightMatrix[] {a, b}, new float[1][128], 0, 32, 1, new float[1][16], 8));
        }
    }
}
