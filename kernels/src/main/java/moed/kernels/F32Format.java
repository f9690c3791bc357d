package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/** F32: plain little-endian floats, a "block" of one. Dotted against the float activations. */
final class F32Format extends BlockFormat {
    F32Format() {
        super(GgmlType.F32, 1, 4, Activation.Form.FLOAT);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return Dot.f32(s, off, a.x, n);
    }

    @Override
    void dequantize(MemorySegment s, long off, float[] y, int o, int blocks) {
        for (int i = 0; i < blocks; i++) {
            y[o + i] = s.get(Bytes.LE_FLOAT, off + 4L * i);
        }
    }

    @Override
    boolean canQuantize() {
        return true;
    }

    @Override
    void quantize(float[] x, int xo, int blocks, MemorySegment dst, long off) {
        for (int i = 0; i < blocks; i++) {
            dst.set(Bytes.LE_FLOAT, off + 4L * i, x[xo + i]);
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_FLOAT, bo, (float) rnd.nextGaussian());
    }

    @Override
    boolean fasterAt512() {
        return true;
    }
}
