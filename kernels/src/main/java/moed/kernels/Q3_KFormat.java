package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Q3_K: block_q3_K { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; half d; }: 16 sub-blocks of 16 weights with
 * 6-bit signed scales packed in 12 bytes, two low bits per weight in qs and the third in hmask: weight 128n+32j+l
 * (l < 32) takes bits 2j-2j+1 of qs[32n+l] and bit 4n+j of hmask[l], w = d * (sc - 32) * (q - (high bit ? 0 : 4)).
 * Dotted against Q8_K activations.
 */
final class Q3_KFormat extends BlockFormat {
    Q3_KFormat() {
        super(GgmlType.Q3_K, 256, 110, Activation.Form.Q8_K);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return KQuantDots.q3_k(s, off, a, n / 256);
    }

    @Override
    boolean fasterAt512() {
        return true;
    }

    /**
     * Word k of the 16 unpacked 6-bit scales (byte j: the scale of sub-block 4k + j, before the offset of 32): low
     * four bits from a nibble of bytes 0-7, high two from bytes 8-11 (ggml's kmask1/kmask2 shuffle).
     */
    static int scaleWord(MemorySegment s, long bo, int k) {
        int a = Bytes.u32(s, bo + 96 + 4L * (k & 1));
        int tmp = Bytes.u32(s, bo + 104);
        return ((a >>> (4 * (k >>> 1))) & 0x0f0f0f0f) | (((tmp >>> (2 * k)) & 0x03030303) << 4);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo + 108);
        int[] aux = {scaleWord(s, bo, 0), scaleWord(s, bo, 1), scaleWord(s, bo, 2), scaleWord(s, bo, 3)};
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
