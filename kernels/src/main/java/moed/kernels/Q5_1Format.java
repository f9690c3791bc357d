package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Q5_1: block_q5_1 { half d; half m; uint32 qh; uint8 qs[16]; }: w = d * q + m with q in 0..31, the fifth bits as
 * in Q5_0. Dotted against Q8_0 activations; the minimum goes against each activation block's integer sum.
 */
final class Q5_1Format extends BlockFormat {
    Q5_1Format() {
        super(GgmlType.Q5_1, 32, 24, Activation.Form.Q8_0);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return Block32Dots.q5_1(s, off, a, n / 32);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        float m = Bytes.f16(s, bo + 2);
        int qh = Bytes.u32(s, bo + 4);
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(s, bo + 8 + j);
            int h0 = ((qh >>> j) << 4) & 0x10;
            int h1 = (qh >>> (j + 12)) & 0x10;
            y[o + j] = ((q & 0xF) | h0) * d + m;
            y[o + j + 16] = ((q >>> 4) | h1) * d + m;
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
        s.set(Bytes.LE_SHORT, bo + 2, SMALL_SCALE);
    }
}
