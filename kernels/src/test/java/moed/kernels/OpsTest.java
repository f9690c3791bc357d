package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class OpsTest {
    @Test
    void shouldPickTopKLargestFirstAndLowerIndexOnTies() {
        float[] x = {0.1f, 0.5f, 0.3f, 0.5f, 0.2f};
        int[] idx = new int[3];
        Ops.topK(x, 5, 3, idx);
        assertArrayEquals(new int[] {1, 3, 2}, idx);
    }

    @Test
    void shouldNormalizeSoftmax() {
        float[] x = {1f, 2f, 3f};
        Ops.softmax(x, 0, 3);
        assertEquals(1f, x[0] + x[1] + x[2], 1e-6f);
        assertEquals(Math.exp(1) / (Math.exp(1) + Math.exp(2) + Math.exp(3)), x[0], 1e-6);
    }

    @Test
    void shouldRotateAdjacentPairsOrHalvesByPositionTimesFrequency() {
        // One head of 4: pair frequencies 1 and base^(-1/2) = 0.01 for base 10000.
        float[] a = {1, 0, 1, 0};
        Ops.rope(a, 0, 1, 4, 4, 2, 10000f, 1f, false, new float[6]);
        assertEquals(Math.cos(2), a[0], 1e-6);
        assertEquals(Math.sin(2), a[1], 1e-6);
        assertEquals(Math.cos(0.02), a[2], 1e-6);
        assertEquals(Math.sin(0.02), a[3], 1e-6);
        float[] b = {1, 1, 0, 0};
        Ops.rope(b, 0, 1, 4, 4, 2, 10000f, 1f, true, new float[6]);
        assertEquals(Math.cos(2), b[0], 1e-6);
        assertEquals(Math.sin(2), b[2], 1e-6);
        assertEquals(Math.cos(0.02), b[1], 1e-6);
        assertEquals(Math.sin(0.02), b[3], 1e-6);
    }

    @Test
    void shouldRmsNormalize() {
        float[] x = {3, 4};
        float[] out = new float[2];
        Ops.rmsNorm(out, 0, x, 0, new float[] {1, 2}, 2, 0f);
        double rms = Math.sqrt((9 + 16) / 2.0);
        assertEquals(3 / rms, out[0], 1e-6);
        assertEquals(8 / rms, out[1], 1e-6);
    }

    @Test
    void shouldAttendCausallyWithGroupedHeads() {
        // 2 query heads share 1 kv head of size 2; two positions; equal scores give the mean of the values.
        float[] q = {0, 0, 0, 0};
        short[] k = halves(1, 0, 0, 1);
        short[] v = halves(2, 4, 6, 8);
        float[] out = new float[4];
        Attention.attend(q, 0, k, v, 2, 2, 1, 2, 1f, out, 0);
        assertArrayEquals(new float[] {4, 6, 4, 6}, out, 1e-3f);
        Attention.attend(q, 0, k, v, 1, 2, 1, 2, 1f, out, 0);
        assertArrayEquals(new float[] {2, 4, 2, 4}, out, 1e-3f);
    }

    static short[] halves(float... x) {
        short[] h = new short[x.length];
        for (int i = 0; i < x.length; i++) {
            h[i] = Float.floatToFloat16(x[i]);
        }
        return h;
    }
}
