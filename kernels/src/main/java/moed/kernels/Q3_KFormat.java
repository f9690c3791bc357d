package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Q3_K: block_q3_K { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; half d; }: 16 sub-blocks of 16 weights with
 * 6-bit signed scales packed in 12 bytes, two low bits per weight in qs and the third in hmask. No vector kernel yet:
 * dotted by the scalar reference against the float activations.
 */
final class Q3_KFormat extends BlockFormat {
    Q3_KFormat() {
        super(GgmlType.Q3_K, 256, 110, Activation.Form.FLOAT);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return scalarDot(s, off, a, n);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo + 108);
        int a0 = Bytes.u32(s, bo + 96);
        int a1 = Bytes.u32(s, bo + 100);
        int tmp = Bytes.u32(s, bo + 104);
        final int km1 = 0x03030303;
        final int km2 = 0x0f0f0f0f;
        int[] aux = {
            (a0 & km2) | (((tmp) & km1) << 4),
            (a1 & km2) | (((tmp >>> 2) & km1) << 4),
            ((a0 >>> 4) & km2) | (((tmp >>> 4) & km1) << 4),
            ((a1 >>> 4) & km2) | (((tmp >>> 6) & km1) << 4),
        };
        int is = 0;
        int m = 1;
        for (int n = 0; n < 2; n++) {
            long q = bo + 32 + n * 32L;
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    int sc = (byte) (aux[is >>> 2] >>> (8 * (is & 3)));
                    is++;
                    float dl = d * (sc - 32);
                    for (int l = 0; l < 16; l++) {
                        int idx = half * 16 + l;
                        int hm = Bytes.u8(s, bo + idx);
                        int v = ((Bytes.u8(s, q + idx) >>> shift) & 3) - ((hm & m) != 0 ? 0 : 4);
                        y[o++] = dl * v;
                    }
                }
                m <<= 1;
            }
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo + 108, SMALL_SCALE);
    }
}
