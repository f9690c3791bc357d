package moed.kernels;

import java.lang.foreign.MemorySegment;

/** F32: plain little-endian floats, a "block" of one. Dotted against the float activations. */
final class F32Format extends FloatFormat {
    F32Format() {
        super(GgmlType.F32, 4, Activation.Form.FLOAT);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return Dot.f32(s, off, a.x, n);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        y[o] = s.get(Bytes.LE_FLOAT, bo);
    }

    @Override
    void quantizeBlock(float[] x, int xo, MemorySegment dst, long bo) {
        dst.set(Bytes.LE_FLOAT, bo, x[xo]);
    }
}
