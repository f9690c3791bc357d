package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/** BF16: the top 16 bits of a float (sign, 8-bit exponent, 7-bit mantissa). Dotted against the float activations. */
final class BF16Format extends BlockFormat {
    BF16Format() {
        super(GgmlType.BF16, 1, 2, Activation.Form.FLOAT);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return Dot.bf16(s, off, a.x, n);
    }

    @Override
    void dequantize(MemorySegment s, long off, float[] y, int o, int blocks) {
        for (int i = 0; i < blocks; i++) {
            y[o + i] = Bytes.bf16(s, off + 2L * i);
        }
    }

    @Override
    boolean canQuantize() {
        return true;
    }

    @Override
    void quantize(float[] x, int xo, int blocks, MemorySegment dst, long off) {
        for (int i = 0; i < blocks; i++) {
            dst.set(Bytes.LE_SHORT, off + 2L * i, Bytes.toBf16(x[xo + i]));
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, Bytes.toBf16((float) rnd.nextGaussian()));
    }

    @Override
    boolean fasterAt512() {
        return true;
    }
}
