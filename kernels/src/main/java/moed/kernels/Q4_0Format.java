package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * Q4_0: block_q4_0 { half d; uint8 qs[16]; }: low nibbles are weights 0..15, high nibbles 16..31, w = d * (q - 8).
 * Dotted against Q8_0 activations.
 */
final class Q4_0Format extends BlockFormat {
    Q4_0Format() {
        super(GgmlType.Q4_0, 32, 18, Activation.Form.Q8_0, WRITTEN);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return Block32Dots.q4_0(s, off, a, n / 32);
    }

    /**
     * At 512 bits its interleaved kernel ({@link InterleavedQ4_0}) reads sixteen rows a vector: two threads, 200
     * expert-shaped matrices, 13.0 GB/s against 7.8 at 256 bits. Row by row the 256-bit kernel is the faster.
     */
    @Override
    boolean fasterAt512() {
        return Interleaved.ENABLED;
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(s, bo + 2 + j);
            y[o + j] = ((q & 0xF) - 8) * d;
            y[o + j + 16] = ((q >>> 4) - 8) * d;
        }
    }

    // quantize_row_q4_0_ref: the signed value of largest magnitude maps to -8.
    @Override
    void quantizeBlock(float[] x, int xo, MemorySegment dst, long bo) {
        float amax = 0;
        float max = 0;
        for (int j = 0; j < 32; j++) {
            float v = x[xo + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8;
        float id = d != 0 ? 1f / d : 0f;
        dst.set(Bytes.LE_SHORT, bo, Float.floatToFloat16(d));
        for (int j = 0; j < 16; j++) {
            // (int8_t)(x*id + 8.5f) truncates toward zero, as the C cast does.
            int x0 = Math.min(15, (byte) (int) (x[xo + j] * id + 8.5f));
            int x1 = Math.min(15, (byte) (int) (x[xo + 16 + j] * id + 8.5f));
            dst.set(ValueLayout.JAVA_BYTE, bo + 2 + j, (byte) (x0 | (x1 << 4)));
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
    }
}
