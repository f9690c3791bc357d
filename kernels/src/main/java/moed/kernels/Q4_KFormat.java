package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * Q4_K: block_q4_K { half d; half dmin; uint8 scales[12]; uint8 qs[128]; }: eight sub-blocks of 32 weights, each
 * with a 6-bit scale and minimum ({@link Dequantize#scaleMinK4}), w = d * sc * q - dmin * m; byte l of the j-th 32
 * bytes holds weight 64j+l (low nibble) and 64j+32+l (high). Dotted against Q8_K activations.
 */
final class Q4_KFormat extends BlockFormat {
    Q4_KFormat() {
        super(GgmlType.Q4_K, 256, 144, Activation.Form.Q8_K, WRITTEN);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return KQuantDots.q4_k(s, off, a, n / 256);
    }

    @Override
    boolean fasterAt512() {
        return true;
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        long q = bo + 16;
        for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
            float d1 = Dequantize.subBlockScaleK4(s, bo, is);
            float m1 = Dequantize.subBlockMinK4(s, bo, is);
            float d2 = Dequantize.subBlockScaleK4(s, bo, is + 1);
            float m2 = Dequantize.subBlockMinK4(s, bo, is + 1);
            for (int l = 0; l < 32; l++) {
                y[o + j + l] = d1 * (Bytes.u8(s, q + l) & 0xF) - m1;
            }
            for (int l = 0; l < 32; l++) {
                y[o + j + 32 + l] = d2 * (Bytes.u8(s, q + l) >>> 4) - m2;
            }
        }
    }

    // quantize_row_q4_K_ref: per 32-weight sub-block a scale and a min by weighted least squares
    // (make_qkx2_quants), both quantized to 6 bits against the block's largest.
    @Override
    void quantizeBlock(float[] x, int xo, MemorySegment dst, long bo) {
        int[] lq = new int[256];
        int[] laux = new int[32];
        float[] weights = new float[32];
        float[] mins = new float[8];
        float[] scales = new float[8];
        float[] sub = new float[32];
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < 8; j++) {
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) {
                sumX2 += x[xo + 32 * j + l] * x[xo + 32 * j + l];
            }
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) {
                sub[l] = x[xo + 32 * j + l];
                weights[l] = avX + Math.abs(sub[l]);
            }
            float[] theMin = new float[1];
            int[] lsub = new int[32];
            scales[j] = Quantize.makeQkx2Quants(32, 15, sub, weights, lsub, theMin, laux, -1f, 0.1f, 20, false);
            mins[j] = theMin[0];
            System.arraycopy(lsub, 0, lq, 32 * j, 32);
            maxScale = Math.max(maxScale, scales[j]);
            maxMin = Math.max(maxMin, mins[j]);
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        int[] sc = new int[12];
        for (int j = 0; j < 8; j++) {
            int ls = Math.min(63, Quantize.nearestInt(invScale * scales[j]));
            int lm = Math.min(63, Quantize.nearestInt(invMin * mins[j]));
            if (j < 4) {
                sc[j] = ls;
                sc[j + 4] = lm;
            } else {
                sc[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
                sc[j - 4] |= ((ls >>> 4) << 6);
                sc[j] |= ((lm >>> 4) << 6);
            }
        }
        short dh = Float.floatToFloat16(maxScale / 63f);
        short mh = Float.floatToFloat16(maxMin / 63f);
        dst.set(Bytes.LE_SHORT, bo, dh);
        dst.set(Bytes.LE_SHORT, bo + 2, mh);
        for (int i = 0; i < 12; i++) {
            dst.set(ValueLayout.JAVA_BYTE, bo + 4 + i, (byte) sc[i]);
        }
        float d = Float.float16ToFloat(dh);
        float dmin = Float.float16ToFloat(mh);
        for (int j = 0; j < 8; j++) {
            int s = Dequantize.scaleMinK4(dst, bo + 4, j, false);
            int m = Dequantize.scaleMinK4(dst, bo + 4, j, true);
            float dd = d * s;
            if (dd == 0) {
                continue;
            }
            float dm = dmin * m;
            for (int ii = 0; ii < 32; ii++) {
                int l = Quantize.nearestInt((x[xo + 32 * j + ii] + dm) / dd);
                lq[32 * j + ii] = Math.max(0, Math.min(15, l));
            }
        }
        long q = bo + 16;
        for (int j = 0; j < 256; j += 64, q += 32) {
            for (int l = 0; l < 32; l++) {
                dst.set(ValueLayout.JAVA_BYTE, q + l, (byte) (lq[j + l] | (lq[j + l + 32] << 4)));
            }
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
        s.set(Bytes.LE_SHORT, bo + 2, SMALL_SCALE);
    }
}
