package moed.kernels;

/**
 * The small element-wise and reduction kernels of a transformer step. They touch activation-sized arrays
 * (kilobytes), so they are plain loops the JIT auto-vectorizes; the weights-sized work is in {@link Dot}.
 */
public final class Ops {
    private Ops() {
    }

    /** out = x / rms(x) * weight, as llama.cpp's rms_norm followed by a multiply (eps inside the root). */
    public static void rmsNorm(float[] out, int outOff, float[] x, int xOff, float[] weight, int n, float eps) {
        // ggml sums squares in double (ggml_float) for rms_norm; doing the same keeps ties identical.
        double ss = 0;
        for (int i = 0; i < n; i++) {
            ss += (double) x[xOff + i] * x[xOff + i];
        }
        float mean = (float) (ss / n);
        float scale = (float) (1.0 / Math.sqrt(mean + eps));
        for (int i = 0; i < n; i++) {
            out[outOff + i] = (x[xOff + i] * scale) * weight[i];
        }
    }

    /**
     * RoPE in place on {@code heads} heads of {@code headDim} values at position {@code pos}, rotating only the
     * first {@code rotDim} dims. {@code neox} false rotates adjacent pairs (2i, 2i+1) as llama.cpp's rope_norm
     * does for arch llama; true rotates (i, i + rotDim/2) as rope_neox does (Qwen, OLMoE, ...).
     * {@code freqScale} is the linear position scale (1 for none). For YaRN, and for repeated use, build a
     * {@link Rope} once.
     */    public static void rope(float[] x, int off, int heads, int headDim, int rotDim, int pos, float base,
                            float freqScale, boolean neox, float[] cosSinScratch) {
        Rope.plain(rotDim, base, freqScale, neox).apply(x, off, heads, headDim, pos, cosSinScratch);
    }

    /** In-place softmax over x[off..off+n), max-subtracted, sum in double as ggml's soft_max does. */
    public static void softmax(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < n; i++) {
            x[off + i] *= inv;
        }
    }

    /** SiLU(x) = x * sigmoid(x). */
    public static float silu(float x) {
        return x / (1.0f + (float) Math.exp(-x));
    }

    /** gate[i] = silu(gate[i]) * up[i]: the SwiGLU combination of an expert's two projections. */
    public static void swiglu(float[] gate, int gOff, float[] up, int uOff, int n) {
        for (int i = 0; i < n; i++) {
            gate[gOff + i] = silu(gate[gOff + i]) * up[uOff + i];
        }
    }

    /** acc[i] += w * x[i]. */
    public static void addScaled(float[] acc, int aOff, float[] x, int xOff, float w, int n) {
        for (int i = 0; i < n; i++) {
            acc[aOff + i] += w * x[xOff + i];
        }
    }

    /** acc[i] += x[i]. */
    /**
     * gpt-oss's SwiGLU variant, in place in gate: the gate is clamped above at {@code limit}, the up projection to
     * [-limit, limit], and out = g * sigmoid(alpha * g) * (u + 1).
     */
    public static void swigluOai(float[] gate, int gOff, float[] up, int uOff, int n, float alpha, float limit) {
        for (int i = 0; i < n; i++) {
            float g = Math.min(gate[gOff + i], limit);
            float u = Math.max(-limit, Math.min(up[uOff + i], limit));
            gate[gOff + i] = g / (1.0f + (float) Math.exp(-alpha * g)) * (u + 1);
        }
    }

    public static float sigmoid(float x) {
        return 1.0f / (1.0f + (float) Math.exp(-x));
    }

    /** Sum of a[i] * b[i] (for vectors too small to prepare as a weight matrix: Qwen2-MoE's shared-expert gate). */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    public static void scale(float[] x, int off, float w, int n) {
        for (int i = 0; i < n; i++) {
            x[off + i] *= w;
        }
    }

    public static void add(float[] acc, int aOff, float[] x, int xOff, int n) {
        for (int i = 0; i < n; i++) {
            acc[aOff + i] += x[xOff + i];
        }
    }

    /**
     * Writes the indices of the k largest values of x[0..n) into idx, largest first; ties go to the lower
     * index (a stable order, as a sort by value would give). k is small (the router's top-k), so selection
     * by repeated scans is cheaper than sorting.
     */
    public static void topK(float[] x, int n, int k, int[] idx) {
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int i = 0; i < n; i++) {
                if (best >= 0 && !(x[i] > x[best])) {
                    continue;
                }
                boolean taken = false;
                for (int p = 0; p < j; p++) {
                    if (idx[p] == i) {
                        taken = true;
                        break;
                    }
                }
                if (!taken) {
                    best = i;
                }
            }
            idx[j] = best;
        }
    }

    /** Index of the largest value (the lowest such index on ties). */
    public static int argmax(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (x[off + i] > x[off + best]) {
                best = i;
            }
        }
        return best;
    }
}
