package moed.kernels;

/**
 * One weight matrix applied to several activation vectors: {@code out[t][r] = W[r] . x[t]} for the chosen
 * tokens t. The row loop is outside the token loop, so each row's bytes are read from memory once and stay
 * in L1 while every token uses them: weights stream once per call, not once per token. With one token this
 * is decode's mat-vec. Rows are split across the executor's threads.
 *
 * <p>One instance per calling thread; the call's arguments live in fields so nothing is allocated per call.
 */
public final class MatMat implements ParallelExecutor.RangeTask {
    /** Per worker thread: the four results of a tiled row (no garbage per call). */
    private static final ThreadLocal<float[]> FOUR = ThreadLocal.withInitial(() -> new float[4]);
    /**
     * Token count from which the formats that have a GEMM ({@link Block32Gemm}, {@link KQuantRowGemm},
     * {@link KQuantGemm}, {@link UnpackedGemm}) take it ({@link Gemm#minTokens}; {@link InterleavedQ8_0Gemm} wants more).
     */
    static final int GEMM_MIN_TOKENS = 4;
    /**
     * Runs of rows a thread reads at once in the per-token path. Front to back, a row's bytes arrive from memory only
     * about as fast as the kernel would consume them from cache, and the two do not overlap well: one thread
     * streaming a Q8_0 matrix from memory ran at 4.0-4.5 GB/s against 10-11 in cache and 8-12 for a bare read loop.
     * The hardware prefetcher follows each run separately, so several runs keep more lines in flight: 5.4-5.5 GB/s
     * with four (4.7-5.7 with two, 4.2-5.4 with eight; two threads 9.0-10.8 against 7.6), and a Q8_0 MoE's decode
     * 8-15% faster. Reading ahead by touching a byte 1-8 KiB on did not help (4.4-4.7, 3.5 at 8 KiB). Only for
     * formats of a byte or more per weight: the 4-6-bit kernels run at a third of memory speed even in cache, and a
     * Q4_K MoE's decode measured 13% slower with four runs.
     */
    static final int STREAMS = 4;

    private static int streams(GgmlType t) {
        return t.blockBytes * 8 >= 8 * t.blockSize ? STREAMS : 1;
    }
    private final ParallelExecutor executor;
    private final Block32Gemm block32 = new Block32Gemm();
    private final Block32PairGemm pairs32 = new Block32PairGemm();
    private final KQuantRowGemm kRows = new KQuantRowGemm();
    private final InterleavedQ8_0Gemm q8Rows = new InterleavedQ8_0Gemm();
    private final KQuantGemm q6k = new KQuantGemm();
    private final UnpackedGemm unpacked = new UnpackedGemm();
    private WeightMatrix m;
    private Activation[] xs;
    private int[] which;
    private int count;
    private float[][] out;

    public MatMat(ParallelExecutor executor) {
        this.executor = executor;
    }

    public ParallelExecutor executor() {
        return executor;
    }

    /** For t in 0..count-1: out[which[t]][r] = W[r] . xs[which[t]]. A null which means 0..count-1. */
    public void apply(WeightMatrix m, Activation[] xs, int[] which, int count, float[][] out) {
        for (int t = 0; t < count; t++) {
            Activation a = xs[which == null ? t : which[t]];
            if (a.length() != m.cols()) {
                throw new IllegalArgumentException("activation has " + a.length() + " values, matrix rows have " + m.cols());
            }
            a.prepareFor(m.type());
        }
        this.m = m;
        this.xs = xs;
        this.which = which;
        this.count = count;
        this.out = out;
        Gemm gemm = gemmFor(m);
        if (gemm != null && count < gemm.minTokens(m)) {
            gemm = null;
        }
        if (gemm == null && m.interleaved()) {
            // The group kernel's own activation form (the GEMMs read the format's plain one).
            for (int t = 0; t < count; t++) {
                xs[which == null ? t : which[t]].prepare(Interleaved.activation(m.type()));
            }
        }
        if (gemm != null) {
            gemm.prepare(m, xs, which, count, out);
        }
        // Waking another core costs a few microseconds: not worth it for a matrix that streams in less.
        long bytes = m.byteSize() * Math.max(1, count / 4);
        int grain = bytes < 24 * 1024 ? m.rows() : gemm != null ? gemm.grain()
                : m.interleaved() ? Interleaved.GROUP : 8;
        // A GEMM is its own task, so this class's run stays the per-token path decode compiles.
        executor.run(m.rows(), grain, gemm != null ? gemm : this);
        if (gemm != null) {
            gemm.release();
        }
        this.m = null;
        this.xs = null;
        this.which = null;
        this.out = null;
    }

