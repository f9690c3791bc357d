package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * Q6_K: block_q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }: 16 sub-blocks of 16 weights with signed
 * 8-bit scales, 6-bit weights (four low bits in ql, two high in qh) offset by 32. Dotted against Q8_K activations.
 */
final class Q6_KFormat extends BlockFormat {
    Q6_KFormat() {
        super(GgmlType.Q6_K, 256, 210, Activation.Form.Q8_K, WRITTEN);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return KQuantDots.q6_k(s, off, a, n / 256);
    }

    @Override
    boolean fasterAt512() {
        return true;
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo + 208);
        for (int n = 0; n < 2; n++) {
            long ql = bo + n * 64L;
            long qh = bo + 128 + n * 32L;
            long sc = bo + 192 + n * 8L;
            int yo = o + n * 128;
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int a = Bytes.u8(s, ql + l);
                int b = Bytes.u8(s, ql + l + 32);
                int h = Bytes.u8(s, qh + l);
                int q1 = ((a & 0xF) | ((h & 3) << 4)) - 32;
                int q2 = ((b & 0xF) | (((h >>> 2) & 3) << 4)) - 32;
                int q3 = ((a >>> 4) | (((h >>> 4) & 3) << 4)) - 32;
                int q4 = ((b >>> 4) | (((h >>> 6) & 3) << 4)) - 32;
                y[yo + l] = d * Bytes.i8(s, sc + is) * q1;
                y[yo + l + 32] = d * Bytes.i8(s, sc + is + 2) * q2;
                y[yo + l + 64] = d * Bytes.i8(s, sc + is + 4) * q3;
                y[yo + l + 96] = d * Bytes.i8(s, sc + is + 6) * q4;
            }
        }
    }

    // quantize_row_q6_K_ref: 16 sub-blocks of 16 with signed 8-bit scales, 6-bit weights offset by 32.
    @Override
    void quantizeBlock(float[] x, int xo, MemorySegment dst, long bo) {
        int[] lq = new int[256];
        float[] scales = new float[16];
        float[] sub = new float[16];
        int[] lsub = new int[16];
        float maxScale = 0;
        float maxAbsScale = 0;
        for (int ib = 0; ib < 16; ib++) {
            System.arraycopy(x, xo + 16 * ib, sub, 0, 16);
            float scale = Quantize.makeQxQuants(16, 32, sub, lsub, 1);
            System.arraycopy(lsub, 0, lq, 16 * ib, 16);
            scales[ib] = scale;
            float abs = Math.abs(scale);
            if (abs > maxAbsScale) {
                maxAbsScale = abs;
                maxScale = scale;
            }
        }
        if (maxAbsScale < Quantize.GROUP_MAX_EPS) {
            dst.asSlice(bo, 210).fill((byte) 0);
            return;
        }
        float iscale = -128f / maxScale;
        short dh = Float.floatToFloat16(1 / iscale);
        dst.set(Bytes.LE_SHORT, bo + 208, dh);
        float d0 = Float.float16ToFloat(dh);
        for (int ib = 0; ib < 16; ib++) {
            int s = Math.min(127, Quantize.nearestInt(iscale * scales[ib]));
            dst.set(ValueLayout.JAVA_BYTE, bo + 192 + ib, (byte) s);
        }
        for (int j = 0; j < 16; j++) {
            float d = d0 * Bytes.i8(dst, bo + 192 + j);
            if (d == 0) {
                continue;
            }
            for (int ii = 0; ii < 16; ii++) {
                int l = Quantize.nearestInt(x[xo + 16 * j + ii] / d);
                l = Math.max(-32, Math.min(31, l));
                lq[16 * j + ii] = l + 32;
            }
        }
        long ql = bo;
        long qh = bo + 128;
        for (int j = 0; j < 256; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                int q1 = lq[j + l] & 0xF;
                int q2 = lq[j + l + 32] & 0xF;
                int q3 = lq[j + l + 64] & 0xF;
                int q4 = lq[j + l + 96] & 0xF;
                dst.set(ValueLayout.JAVA_BYTE, ql + l, (byte) (q1 | (q3 << 4)));
                dst.set(ValueLayout.JAVA_BYTE, ql + l + 32, (byte) (q2 | (q4 << 4)));
                int h = (lq[j + l] >>> 4) | ((lq[j + l + 32] >>> 4) << 2)
                        | ((lq[j + l + 64] >>> 4) << 4) | ((lq[j + l + 96] >>> 4) << 6);
                dst.set(ValueLayout.JAVA_BYTE, qh + l, (byte) h);
            }
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo + 208, SMALL_SCALE);
    }
}
