package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Q8_0: block_q8_0 { half d; int8 qs[32]; }, w = d * q. Dotted against Q8_0 activations. */
final class Q8_0Format extends BlockFormat {
    Q8_0Format() {
        super(GgmlType.Q8_0, 32, 34, Activation.Form.Q8_0, WRITTEN);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return Block32Dots.q8_0(s, off, a, n / 32);
    }

    /**
     * At 512 bits Q8_0 matrices are interleaved ({@link Interleaved}), and their kernel beats the per-row kernel at
     * 256 bits: a Mixtral-shaped Q8_0 MoE decoded 14.0-14.3 tokens/s at 256 bits against 17.6-17.9 at 512, prefill
     * 20-21 against 27-31. Without interleaving the per-row kernel is the faster at 256.
     */
    @Override
    boolean fasterAt512() {
        return Interleaved.ENABLED;
    }

    @Override
    void dotPair(MemorySegment s, long off0, long off1, Activation a, int n, float[] out) {
        Block32Dots.q8_0Pair(s, off0, off1, a, n / 32, out);
    }

    @Override
    boolean hasPaired() {
        return true;
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        for (int j = 0; j < 32; j++) {
            y[o + j] = Bytes.i8(s, bo + 2 + j) * d;
        }
    }

    // quantize_row_q8_0_ref: d = amax/127, q = round(x/d) (roundf: half away from zero).
    @Override
    void quantizeBlock(float[] x, int xo, MemorySegment dst, long bo) {
        float amax = 0;
        for (int j = 0; j < 32; j++) {
            amax = Math.max(amax, Math.abs(x[xo + j]));
        }
        float d = amax / 127f;
        float id = d != 0 ? 1f / d : 0f;
        dst.set(Bytes.LE_SHORT, bo, Float.floatToFloat16(d));
        for (int j = 0; j < 32; j++) {
            dst.set(ValueLayout.JAVA_BYTE, bo + 2 + j, (byte) Quantize.roundf(x[xo + j] * id));
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
    }
}