    /**
     * The GEMM for m's format and layout (of an interleaved matrix, one that reads the layout), or null for the
     * per-token kernels whatever the token count.
     */
    private Gemm gemmFor(WeightMatrix m) {
        GgmlType t = m.type();
        if (m.interleaved()) {
            return InterleavedQ8_0Gemm.supports(m) ? q8Rows : KQuantRowGemm.supports(t) ? kRows : null;
        }
        return Block32PairGemm.supports(t) ? pairs32 : Block32Gemm.supports(t) ? block32
                : UnpackedGemm.supports(t) ? unpacked : KQuantRowGemm.supports(t) ? kRows
                : KQuantGemm.supports(t) ? q6k : null;
    }

    @Override
    public void run(int from, int to) {
        WeightMatrix w = m;
        Activation[] a = xs;
        int[] wh = which;
        int n = count;
        float[][] o = out;
        if (w.interleaved() && Dot.VECTOR) {
            int groups = (to - from) / Interleaved.GROUP;
            if (n == 1 && groups >= 2 && Interleaved.hasTwoGroupKernel(w.type())) {
                // Decode: the range's two halves side by side, two streams from memory (see Interleaved.dotTwo).
                int tok = wh == null ? 0 : wh[0];
                int half = (groups + 1) / 2;
                for (int g = 0; g < half; g++) {
                    int r0 = from + g * Interleaved.GROUP;
                    int r1 = r0 + half * Interleaved.GROUP;
                    if (r1 < to) {
                        Interleaved.dotTwo(w, r0 / Interleaved.GROUP, r1 / Interleaved.GROUP, a[tok], o[tok], r0, r1);
                    } else {
                        Interleaved.dot(w, r0 / Interleaved.GROUP, a[tok], o[tok], r0);
                    }
                }
                return;
            }
            // Sixteen rows at a time, rows as lanes (the range's bounds are multiples of the group: see the grain).
            boolean four = n >= 4 && Interleaved.hasFourTokenKernel(w.type());
            for (int r = from; r < to; r += Interleaved.GROUP) {
                int t = 0;
                if (four) {
                    // Four tokens share each group's unpacked weights (the group stays in L1 across the tokens).
                    for (; t + 4 <= n; t += 4) {
                        int k0 = wh == null ? t : wh[t];
                        int k1 = wh == null ? t + 1 : wh[t + 1];
                        int k2 = wh == null ? t + 2 : wh[t + 2];
                        int k3 = wh == null ? t + 3 : wh[t + 3];
                        Interleaved.dot4(w, r / Interleaved.GROUP, a[k0], a[k1], a[k2], a[k3], o[k0], o[k1], o[k2], o[k3], r);
                    }
                }
                for (; t < n; t++) {
                    int tok = wh == null ? t : wh[t];
                    Interleaved.dot(w, r / Interleaved.GROUP, a[tok], o[tok], r);
                }
            }
            return;
        }
        boolean tiled = n >= 4 && Dot.hasTiled(w.type());
        // Rows in pairs where the format has a paired kernel: two independent chains per pass (see Dot.rowPair).
        boolean paired = !tiled && Dot.hasPaired(w.type());
        float[] four = FOUR.get();
        // The range is read as interleaved runs of rows (row k of each run in turn), not front to back.
        int streams = streams(w.type());
        int part = (to - from + streams - 1) / streams;
        for (int k = 0; k < part; k++) {
            for (int run = 0; run < streams; run++) {
                int r = from + run * part + k;
                if (r >= to) {
                    continue;
                }
                // Paired with the same row of the next run (so this step also covers that run), each run still read
                // front to back.
                int r1 = r + part;
                if (paired && run + 1 < streams && r1 < to) {
                    for (int t = 0; t < n; t++) {
                        int tok = wh == null ? t : wh[t];
                        Dot.rowPair(w, r, r1, a[tok], four);
                        o[tok][r] = four[0];
                        o[tok][r1] = four[1];
                    }
                    run++;
                    continue;
                }
                int t = 0;
                if (tiled) {
                    // Four tokens share each decoded block of the row (same arithmetic per token as Dot.row).
                    for (; t + 4 <= n; t += 4) {
                        int k0 = wh == null ? t : wh[t];
                        int k1 = wh == null ? t + 1 : wh[t + 1];
                        int k2 = wh == null ? t + 2 : wh[t + 2];
                        int k3 = wh == null ? t + 3 : wh[t + 3];
                        Dot.row4(w, r, a[k0], a[k1], a[k2], a[k3], four);
                        o[k0][r] = four[0];
                        o[k1][r] = four[1];
                        o[k2][r] = four[2];
                        o[k3][r] = four[3];
                    }
                }
                for (; t < n; t++) {
                    int tok = wh == null ? t : wh[t];
                    o[tok][r] = Dot.row(w, r, a[tok]);
                }
            }
        }
    }
}
