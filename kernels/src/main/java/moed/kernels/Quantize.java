package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Reference quantizers, following ggml's {@code quantize_row_*_ref} functions step by step (same float
 * arithmetic, same rounding) so that files moed writes are what llama.cpp would write.
 */
public final class Quantize {
    private static final float GROUP_MAX_EPS = 1e-15f;

    private Quantize() {
    }

    public static boolean supports(GgmlType t) {
        return switch (t) {
            case F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K -> true;
            default -> false;
        };
    }

    /** Quantizes {@code x[xOff..xOff+n)} into {@code dst} at byte {@code off}; returns the bytes written. */
    public static long row(GgmlType t, float[] x, int xOff, int n, MemorySegment dst, long off) {
        if (!supports(t)) {
            throw new IllegalArgumentException("moed cannot write " + t + " tensors; it writes F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K");
        }
        if (n % t.blockSize != 0) {
            throw new IllegalArgumentException(n + " weights is not a whole number of " + t + " blocks of " + t.blockSize);
        }
        int blocks = n / t.blockSize;
        float[] scratch = t.isSuperBlock() ? new float[256 * 3] : null;
        for (int b = 0; b < blocks; b++) {
            long bo = off + (long) b * t.blockBytes;
            int xo = xOff + b * t.blockSize;
            switch (t) {
                case F32 -> dst.set(Bytes.LE_FLOAT, bo, x[xo]);
                case F16 -> dst.set(Bytes.LE_SHORT, bo, Float.floatToFloat16(x[xo]));
                case BF16 -> dst.set(Bytes.LE_SHORT, bo, Bytes.toBf16(x[xo]));
                case Q8_0 -> q8_0(x, xo, dst, bo);
                case Q4_0 -> q4_0(x, xo, dst, bo);
                case Q4_K -> q4_k(x, xo, dst, bo, scratch);
                case Q6_K -> q6_k(x, xo, dst, bo, scratch);
                default -> throw new AssertionError(t);
            }
        }
        return (long) blocks * t.blockBytes;
    }

    /** ggml's {@code nearest_int}: round half to even via the 1.5 * 2^23 trick, valid for |x| < 2^22. */
    static int nearestInt(float x) {
        return (int) Math.rint(x);
    }

    // quantize_row_q8_0_ref: d = amax/127, q = round(x/d) (roundf: half away from zero).
    static void q8_0(float[] x, int xo, MemorySegment dst, long bo) {
        float amax = 0;
        for (int j = 0; j < 32; j++) {
            amax = Math.max(amax, Math.abs(x[xo + j]));
        }
        float d = amax / 127f;
        float id = d != 0 ? 1f / d : 0f;
        dst.set(Bytes.LE_SHORT, bo, Float.floatToFloat16(d));
        for (int j = 0; j < 32; j++) {
            dst.set(ValueLayout.JAVA_BYTE, bo + 2 + j, (byte) roundf(x[xo + j] * id));
        }
    }

    /** C's {@code roundf}: halves away from zero. */
    static int roundf(float v) {
        return (int) (v < 0 ? -Math.floor(-v + 0.5f) : Math.floor(v + 0.5f));
    }

