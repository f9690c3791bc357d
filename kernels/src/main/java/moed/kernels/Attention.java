package moed.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Causal self-attention of one query position over a KV cache, with grouped-query heads (several query
 * heads share one key/value head).
 *
 * <p>Vectorized over the head dimension; {@link #attendHeads} splits the heads across threads. The cache holds F16
 * values as their 16 bits (short arrays, half the memory of floats, as llama.cpp's default cache type); positions
 * are widened to floats a tile at a time ({@link #TILE}) into a per-thread scratch that every head of a run then
 * reads, so each cached row is converted once per run of heads (a plain loop over {@code Float.float16ToFloat},
 * which C2 compiles to the vector conversion instruction). moed follows llama.cpp's non-flash path on purpose: the
 * query is rounded to F16 before the K dot products, and the softmax probabilities are rounded to F16 before they
 * weight V.
 */
public final class Attention implements ParallelExecutor.RangeTask {
    private static final VectorSpecies<Float> F = Dot.F;
    private static final int L = Dot.L;
    /** Query heads sharing a key/value head that are computed together (bounds the scratch). */
    private static final int MAX_RUN = 8;
    /** Positions per tile: 128 rows of a 128-wide head widened to floats are 64 KiB, which stay in L2. */
    private static final int TILE = 128;
    /** Per worker thread: the F16-rounded queries, the scores of a run of heads and a tile of widened rows (grown as needed). */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][] {new float[0], new float[0], new float[0]});
    private final ParallelExecutor executor;
    // The call's arguments, for the worker threads (see attendHeads); no garbage per call.
    private float[] q;
    private int qOff;
    private short[] kCache;
    private short[] vCache;
    private int from;
    private int nPos;
    private int heads;
    private int kvHeads;
    private int headDim;
    private float scale;
    private float[] sinks;
    private float[] out;
    private int outOff;

    /** An attention whose heads are split across the executor's threads (one instance per calling thread). */
    public Attention(ParallelExecutor executor) {
        this.executor = executor;
    }

    /**
     * {@link #attend(float[], int, short[], short[], int, int, int, int, int, float, float[], float[], int)}
     * with the query heads split across the executor's threads (each head's result does not depend on the split).
     */
    public void attendHeads(float[] q, int qOff, short[] kCache, short[] vCache, int from, int nPos, int heads, int kvHeads,
                            int headDim, float scale, float[] sinks, float[] out, int outOff) {
        this.q = q;
        this.qOff = qOff;
        this.kCache = kCache;
        this.vCache = vCache;
        this.from = from;
        this.nPos = nPos;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.scale = scale;
        this.sinks = sinks;
        this.out = out;
        this.outOff = outOff;
        // Waking the other threads costs microseconds: a short context is done on this one.
        long work = (long) heads * (nPos - from) * headDim;
        executor.run(heads, work < 32768 ? heads : 1, this);
        this.q = null;
        this.kCache = null;
        this.vCache = null;
        this.sinks = null;
        this.out = null;
    }

    @Override
    public void run(int first, int end) {
        headRange(first, end, q, qOff, kCache, vCache, from, nPos, heads, kvHeads, headDim, scale, sinks, SCRATCH.get(), out, outOff);
    }

    /**
     * out[outOff + h*headDim ..] = softmax(scale * q_h . K[0..nPos)) . V[0..nPos) for every query head h.
     * The caches are kv-head-major, as F16 bits: key (value) head g's position t at [(g * capacity + t) * headDim, +
     * headDim), where capacity = cache length / (kvHeads * headDim) positions. Each head's positions are then one
     * contiguous run that streams from memory, where a position-major cache made every row a strided read.
     */
    public static void attend(float[] q, int qOff, short[] kCache, short[] vCache, int nPos, int heads, int kvHeads,
                              int headDim, float scale, float[] out, int outOff) {
        attend(q, qOff, kCache, vCache, 0, nPos, heads, kvHeads, headDim, scale, null, out, outOff);
    }

    /**
     * Attention over cache positions {@code from..nPos-1} only (a sliding window when from > 0), with an optional
     * learned sink logit per query head (gpt-oss): the sink joins the softmax's normalisation as a position that
     * has no value, so a head can attend to "nothing" and its outputs shrink.
     */
    public static void attend(float[] q, int qOff, short[] kCache, short[] vCache, int from, int nPos, int heads, int kvHeads,
                              int headDim, float scale, float[] sinks, float[] out, int outOff) {
        headRange(0, heads, q, qOff, kCache, vCache, from, nPos, heads, kvHeads, headDim, scale, sinks, SCRATCH.get(), out, outOff);
    }

    /**
     * Writes one position's keys (or values), {@code kvHeads * headDim} floats at values[off..], into a cache in the
     * layout {@link #attend(float[], int, short[], short[], int, int, int, int, int, float, float[], float[], int)}
     * reads: rounded to F16, head g's values at (g * capacity + pos) * headDim.
     */
    public static void store(short[] cache, int kvHeads, int headDim, int pos, float[] values, int off) {
        int capacity = cache.length / (kvHeads * headDim);
        for (int g = 0; g < kvHeads; g++) {
            int at = (g * capacity + pos) * headDim;
            for (int i = 0; i < headDim; i++) {
                cache[at + i] = Float.floatToFloat16(values[off + g * headDim + i]);
            }
        }
    }

    /** Query heads first..end-1, taken in runs of at most MAX_RUN heads that share a key/value head. */
    private static void headRange(int first, int end, float[] q, int qOff, short[] kCache, short[] vCache, int from, int nPos,
                                  int heads, int kvHeads, int headDim, float scale, float[] sinks, float[][] scratch,
                                  float[] out, int outOff) {
        int group = heads / kvHeads;
        if (scratch[0].length < MAX_RUN * headDim) {
            scratch[0] = new float[MAX_RUN * headDim];
        }
        if (scratch[1].length < MAX_RUN * nPos) {
            scratch[1] = new float[Math.max(MAX_RUN * nPos, 2 * scratch[1].length)];
        }
        if (scratch[2].length < TILE * headDim) {
            scratch[2] = new float[TILE * headDim];
        }
        for (int h = first; h < end; ) {
            int stop = Math.min(Math.min(end, (h / group + 1) * group), h + MAX_RUN);
            headRun(h, stop, q, qOff, kCache, vCache, from, nPos, heads, kvHeads, headDim, scale, sinks, scratch[0],
                    scratch[1], scratch[2], out, outOff);
            h = stop;
        }
    }

    /**
     * Query heads h0..h1-1, which share one key/value head: each cached key row is read once for all of them, and
     * their value rows are summed while still in cache. Per head the
     * arithmetic is that of llama.cpp's non-flash path: key dot products over the F16-rounded query (vectors over
     * the head dimension, summed as a tree), softmax, probabilities rounded to F16, values weighted with FMAs.
     */
    private static void headRun(int h0, int h1, float[] q, int qOff, short[] kCache, short[] vCache, int from, int nPos,
                                int heads, int kvHeads, int headDim, float scale, float[] sinks, float[] qh,
                                float[] scores, float[] rows, float[] out, int outOff) {
        int nh = h1 - h0;
        // The cache is kv-head-major (see attend): this run's key/value head's positions are one contiguous block.
        int capacity = kCache.length / (kvHeads * headDim);
        int base = (h0 / (heads / kvHeads)) * capacity * headDim;
        for (int j = 0; j < nh; j++) {
            for (int i = 0; i < headDim; i++) {
                qh[j * headDim + i] = Bytes.roundToF16(q[qOff + (h0 + j) * headDim + i]);
            }
        }
        // Key dots in the 16 canonical lanes (see Dot.CANON: two vectors below 512 bits), so scores do not depend
        // on the vector width.
        int keyEnd = Dot.VECTOR ? headDim / Dot.CANON * Dot.CANON : 0;
        for (int tile = from; tile < nPos; tile += TILE) {
            int end = Math.min(nPos, tile + TILE);
            widen(kCache, base + tile * headDim, rows, 0, (end - tile) * headDim);
            for (int t = tile; t < end; t++) {
                int ko = (t - tile) * headDim;
                for (int j = 0; j < nh; j++) {
                    int qo = j * headDim;
                    float s = 0;
                    if (keyEnd > 0) {
                        FloatVector lo = FloatVector.zero(F);
                        FloatVector hi = lo;
                        for (int i = 0; i < keyEnd; i += Dot.CANON) {
                            lo = FloatVector.fromArray(F, qh, qo + i).fma(FloatVector.fromArray(F, rows, ko + i), lo);
                            if (L < Dot.CANON) {
                                hi = FloatVector.fromArray(F, qh, qo + i + L).fma(FloatVector.fromArray(F, rows, ko + i + L), hi);
                            }
                        }
                        s = treeSum16(lo, hi);
                    }
                    for (int i = keyEnd; i < headDim; i++) {
                        s += qh[qo + i] * rows[ko + i];
                    }
                    scores[j * nPos + t] = s * scale;
                }
            }
        }
        for (int j = 0; j < nh; j++) {
            softmax(scores, j * nPos + from, j * nPos + nPos, sinks != null, sinks != null ? sinks[h0 + j] : 0f);
        }
        // Weighted values, tile by tile: per head, eight vectors of the head dimension accumulate in registers over
        // the tile's widened rows and are added to the output once per tile.
        for (int j = 0; j < nh; j++) {
            int so = j * nPos;
            for (int t = from; t < nPos; t++) {
                scores[so + t] = Bytes.roundToF16(scores[so + t]); // the probabilities weight an F16 V cache
            }
            int o = outOff + (h0 + j) * headDim;
            java.util.Arrays.fill(out, o, o + headDim, 0f);
        }
        int vectorEnd = Dot.VECTOR ? headDim / L * L : 0;
        for (int tile = from; tile < nPos; tile += TILE) {
            int end = Math.min(nPos, tile + TILE);
            widen(vCache, base + tile * headDim, rows, 0, (end - tile) * headDim);
            for (int j = 0; j < nh; j++) {
                weightValues(scores, j * nPos, tile, end, rows, headDim, vectorEnd, out, outOff + (h0 + j) * headDim);
            }
        }
    }

    /**
     * dst[d..d+n) = the halves src[s..s+n) as floats: a plain loop that C2 turns into the vector conversion
     * instruction (measured 0.14-0.3 ns a value over contiguous halves, about 1 ns over rows strided through a
     * position-major cache, which is why the cache is kv-head-major).
     */
    private static void widen(short[] src, int s, float[] dst, int d, int n) {
        for (int i = 0; i < n; i++) {
            dst[d + i] = Float.float16ToFloat(src[s + i]);
        }
    }

    /**
     * out[o..o+headDim) += sum over t in [from, end) of p[so+t] * V[t]: one head, one tile of positions, whose value
     * rows are widened in {@code rows} (row t at (t - from) * headDim).
     */
    private static void weightValues(float[] p, int so, int from, int end, float[] rows, int headDim, int vectorEnd,
                                     float[] out, int o) {
        int i = 0;
        for (; i + 8 * L <= vectorEnd; i += 8 * L) {
            FloatVector a0 = FloatVector.fromArray(F, out, o + i);
            FloatVector a1 = FloatVector.fromArray(F, out, o + i + L);
            FloatVector a2 = FloatVector.fromArray(F, out, o + i + 2 * L);
            FloatVector a3 = FloatVector.fromArray(F, out, o + i + 3 * L);
            FloatVector a4 = FloatVector.fromArray(F, out, o + i + 4 * L);
            FloatVector a5 = FloatVector.fromArray(F, out, o + i + 5 * L);
            FloatVector a6 = FloatVector.fromArray(F, out, o + i + 6 * L);
            FloatVector a7 = FloatVector.fromArray(F, out, o + i + 7 * L);
            for (int t = from; t < end; t++) {
                FloatVector w = FloatVector.broadcast(F, p[so + t]);
                int vo = (t - from) * headDim + i;
                a0 = FloatVector.fromArray(F, rows, vo).fma(w, a0);
                a1 = FloatVector.fromArray(F, rows, vo + L).fma(w, a1);
                a2 = FloatVector.fromArray(F, rows, vo + 2 * L).fma(w, a2);
                a3 = FloatVector.fromArray(F, rows, vo + 3 * L).fma(w, a3);
                a4 = FloatVector.fromArray(F, rows, vo + 4 * L).fma(w, a4);
                a5 = FloatVector.fromArray(F, rows, vo + 5 * L).fma(w, a5);
                a6 = FloatVector.fromArray(F, rows, vo + 6 * L).fma(w, a6);
                a7 = FloatVector.fromArray(F, rows, vo + 7 * L).fma(w, a7);
            }
            a0.intoArray(out, o + i);
            a1.intoArray(out, o + i + L);
            a2.intoArray(out, o + i + 2 * L);
            a3.intoArray(out, o + i + 3 * L);
            a4.intoArray(out, o + i + 4 * L);
            a5.intoArray(out, o + i + 5 * L);
            a6.intoArray(out, o + i + 6 * L);
            a7.intoArray(out, o + i + 7 * L);
        }
        for (; i < vectorEnd; i += L) {
            FloatVector a = FloatVector.fromArray(F, out, o + i);
            for (int t = from; t < end; t++) {
                a = FloatVector.fromArray(F, rows, (t - from) * headDim + i).fma(FloatVector.broadcast(F, p[so + t]), a);
            }
            a.intoArray(out, o + i);
        }
        for (; i < headDim; i++) {
            float a = out[o + i];
            for (int t = from; t < end; t++) {
                a = Math.fma(p[so + t], rows[(t - from) * headDim + i], a);
            }
            out[o + i] = a;
        }
    }

    /** Lane i swapped with lane i ^ d, for d = 1, 2, 4: the steps of a pairwise (tree) sum of eight lanes. */
    private static final VectorShuffle<Float>[] SWAPS = swaps();

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] swaps() {
        VectorShuffle<Float>[] s = new VectorShuffle[4];
        for (int k = 0; k < s.length; k++) {
            int d = 1 << k;
            s[k] = VectorShuffle.fromOp(F, i -> (i ^ d) % L);
        }
        return s;
    }

    /**
     * The sum of the 16 canonical lanes ({@code hi}: lanes 8-15 below 512 bits) as a fixed pairwise tree: each eight
     * summed with log2(8) shuffles and adds, then the two eights added (instead of extracting every lane: a key dot
     * product is reduced once per cached position, where the lane-by-lane sum cost more than the products). The
     * same adds in the same order at both widths, interpreted or compiled.
     */
    private static float treeSum16(FloatVector lo, FloatVector hi) {
        for (int k = 0; k < 3; k++) {
            lo = lo.add(lo.rearrange(SWAPS[k]));
            if (L < Dot.CANON) {
                hi = hi.add(hi.rearrange(SWAPS[k]));
            }
        }
        if (L < Dot.CANON) {
            return lo.lane(0) + hi.lane(0);
        }
        return lo.add(lo.rearrange(SWAPS[3])).lane(0);
    }

    /**
     * In place, x[from..to) = e^(x - max) / sum: ggml's soft_max (maximum subtracted, the sum in double in position
     * order), with the exponentials a vector at a time ({@link Exp}). With a sink (gpt-oss), its logit joins the
     * maximum and the normalisation as a position that has no value, so a head can attend to "nothing".
     */
    private static void softmax(float[] x, int from, int to, boolean hasSink, float sink) {
        float max = hasSink ? sink : Float.NEGATIVE_INFINITY;
        for (int i = from; i < to; i++) {
            max = Math.max(max, x[i]);
        }
        int i = from;
        if (Dot.VECTOR) {
            for (; i + L <= to; i += L) {
                Exp.exp(FloatVector.fromArray(F, x, i).sub(max)).intoArray(x, i);
            }
        }
        for (; i < to; i++) {
            x[i] = Exp.exp(x[i] - max);
        }
        double sum = hasSink ? Exp.exp(sink - max) : 0;
        for (i = from; i < to; i++) {
            sum += x[i];
        }
        float inv = (float) (1.0 / sum);
        for (i = from; i < to; i++) {
            x[i] *= inv;
        }
    }
}
