package moed.kernels;

/**
 * Causal self-attention of one query position over a KV cache, with grouped-query heads (several query
 * heads share one key/value head).
 *
 * <p>The cache holds F16 values (stored widened in float arrays, so reads need no conversion). moed follows
 * llama.cpp's non-flash path on purpose: the query is rounded to F16 before the K dot products (F16 K
 * cache), and the softmax probabilities are rounded to F16 before they weight V (F16 V cache).
 */
public final class Attention {
    private Attention() {
    }

    /**
     * out[outOff + h*headDim ..] = softmax(scale * q_h . K[0..nPos)) . V[0..nPos) for every query head h.
     * Cache row t holds position t's keys (and values) for all kv heads: kvHeads * headDim values.
     * {@code qh} and {@code scores} are scratch of at least headDim and nPos floats.
     */
    public static void attend(float[] q, int qOff, float[] kCache, float[] vCache, int nPos, int heads, int kvHeads,
                              int headDim, float scale, float[] qh, float[] scores, float[] out, int outOff) {
        attend(q, qOff, kCache, vCache, 0, nPos, heads, kvHeads, headDim, scale, null, qh, scores, out, outOff);
    }

    /**
     * Attention over cache positions {@code from..nPos-1} only (a sliding window when from > 0), with an optional
     * learned sink logit per query head (gpt-oss): the sink joins the softmax's normalisation as a position that
     * has no value, so a head can attend to "nothing" and its outputs shrink.
     */
    public static void attend(float[] q, int qOff, float[] kCache, float[] vCache, int from, int nPos, int heads, int kvHeads,
                              int headDim, float scale, float[] sinks, float[] qh, float[] scores, float[] out, int outOff) {
        int group = heads / kvHeads;
        int kvDim = kvHeads * headDim;
        for (int h = 0; h < heads; h++) {
            int kvOff = (h / group) * headDim;
            for (int i = 0; i < headDim; i++) {
                qh[i] = Bytes.roundToF16(q[qOff + h * headDim + i]);
            }
            for (int t = from; t < nPos; t++) {
                int ko = t * kvDim + kvOff;
                float s = 0;
                for (int i = 0; i < headDim; i++) {
                    s += qh[i] * kCache[ko + i];
                }
                scores[t] = s * scale;
            }
            if (sinks == null) {
                Ops.softmax(scores, from, nPos - from);
            } else {
                softmaxWithSink(scores, from, nPos, sinks[h]);
            }
            int o = outOff + h * headDim;
            java.util.Arrays.fill(out, o, o + headDim, 0f);
            for (int t = from; t < nPos; t++) {
                float p = Bytes.roundToF16(scores[t]);
                int vo = t * kvDim + kvOff;
                for (int i = 0; i < headDim; i++) {
                    out[o + i] += p * vCache[vo + i];
                }
            }
        }
    }

    private static void softmaxWithSink(float[] x, int from, int to, float sink) {
        float max = sink;
        for (int i = from; i < to; i++) {
            max = Math.max(max, x[i]);
        }
        double sum = Math.exp(sink - max);
        for (int i = from; i < to; i++) {
            float e = (float) Math.exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int i = from; i < to; i++) {
            x[i] *= inv;
        }
    }
}
