package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * The kernels give the same bits at 256 and 512 bits, so greedy tokens do not depend on the vector width. A JVM has
 * one width ({@link Dot#floatSpecies}), so this test computes every format's dot products and attention outputs
 * here, runs {@link #main} in a second JVM at the other width, and compares the two bit for bit. Needs a machine
 * with 512-bit vectors (on others there is only one width to run).
 */
class WidthInvarianceTest {

    @Test
    void shouldGiveTheSameBitsAtEveryVectorWidth() throws Exception {
        assumeTrue(FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512 && Dot.vectorized(),
                "this machine has one vector width only");
        int other = Dot.F.vectorBitSize() == 512 ? 256 : 512;
        List<String> here = results();
        List<String> there = SecondJvm.output(WidthInvarianceTest.class, "-D" + KernelWidth.PROPERTY + "=" + other);
        assertEquals(here.size(), there.size(), "cases computed at " + Dot.F.vectorBitSize() + " and " + other + " bits");
        for (int i = 0; i < here.size(); i++) {
            assertEquals(here.get(i), there.get(i), "at " + Dot.F.vectorBitSize() + " bits (first) and at " + other);
        }
    }

    /** Prints {@link #results} at this JVM's width, one case per line. */
    public static void main(String[] args) {
        results().forEach(System.out::println);
    }

    /** Every vectorized format's row dots (lengths with and without tails), then attention with several head sizes. */
    static List<String> results() {
        List<String> lines = new ArrayList<>();
        for (GgmlType t : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0,
                GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.IQ4_NL, GgmlType.MXFP4, GgmlType.Q4_K,
                GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.IQ2_XXS, GgmlType.IQ2_XS, GgmlType.IQ2_S,
                GgmlType.IQ3_XXS, GgmlType.IQ3_S, GgmlType.IQ1_S, GgmlType.IQ1_M, GgmlType.IQ4_XS}) {
            int[] lengths = t.blockSize == 1 ? new int[] {8, 40, 1000} : t.blockSize == 32 ? new int[] {32, 96, 1024}
                    : new int[] {256, 1024};
            SplittableRandom r = new SplittableRandom(t.id);
            for (int n : lengths) {
                int rows = 6;
                MemorySegment data = Arena.ofAuto().allocate(t.bytesFor((long) n * rows));
                KernelBenchmark.fillRandomBlocks(t, data, r);
                WeightMatrix m = WeightMatrix.of(t, data, rows, n);
                Activation a = new Activation(n).set(gaussian(r, n), 0, n);
                a.prepareFor(t);
                StringBuilder line = new StringBuilder(t + " n=" + n + ":");
                for (int row = 0; row < rows; row++) {
                    line.append(' ').append(Integer.toHexString(Float.floatToRawIntBits(Dot.row(m, row, a))));
                }
                float[] four = new float[4];
                Activation[] more = {a, new Activation(n).set(gaussian(r, n), 0, n), a, a};
                more[1].prepareFor(t);
                Dot.row4(m, 0, more[0], more[1], more[2], more[3], four);
                for (float f : four) {
                    line.append(' ').append(Integer.toHexString(Float.floatToRawIntBits(f)));
                }
                lines.add(line.toString());
            }
        }
        for (int headDim : new int[] {64, 72, 128}) {
            SplittableRandom r = new SplittableRandom(headDim);
            int heads = 8;
            int kvHeads = 2;
            int positions = 300;
            float[] q = gaussian(r, heads * headDim);
            short[] k = OpsTest.halves(gaussian(r, positions * kvHeads * headDim));
            short[] v = OpsTest.halves(gaussian(r, positions * kvHeads * headDim));
            float[] out = new float[heads * headDim];
            Attention.attend(q, 0, k, v, positions, heads, kvHeads, headDim, 0.125f, out, 0);
            StringBuilder line = new StringBuilder("attention headDim=" + headDim + ":");
            for (float f : out) {
                line.append(' ').append(Integer.toHexString(Float.floatToRawIntBits(f)));
            }
            lines.add(line.toString());
        }
        return lines;
    }

    private static float[] gaussian(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }
}
