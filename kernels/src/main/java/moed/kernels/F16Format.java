package moed.kernels;

import java.lang.foreign.MemorySegment;

/**
 * F16: IEEE halves. Dotted against activations rounded to F16 (ggml_vec_dot_f16 with f32 accumulation), and the one
 * format whose {@link #row4} is tiled: four tokens share each widened block of the row.
 */
final class F16Format extends FloatFormat {
    F16Format() {
        super(GgmlType.F16, 2, Activation.Form.F16);
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
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        y[o] = Bytes.f16(s, bo);
    }

    @Override
    void quantizeBlock(float[] x, int xo, MemorySegment dst, long bo) {
        dst.set(Bytes.LE_SHORT, bo, Float.floatToFloat16(x[xo]));
    }
}