    // quantize_row_q4_0_ref: the signed value of largest magnitude maps to -8.
    static void q4_0(float[] x, int xo, MemorySegment dst, long bo) {
        float amax = 0;
        float max = 0;
        for (int j = 0; j < 32; j++) {
            float v = x[xo + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8;
        float id = d != 0 ? 1f / d : 0f;
        dst.set(Bytes.LE_SHORT, bo, Float.floatToFloat16(d));
        for (int j = 0; j < 16; j++) {
            // (int8_t)(x*id + 8.5f) truncates toward zero, as the C cast does.
            int x0 = Math.min(15, (byte) (int) (x[xo + j] * id + 8.5f));
            int x1 = Math.min(15, (byte) (int) (x[xo + 16 + j] * id + 8.5f));
            dst.set(ValueLayout.JAVA_BYTE, bo + 2 + j, (byte) (x0 | (x1 << 4)));
        }
    }

    // quantize_row_q4_K_ref: per 32-weight sub-block a scale and a min by weighted least squares
    // (make_qkx2_quants), both quantized to 6 bits against the block's largest.
    static void q4_k(float[] x, int xo, MemorySegment dst, long bo, float[] scratch) {
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
            scales[j] = makeQkx2Quants(32, 15, sub, weights, lsub, theMin, laux, -1f, 0.1f, 20, false);
            mins[j] = theMin[0];
            System.arraycopy(lsub, 0, lq, 32 * j, 32);
            maxScale = Math.max(maxScale, scales[j]);
            maxMin = Math.max(maxMin, mins[j]);
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        int[] sc = new int[12];
        for (int j = 0; j < 8; j++) {
            int ls = Math.min(63, nearestInt(invScale * scales[j]));
            int lm = Math.min(63, nearestInt(invMin * mins[j]));
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
                int l = nearestInt((x[xo + 32 * j + ii] + dm) / dd);
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

    /** ggml's {@code make_qkx2_quants}: an asymmetric scale and min for n weights, searching nstep candidates. */
    static float makeQkx2Quants(int n, int nmax, float[] x, float[] weights, int[] L, float[] theMin, int[] laux,
                                float rmin, float rdelta, int nstep, boolean useMad) {
        float min = x[0];
        float max = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; i++) {
            if (x[i] < min) {
                min = x[i];
            }
            if (x[i] > max) {
                max = x[i];
            }
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) {
            min = 0;
        }
        if (max == min) {
            for (int i = 0; i < n; i++) {
                L[i] = 0;
            }
            theMin[0] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int l = nearestInt(iscale * (x[i] - min));
            L[i] = Math.max(0, Math.min(nmax, l));
            float diff = scale * L[i] + min - x[i];
            diff = useMad ? Math.abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        if (nstep < 1) {
            theMin[0] = -min;
            return scale;
        }
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0;
            float sumL2 = 0;
            float sumXl = 0;
            for (int i = 0; i < n; i++) {
                int l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[i] - min))));
                laux[i] = l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXl += w * l * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXl - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / det;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * laux[i] + thisMin - x[i];
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError) {
                    System.arraycopy(laux, 0, L, 0, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin[0] = -min;
        return scale;
    }

    // quantize_row_q6_K_ref: 16 sub-blocks of 16 with signed 8-bit scales, 6-bit weights offset by 32.
    static void q6_k(float[] x, int xo, MemorySegment dst, long bo, float[] scratch) {
        int[] lq = new int[256];
        float[] scales = new float[16];
        float[] sub = new float[16];
        int[] lsub = new int[16];
        float maxScale = 0;
        float maxAbsScale = 0;
        for (int ib = 0; ib < 16; ib++) {
            System.arraycopy(x, xo + 16 * ib, sub, 0, 16);
            float scale = makeQxQuants(16, 32, sub, lsub, 1);
            System.arraycopy(lsub, 0, lq, 16 * ib, 16);
            scales[ib] = scale;
            float abs = Math.abs(scale);
            if (abs > maxAbsScale) {
                maxAbsScale = abs;
                maxScale = scale;
            }
        }
        if (maxAbsScale < GROUP_MAX_EPS) {
            dst.asSlice(bo, 210).fill((byte) 0);
            return;
        }
        float iscale = -128f / maxScale;
        short dh = Float.floatToFloat16(1 / iscale);
        dst.set(Bytes.LE_SHORT, bo + 208, dh);
        float d0 = Float.float16ToFloat(dh);
        for (int ib = 0; ib < 16; ib++) {
            int s = Math.min(127, nearestInt(iscale * scales[ib]));
            dst.set(ValueLayout.JAVA_BYTE, bo + 192 + ib, (byte) s);
        }
        for (int j = 0; j < 16; j++) {
            float d = d0 * Bytes.i8(dst, bo + 192 + j);
            if (d == 0) {
                continue;
            }
            for (int ii = 0; ii < 16; ii++) {
                int l = nearestInt(x[xo + 16 * j + ii] / d);
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

    /** ggml's {@code make_qx_quants} with a weighting chosen by {@code rmseType} (1: x squared) and no importance. */
    static float makeQxQuants(int n, int nmax, float[] x, int[] L, int rmseType) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[i]);
            if (ax > amax) {
                amax = ax;
                max = x[i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) {
                L[i] = 0;
            }
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[i])));
            L[i] = l + nmax;
            float w = weight(x[i], rmseType);
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0f;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; is++) {
            if (is == 0) {
                continue;
            }
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = 0;
            suml2 = 0;
            for (int i = 0; i < n; i++) {
                int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[i])));
                float w = weight(x[i], rmseType);
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; i++) {
                    L[i] = nmax + Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[i])));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    private static float weight(float x, int rmseType) {
        return switch (rmseType) {
            case 1 -> x * x;
            case 2 -> 1f;
            case 3 -> Math.abs(x);
            default -> (float) Math.sqrt(Math.abs(x));
        };
    }
}
