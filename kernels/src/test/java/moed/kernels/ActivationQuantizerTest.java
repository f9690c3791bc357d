package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The activation quantizers at this JVM's width (they run vectorized wherever the kernels do) against their scalar
 * definitions, bit for bit, on the inputs where the two could part: ties of the largest magnitude with either sign,
 * values that round at exactly one half, all-zero blocks, and blocks holding NaN or an infinity.
 */
class ActivationQuantizerTest {
    private static final int N = 4 * 256;

    /** Gaussian values, then one block of each special kind. */
    private static float[] activation(long seed) {
        Random r = new Random(seed);
        float[] x = new float[N];
        for (int i = 0; i < N; i++) {
            x[i] = (float) r.nextGaussian() * (i < 256 ? 1f : 40f);
        }
        // Block 1: the largest magnitude twice, negative first (the scale takes the first one's sign), and values
        // that the scale -127 / -127 = 1 rounds at exactly one half (rint rounds them to even).
        java.util.Arrays.fill(x, 256, 512, 0.5f);
        x[300] = -127f;
        x[400] = 127f;
        for (int i = 0; i < 32; i++) {
            x[260 + i] = i - 15.5f;
        }
        // Block 2: zeros (a zero scale, zero integers); block 3: a NaN and an infinity among ordinary values.
        java.util.Arrays.fill(x, 512, 768, 0f);
        x[800] = Float.NaN;
        x[900] = Float.NEGATIVE_INFINITY;
        return x;
    }

    @Test
    void q8kMatchesItsScalarDefinition() {
        for (long seed = 1; seed <= 5; seed++) {
            float[] x = activation(seed);
            short[] q = new short[N];
            float[] scale = new float[N / 256];
            short[] sum16 = new short[N / 16];
            float[] sum32 = new float[N / 32];
            ActivationQuantizer.q8k(x, N, q, scale, sum16, sum32);
            short[] qRef = new short[N];
            float[] scaleRef = new float[N / 256];
            short[] sum16Ref = new short[N / 16];
            for (int b = 0; b < N / 256; b++) {
                ActivationQuantizer.q8kBlockScalar(x, b, qRef, scaleRef, sum16Ref);
            }
            assertArrayEquals(qRef, q, "integers, seed " + seed);
            assertArrayEquals(scaleRef, scale, "scales, seed " + seed);
            assertArrayEquals(sum16Ref, sum16, "sums of 16, seed " + seed);
            for (int g = 0; g < N / 32; g++) {
                assertEquals(sum16Ref[2 * g] + sum16Ref[2 * g + 1], sum32[g], "sum of 32 #" + g);
            }
        }
    }

    @Test
    void q8kKeepsTheFirstLargestMagnitudeAndRoundsHalvesToEven() {
        float[] x = activation(7);
        short[] q = new short[N];
        ActivationQuantizer.q8k(x, N, q, new float[N / 256], new short[N / 16], new float[N / 32]);
        // The first largest is -127: the scale -127 / -127 = 1 keeps every value (the later +127 would have flipped them).
        assertEquals(-127, q[300]);
        assertEquals(127, q[400]);
        assertEquals(-16, q[260], "-15.5 rounds to even, -16");
        assertEquals(-14, q[261], "-14.5 rounds to even, -14");
        assertEquals(0, q[256], "0.5 rounds to even, 0");
    }

    @Test
    void q8_0MatchesItsScalarDefinition() {
        for (long seed = 1; seed <= 5; seed++) {
            float[] x = activation(seed);
            short[] q = new short[N];
            float[] scale = new float[N / 32];
            float[] sums = new float[N / 32];
            ActivationQuantizer.q8_0(x, N, q, scale, sums);
            short[] qRef = new short[N];
            float[] scaleRef = new float[N / 32];
            float[] sumsRef = new float[N / 32];
            for (int b = 0; b < N / 32; b++) {
                ActivationQuantizer.q8_0BlockScalar(x, b, qRef, scaleRef, sumsRef);
            }
            assertArrayEquals(qRef, q, "integers, seed " + seed);
            assertArrayEquals(scaleRef, scale, "scales, seed " + seed);
            assertArrayEquals(sumsRef, sums, "sums, seed " + seed);
        }
    }

    @Test
    void mainlineQ8_0RoundsHalvesAwayFromZeroWithAnF16Scale() {
        float[] x = new float[32];
        x[0] = 127f; // amax 127: d = 1, so the integers are the values rounded
        x[1] = 2.5f;
        x[2] = -2.5f;
        x[3] = 3.4f;
        short[] q = new short[32];
        float[] scale = new float[1];
        float[] sums = new float[1];
        ActivationQuantizer.q8_0Mainline(x, 32, q, scale, sums);
        assertEquals(1f, scale[0]);
        assertEquals(127, q[0]);
        assertEquals(3, q[1], "2.5 rounds away from zero (ik's form rounds it to even, 2)");
        assertEquals(-3, q[2]);
        assertEquals(3, q[3]);
        assertEquals(127 + 3 - 3 + 3, sums[0]);
        x[0] = 254f; // d = 2, kept as the nearest half
        ActivationQuantizer.q8_0Mainline(x, 32, q, scale, sums);
        assertEquals(2f, scale[0]);
        assertEquals(1, q[1], "2.5 / 2 = 1.25");
    }

    @Test
    void pairsHoldTheIntegersTheInterleavedKernelsMultiplyTogether() {
        short[] q = new short[N];
        Random r = new Random(3);
        for (int i = 0; i < N; i++) {
            q[i] = (short) (r.nextInt(255) - 127);
        }
        int[] pairs = new int[N / 2];
        ActivationQuantizer.q8kPairs(q, N, pairs);
        for (int k = 0; k < N; k += 4) {
            assertEquals((q[k] & 0xFFFF) | q[k + 2] << 16, pairs[k / 2], "pair (k, k + 2) at " + k);
            assertEquals((q[k + 1] & 0xFFFF) | q[k + 3] << 16, pairs[k / 2 + 1], "pair (k + 1, k + 3) at " + k);
        }
        ActivationQuantizer.q8_0Pairs(q, N, pairs);
        for (int b = 0; b < N / 32; b++) {
            for (int i = 0; i < 8; i++) {
                int k = 32 * b + 2 * i;
                assertEquals((q[k] & 0xFFFF) | q[k + 16] << 16, pairs[16 * b + 2 * i], "Q8_0 pair at " + k);
                assertEquals((q[k + 1] & 0xFFFF) | q[k + 17] << 16, pairs[16 * b + 2 * i + 1], "Q8_0 pair at " + (k + 1));
            }
        }
    }
}
