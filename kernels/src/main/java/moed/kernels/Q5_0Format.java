package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Q5_0: block_q5_0 { half d; uint32 qh; uint8 qs[16]; }: bit j of qh is the fifth bit of weight j (nibbles ordered
 * as in Q4_0), w = d * (q - 16). Dotted against Q8_0 activations.
 */
final class Q5_0Format extends BlockFormat {
    Q5_0Format() {
        super(GgmlType.Q5_0, 32, 22, Activation.Form.Q8_0);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return Block32Dots.q5_0(s, off, a, n / 32);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        int qh = Bytes.u32(s, bo + 2);
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(s, bo + 6 + j);
            int h0 = ((qh >>> j) << 4) & 0x10;
            int h1 = (qh >>> (j + 12)) & 0x10;
            y[o + j] = (((q & 0xF) | h0) - 16) * d;
            y[o + j + 16] = (((q >>> 4) | h1) - 16) * d;
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
    }
}
