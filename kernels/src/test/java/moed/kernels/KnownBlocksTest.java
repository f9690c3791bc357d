package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** Hand-built blocks whose values follow from ggml's block layouts, decoded by the reference dequantizers. */
class KnownBlocksTest {
    private static MemorySegment block(int... bytes) {
        MemorySegment s = Arena.ofAuto().allocate(bytes.length);
        for (int i = 0; i < bytes.length; i++) {
            s.set(ValueLayout.JAVA_BYTE, i, (byte) bytes[i]);
        }
        return s;
    }

    private static int[] half(float v) {
        short h = Float.floatToFloat16(v);
        return new int[] {h & 0xFF, (h >> 8) & 0xFF};
    }

    private static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) {
            n += p.length;
        }
        int[] r = new int[n];
        int o = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, r, o, p.length);
            o += p.length;
        }
        return r;
    }

    private static int[] fill(int n, java.util.function.IntUnaryOperator f) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) {
            r[i] = f.applyAsInt(i);
        }
        return r;
    }

    @Test
    void shouldDecodeQ8_0AsScaleTimesSignedBytes() {
        MemorySegment s = block(concat(half(0.5f), fill(32, i -> i - 16)));
        float[] y = new float[32];
        Dequantize.row(GgmlType.Q8_0, s, 0, y, 0, 32);
        for (int i = 0; i < 32; i++) {
            assertEquals((i - 16) * 0.5f, y[i]);
        }
    }

    @Test
    void shouldDecodeQ4_0LowNibblesFirstThenHighNibblesOffsetByEight() {
        // byte j = (hi << 4) | lo with lo = j, hi = 15 - j: weights j -> (j - 8) * d, j + 16 -> (7 - j) * d.
        MemorySegment s = block(concat(half(2f), fill(16, j -> ((15 - j) << 4) | j)));
        float[] y = new float[32];
        Dequantize.row(GgmlType.Q4_0, s, 0, y, 0, 32);
        for (int j = 0; j < 16; j++) {
            assertEquals((j - 8) * 2f, y[j]);
            assertEquals((7 - j) * 2f, y[j + 16]);
        }
    }

    @Test
    void shouldTakeQ5_0FifthBitFromQh() {
        // qh bit j set for j = 0 and j = 16: weight 0 = (0 | 16) - 16 = 0, weight 16 = (0 | 16) - 16 = 0; others -16.
        int qh = 1 | (1 << 16);
        MemorySegment s = block(concat(half(1f), new int[] {qh & 0xFF, (qh >> 8) & 0xFF, (qh >> 16) & 0xFF, qh >>> 24}, fill(16, j -> 0)));
        float[] y = new float[32];
        Dequantize.row(GgmlType.Q5_0, s, 0, y, 0, 32);
        assertEquals(0f, y[0]);
        assertEquals(0f, y[16]);
        assertEquals(-16f, y[1]);
        assertEquals(-16f, y[17]);
    }

    @Test
    void shouldApplyQ4_KSixBitScalesAndMins() {
        // d = 1, dmin = 0.5; sub-block 0: scale 2, min 4; sub-block 1: scale 3, min 1; others 0.
        int[] scales = new int[12];
        scales[0] = 2;
        scales[1] = 3;
        scales[4] = 4;
        scales[5] = 1;
        MemorySegment s = block(concat(half(1f), half(0.5f), scales, fill(128, i -> i < 32 ? 0x51 : 0)));
        float[] y = new float[256];
        Dequantize.row(GgmlType.Q4_K, s, 0, y, 0, 256);
        assertEquals(1 * 2 * 1 - 0.5f * 4, y[0]);      // low nibble 1 in sub-block 0
        assertEquals(1 * 3 * 5 - 0.5f * 1, y[32]);     // high nibble 5 in sub-block 1
        assertEquals(0f, y[64]);
    }

    @Test
    void shouldDecodeQ4_KUpperScalesPackedInHighBits() {
        // j = 4: scale = (q[8] & 0xF) | ((q[0] >> 6) << 4), min = (q[8] >> 4) | ((q[4] >> 6) << 4).
        int[] scales = new int[12];
        scales[0] = 0x40;  // scale 0 = 0, high bits 01 -> scale 4 gets +16
        scales[4] = 0x80;  // min 0 = 0, high bits 10 -> min 4 gets +32
        scales[8] = 0x23;  // scale 4 low = 3, min 4 low = 2
        MemorySegment s = block(concat(half(1f), half(1f), scales, fill(128, i -> 0x11)));
        float[] y = new float[256];
        Dequantize.row(GgmlType.Q4_K, s, 0, y, 0, 256);
        // element 128 is sub-block 4 (low nibbles of bytes 64..95): 19 * 1 - 34.
        assertEquals(19f - 34f, y[128]);
    }

    @Test
    void shouldDecodeQ6_KWithSignedScalesAndOffset32() {
        int[] ql = fill(128, i -> 0);
        int[] qh = fill(64, i -> 0);
        int[] sc = fill(16, i -> i == 0 ? -2 & 0xFF : 1);
        MemorySegment s = block(concat(ql, qh, sc, half(0.25f)));
        float[] y = new float[256];
        Dequantize.row(GgmlType.Q6_K, s, 0, y, 0, 256);
        assertEquals(0.25f * -2 * -32, y[0]);
        assertEquals(0.25f * 1 * -32, y[16]);
    }

    @Test
    void shouldMapIq4NlAndMxfp4ThroughTheirTables() {
        MemorySegment s = block(concat(half(1f), fill(16, j -> 0xF0)));
        float[] y = new float[32];
        Dequantize.row(GgmlType.IQ4_NL, s, 0, y, 0, 32);
        assertEquals(-127f, y[0]);
        assertEquals(113f, y[16]);
        // MXFP4: e = 128 -> 2^(1) / 2 = 1; nibble 7 -> 12 (doubled 6.0), nibble 9 -> -1.
        MemorySegment m = block(concat(new int[] {128}, fill(16, j -> 0x97)));
        Dequantize.row(GgmlType.MXFP4, m, 0, y, 0, 32);
        assertEquals(12f, y[0]);
        assertEquals(-1f, y[16]);
    }

    @Test
    void shouldRoundTripBf16AndF16() {
        MemorySegment s = Arena.ofAuto().allocate(8);
        Quantize.row(GgmlType.BF16, new float[] {1.5f, -2.25f}, 0, 2, s, 0);
        float[] y = new float[2];
        Dequantize.row(GgmlType.BF16, s, 0, y, 0, 2);
        assertArrayEquals(new float[] {1.5f, -2.25f}, y);
        Quantize.row(GgmlType.F16, new float[] {0.099975586f, 65504f}, 0, 2, s, 0);
        Dequantize.row(GgmlType.F16, s, 0, y, 0, 2);
        assertArrayEquals(new float[] {0.099975586f, 65504f}, y);
    }

    @Test
    void shouldKnowEveryTypeById() {
        assertEquals(GgmlType.Q4_K, GgmlType.byId(12));
        assertEquals(GgmlType.MXFP4, GgmlType.byId(39));
        assertEquals(GgmlType.BF16, GgmlType.byId(30));
        assertEquals(null, GgmlType.byId(4));
        assertEquals(144, GgmlType.Q4_K.blockBytes);
        assertEquals(210, GgmlType.Q6_K.blockBytes);
        assertEquals(292, GgmlType.Q8_K.blockBytes);
    }

    @Test
    void packedQ4kScalesDecodeLikeTheByteReader() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(8);
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment m = arena.allocate(12);
            for (int n = 0; n < 2000; n++) {
                for (int i = 0; i < 12; i++) {
                    m.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(256));
                }
                long lo = m.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0);
                int hi = m.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 8);
                long scales = KQuantDots.scalesK4(lo, hi);
                long mins = KQuantDots.minsK4(lo, hi);
                for (int j = 0; j < 8; j++) {
                    org.junit.jupiter.api.Assertions.assertEquals(Dequantize.scaleMinK4(m, 0, j, false), (int) (scales >>> (8 * j)) & 0xFF);
                    org.junit.jupiter.api.Assertions.assertEquals(Dequantize.scaleMinK4(m, 0, j, true), (int) (mins >>> (8 * j)) & 0xFF);
                }
            }
        }
    }
}
