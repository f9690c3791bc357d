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
    void dequantize(MemorySegment s, long off, float[] y, int o, int blocks) {
        for (int b = 0; b < blocks; b++) {
            block(s, off + 176L * b, y, o + 256 * b);
        }
    }

    private static void block(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        float min = Bytes.f16(s, bo + 2);
        long sc = bo + 4;
        long qh = bo + 16;
        long ql = bo + 48;
        int u1 = 1;
        int u2 = 2;
        for (int j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            float d1 = d * Dequantize.scaleMinK4(s, sc, is, false);
            float m1 = min * Dequantize.scaleMinK4(s, sc, is, true);
            float d2 = d * Dequantize.scaleMinK4(s, sc, is + 1, false);
            float m2 = min * Dequantize.scaleMinK4(s, sc, is + 1, true);
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

    @Override
    boolean fasterAt512() {
        return true;
    }
}
