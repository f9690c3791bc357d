package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Q5_K: block_q5_K { half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]; }: Q4_K's layout with a fifth
 * bit per weight in qh. Dotted against Q8_K activations.
 */
final class Q5_KFormat extends BlockFormat {
    Q5_KFormat() {
        super(GgmlType.Q5_K, 256, 176, Activation.Form.Q8_K);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return KQuantDots.q5_k(s, off, a, n / 256);
    }

    @Override
    boolean fasterAt512() {
        return true;
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        long qh = bo + 16;
        long ql = bo + 48;
        int u1 = 1;
        int u2 = 2;
        for (int j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            float d1 = Dequantize.subBlockScaleK4(s, bo, is);
            float m1 = Dequantize.subBlockMinK4(s, bo, is);
            float d2 = Dequantize.subBlockScaleK4(s, bo, is + 1);
            float m2 = Dequantize.subBlockMinK4(s, bo, is + 1);
            for (int l = 0; l < 32; l++) {
                int h = Bytes.u8(s, qh + l);
                y[o + j + l] = d1 * ((Bytes.u8(s, ql + l) & 0xF) + ((h & u1) != 0 ? 16 : 0)) - m1;
                y[o + j + 32 + l] = d2 * ((Bytes.u8(s, ql + l) >>> 4) + ((h & u2) != 0 ? 16 : 0)) - m2;
            }
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
        s.set(Bytes.LE_SHORT, bo + 2, SMALL_SCALE);
    }
}
