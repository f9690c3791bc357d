package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Q8_K: block_q8_K { float d; int8 qs[256]; int16 bsums[16]; }, w = d * q. ggml's activation form for the K-quants
 * ({@link Activation.Form#Q8_K} is its in-memory twin); as weights it is dotted by the scalar reference against the
 * float activations.
 */
final class Q8_KFormat extends BlockFormat {
    Q8_KFormat() {
        super(GgmlType.Q8_K, 256, 292, Activation.Form.FLOAT);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return scalarDot(s, off, a, n);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = s.get(Bytes.LE_FLOAT, bo);
        for (int j = 0; j < 256; j++) {
            y[o + j] = d * Bytes.i8(s, bo + 4 + j);
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_FLOAT, bo, 0.01f);
    }
}
