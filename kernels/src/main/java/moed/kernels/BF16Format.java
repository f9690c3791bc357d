package moed.kernels;

import java.lang.foreign.MemorySegment;

/** BF16: the top 16 bits of a float (sign, 8-bit exponent, 7-bit mantissa). Dotted against the float activations. */
final class BF16Format extends FloatFormat {
    BF16Format() {
        super(GgmlType.BF16, 2, Activation.Form.FLOAT);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return Dot.bf16(s, off, a.x, n);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        y[o] = Bytes.bf16(s, bo);
    }

    @Override
    void quantizeBlock(float[] x, int xo, MemorySegment dst, long bo) {
        dst.set(Bytes.LE_SHORT, bo, Bytes.toBf16(x[xo]));
    }
}
