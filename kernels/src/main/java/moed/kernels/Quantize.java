package moed.kernels;

import java.lang.foreign.MemorySegment;

/**
 * Reference quantizers, following ggml's {@code quantize_row_*_ref} functions step by step (same float
 * arithmetic, same rounding) so that files moed writes are what llama.cpp would write. Each format's own lives in its
 * {@link BlockFormat}; here are the entry point by type and ggml's helpers that several formats share (rounding,
 * {@code make_qkx2_quants}, {@code make_qx_quants}).
 */
public final class Quantize {
    /** ggml's {@code GROUP_MAX_EPS}: below it a group's values count as all zero. */
    static final float GROUP_MAX_EPS = 1e-15f;

    private Quantize() {
    }

    public static boolean supports(GgmlType t) {
        BlockFormat f = BlockFormat.find(t);
        return f != null && f.canQuantize();
    }

    /** Quantizes {@code x[xOff..xOff+n)} into {@code dst} at byte {@code off}; returns the bytes written. */
    public static long row(GgmlType t, float[] x, int xOff, int n, MemorySegment dst, long off) {
        if (!supports(t)) {
            throw new IllegalArgumentException("moed cannot write " + t + " tensors; it writes " + writtenNames());
        }
        if (n % t.blockSize != 0) {
            throw new IllegalArgumentException(n + " weights is not a whole number of " + t + " blocks of " + t.blockSize);
        }
        int blocks = n / t.blockSize;
        t.format().quantize(x, xOff, blocks, dst, off);
        return (long) blocks * t.blockBytes;
    }

    /** The types moed writes, for error messages. */
    static String writtenNames() {
        return java.util.Arrays.stream(GgmlType.values()).filter(Quantize::supports).map(Enum::name)
                .collect(java.util.stream.Collectors.joining(", "));
    }

    /** ggml's {@code nearest_int}: round half to even via the 1.5 * 2^23 trick, valid for |x| < 2^22. */
    static int nearestInt(float x) {
        return (int) Math.rint(x);
    }

    /** C's {@code roundf}: halves away from zero. */
    static int roundf(float v) {
        return (int) (v < 0 ? -Math.floor(-v + 0.5f) : Math.floor(v + 0.5f));
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
