package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Q4_1: block_q4_1 { half d; half m; uint8 qs[16]; }: w = d * q + m with q in 0..15, nibbles ordered as in Q4_0.
 * Dotted against Q8_0 activations; the minimum goes against each activation block's integer sum.
 */
final class Q4_1Format extends BlockFormat {
    Q4_1Format() {
        super(GgmlType.Q4_1, 32, 20, Activation.Form.Q8_0);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return Block32Dots.q4_1(s, off, a, n / 32);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        float m = Bytes.f16(s, bo + 2);
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(s, bo + 4 + j);
            y[o + j] = (q & 0xF) * d + m;
            y[o + j + 16] = (q >>> 4) * d + m;
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
        s.set(Bytes.LE_SHORT, bo + 2, SMALL_SCALE);
    }
}
