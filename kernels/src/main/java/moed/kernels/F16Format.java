package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * F16: IEEE halves. Dotted against activations rounded to F16 (ggml_vec_dot_f16 with f32 accumulation), and the one
 * format whose {@link #row4} is tiled: four tokens share each widened block of the row.
 */
final class F16Format extends BlockFormat {
    F16Format() {
        super(GgmlType.F16, 1, 2, Activation.Form.F16);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return Dot.f16(s, off, a.f16, n);
    }

    /** The integer kernels' widening is two instructions a block, so only F16 gains from a four-token version. */
    @Override
    boolean hasTiled() {
        return Dot.VECTOR && (Dot.L == 8 || Dot.L == 16);
    }

    @Override
    void row4(MemorySegment s, long off, int n, Activation a0, Activation a1, Activation a2, Activation a3, float[] out) {
        if (hasTiled()) {
            Dot.f16x4(s, off, a0.f16, a1.f16, a2.f16, a3.f16, n, out);
        } else {
            super.row4(s, off, n, a0, a1, a2, a3, out);
        }
    }

    @Override
    void dequantize(MemorySegment s, long off, float[] y, int o, int blocks) {
        for (int i = 0; i < blocks; i++) {
            y[o + i] = Bytes.f16(s, off + 2L * i);
        }
    }

    @Override
    boolean canQuantize() {
        return true;
    }

    @Override
    void quantize(float[] x, int xo, int blocks, MemorySegment dst, long off) {
        for (int i = 0; i < blocks; i++) {
            dst.set(Bytes.LE_SHORT, off + 2L * i, Float.floatToFloat16(x[xo + i]));
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, Float.floatToFloat16((float) rnd.nextGaussian()));
    }

    @Override
    boolean fasterAt512() {
        return true;
    }
}
