package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Q2_K: block_q2_K { uint8 scales[16]; uint8 qs[64]; half d; half dmin; }: 16 sub-blocks of 16 weights, each with a
 * 4-bit scale and a 4-bit minimum, w = d * sc * q - dmin * m with q in 0..3; in each 128-weight half, byte l of
 * qs holds weights l, l+32, l+64, l+96 in bits 0-1, 2-3, 4-5, 6-7. Dotted against Q8_K activations, the minimums
 * against the activation's per-16 sums.
 */
final class Q2_KFormat extends UnpackedFormat {
    private static final long TWO_BITS = 0x0303030303030303L;

    Q2_KFormat() {
        super(GgmlType.Q2_K, 84);
    }

    // Eight bytes of qs at a time: shifting the long by 2j and masking two bits per byte gives eight weights of the
    // j-th 32 of the half.
    @Override
    float unpack(MemorySegment s, long bo, UnpackedBlock u) {
        for (int half = 0; half < 2; half++) {
            for (int i = 0; i < 4; i++) {
                long v = s.get(Bytes.LE_LONG, bo + 16 + 32L * half + 8L * i);
                for (int j = 0; j < 4; j++) {
                    u.put8(128 * half + 32 * j + 8 * i, (v >>> (2 * j)) & TWO_BITS);
                }
            }
        }
        for (int g = 0; g < 16; g++) {
            int sc = Bytes.u8(s, bo + g);
            u.scale[g] = sc & 0xF;
            u.min[g] = sc >>> 4;
        }
        u.minFactor = Bytes.f16(s, bo + 82);
        return Bytes.f16(s, bo + 80);
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
