package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/** dequantize(quantize(x)) stays within each format's expected error; simple cases give exact bytes. */
class QuantizeTest {
    /** Relative RMS error bound per format on Gaussian data (ggml's own round-trip tests use similar limits). */
    static double bound(GgmlType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1e-3;
            case BF16 -> 5e-3;
            case Q8_0 -> 0.01;
            case Q6_K -> 0.04;
            case Q4_0 -> 0.15;
            case Q4_K -> 0.12;
            default -> throw new AssertionError(t);
        };
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void shouldRoundTripWithinTheFormatsError(GgmlType t) {
        int n = 4096;
        SplittableRandom r = new SplittableRandom(11);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        MemorySegment s = Arena.ofAuto().allocate(t.bytesFor(n));
        assertEquals(t.bytesFor(n), Quantize.row(t, x, 0, n, s, 0));
        float[] y = new float[n];
        Dequantize.row(t, s, 0, y, 0, n);
        double err = 0;
        double ref = 0;
        for (int i = 0; i < n; i++) {
            err += (x[i] - y[i]) * (x[i] - y[i]);
            ref += x[i] * x[i];
        }
        double rel = Math.sqrt(err / ref);
        assertTrue(rel <= bound(t), t + " relative RMS error " + rel + " exceeds " + bound(t));
    }

    @Test
    void shouldQuantizeQ8_0LikeLlamaCpp() {
        // amax 127 gives d = 1 exactly: the quants are the values, rounded half away from zero.
        float[] x = new float[32];
        x[0] = 127f;
        x[1] = -2.5f;
        x[2] = 2.5f;
        x[3] = 0.49f;
        MemorySegment s = Arena.ofAuto().allocate(34);
        Quantize.row(GgmlType.Q8_0, x, 0, 32, s, 0);
        assertEquals(Float.floatToFloat16(1f), s.get(Bytes.LE_SHORT, 0));
        assertArrayEquals(new byte[] {127, -3, 3, 0}, s.asSlice(2, 4).toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void shouldQuantizeQ4_0WithLargestMagnitudeAtMinusEight() {
        // max-magnitude value -8 gives d = 1; x + 8.5 truncated: -8 -> 0, 0 -> 8, 3.4 -> 11, 7 -> 15.
        float[] x = new float[32];
        x[0] = -8f;
        x[1] = 3.4f;
        x[16] = 7f;
        MemorySegment s = Arena.ofAuto().allocate(18);
        Quantize.row(GgmlType.Q4_0, x, 0, 32, s, 0);
        assertEquals(Float.floatToFloat16(1f), s.get(Bytes.LE_SHORT, 0));
        assertEquals((15 << 4) | 0, Bytes.u8(s, 2));
        assertEquals((8 << 4) | 11, Bytes.u8(s, 3));
    }

    @Test
    void shouldWriteZeroBlocksForZeroInput() {
        for (GgmlType t : new GgmlType[] {GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.Q6_K}) {
            MemorySegment s = Arena.ofAuto().allocate(t.bytesFor(256));
            Quantize.row(t, new float[256], 0, 256, s, 0);
            float[] y = new float[256];
            Dequantize.row(t, s, 0, y, 0, 256);
            for (float v : y) {
                assertEquals(0f, v, 0f, t.name());
            }
        }
    }
}
