package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Attention over an F16 cache against a plain definition in doubles (F16 query and probabilities as llama.cpp's
 * non-flash path rounds them), over several tiles of positions, grouped-query heads, sliding windows and sinks; and
 * the heads split across threads giving exactly the single-threaded result.
 */
class AttentionTest {

    @ParameterizedTest
    @CsvSource({"64, 8, 2, 0, 300, false", "72, 4, 4, 0, 129, false", "128, 8, 1, 37, 260, true", "16, 2, 1, 0, 1, false"})
    void shouldMatchTheDefinition(int headDim, int heads, int kvHeads, int from, int positions, boolean sinks) {
        SplittableRandom r = new SplittableRandom(headDim * 31L + positions);
        int kvDim = kvHeads * headDim;
        float[] q = gaussian(r, heads * headDim);
        short[] k = OpsTest.halves(gaussian(r, positions * kvDim));
        short[] v = OpsTest.halves(gaussian(r, positions * kvDim));
        float[] sink = sinks ? gaussian(r, heads) : null;
        float scale = (float) (1 / Math.sqrt(headDim));
        float[] out = new float[heads * headDim];
        Attention.attend(q, 0, k, v, from, positions, heads, kvHeads, headDim, scale, sink, out, 0);
        for (int h = 0; h < heads; h++) {
            int g = h / (heads / kvHeads);
            double[] p = new double[positions];
            double max = sinks ? sink[h] : Double.NEGATIVE_INFINITY;
            for (int t = from; t < positions; t++) {
                double s = 0;
                for (int i = 0; i < headDim; i++) {
                    s += Bytes.roundToF16(q[h * headDim + i]) * (double) Float.float16ToFloat(k[(g * positions + t) * headDim + i]);
                }
                p[t] = s * scale;
                max = Math.max(max, p[t]);
            }
            double sum = sinks ? Math.exp(sink[h] - max) : 0;
            for (int t = from; t < positions; t++) {
                p[t] = Math.exp(p[t] - max);
                sum += p[t];
            }
            for (int i = 0; i < headDim; i++) {
                double o = 0;
                double mag = 0;
                for (int t = from; t < positions; t++) {
                    double term = Bytes.roundToF16((float) (p[t] / sum)) * (double) Float.float16ToFloat(v[(g * positions + t) * headDim + i]);
                    o += term;
                    mag += Math.abs(term);
                }
                assertEquals(o, out[h * headDim + i], 1e-3 * mag + 1e-5, "head " + h + " dim " + i);
            }
        }
        float[] threaded = new float[heads * headDim];
        try (ParallelExecutor ex = new ParallelExecutor(2)) {
            new Attention(ex).attendHeads(q, 0, k, v, from, positions, heads, kvHeads, headDim, scale, sink, threaded, 0);
        }
        for (int i = 0; i < out.length; i++) {
            assertEquals(Float.floatToRawIntBits(out[i]), Float.floatToRawIntBits(threaded[i]), "value " + i + " threaded");
        }
    }

    /** A position's kv heads land where attend reads them: head g's values at (g * capacity + pos) * headDim. */
    @org.junit.jupiter.api.Test
    void shouldStorePositionsInTheLayoutAttendReads() {
        int kvHeads = 3;
        int headDim = 8;
        int capacity = 5;
        SplittableRandom r = new SplittableRandom(5);
        short[] cache = new short[capacity * kvHeads * headDim];
        float[][] rows = new float[capacity][];
        for (int pos = 0; pos < capacity; pos++) {
            rows[pos] = gaussian(r, 2 + kvHeads * headDim);
            Attention.store(cache, kvHeads, headDim, pos, rows[pos], 2);
        }
        for (int pos = 0; pos < capacity; pos++) {
            for (int g = 0; g < kvHeads; g++) {
                for (int i = 0; i < headDim; i++) {
                    assertEquals(Float.floatToFloat16(rows[pos][2 + g * headDim + i]), cache[(g * capacity + pos) * headDim + i],
                            "position " + pos + " head " + g + " value " + i);
                }
            }
        }
    }

    private static float[] gaussian(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }
}
