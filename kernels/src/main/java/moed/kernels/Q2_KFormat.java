package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Q2_K: block_q2_K { uint8 scales[16]; uint8 qs[64]; half d; half dmin; }: 16 sub-blocks of 16 weights, each with a
 * 4-bit scale and a 4-bit minimum, w = d * sc * q - dmin * m with q in 0..3; in each 128-weight half, byte l of
 * qs holds weights l, l+32, l+64, l+96 in bits 0-1, 2-3, 4-5, 6-7. Dotted against Q8_K activations, the minimums
 * against the activation's per-16 sums.
 */
final class Q2_KFormat extends BlockFormat {
    Q2_KFormat() {
        super(GgmlType.Q2_K, 256, 84, Activation.Form.Q8_K);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return KQuantDots.q2_k(s, off, a, n / 256);
    }

    @Override
    boolean fasterAt512() {
        return true;
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo + 80);
        float min = Bytes.f16(s, bo + 82);
        int is = 0;
        for (int n = 0; n < 2; n++) {
            long q = bo + 16 + n * 32L;
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    int sc = Bytes.u8(s, bo + is++);
                    float dl = d * (sc & 0xF);
                    float ml = min * (sc >>> 4);
                    for (int l = 0; l < 16; l++) {
                        y[o++] = dl * ((Bytes.u8(s, q + half * 16L + l) >>> shift) & 3) - ml;
                    }
                }
            }
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo + 80, SMALL_SCALE);
        s.set(Bytes.LE_SHORT, bo + 82, SMALL_SCALE);
    }
}
