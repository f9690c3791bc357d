package moed.kernels;

/**
 * A weight format's mat-mat for several tokens at once, bit-identical per (row, token) to the format's per-token
 * kernel, so that a token's logits do not depend on how it was batched. The calling thread lays the activations
 * out ({@link #prepare}); {@link ParallelExecutor} then runs disjoint row ranges on the workers ({@link #run});
 * {@link #release} forgets the call. One instance per {@link MatMat}; nothing is allocated per call once the
 * buffers have grown. Two shapes: {@link TokenLaneGemm} (vector lanes are tokens) and {@link Block32PairGemm}
 * (vector lanes are the per-token kernel's lanes, for two rows).
 */
abstract class Gemm implements ParallelExecutor.RangeTask {
    /** The call's arguments, for the worker threads. */
    WeightMatrix m;
    int[] which;
    int count;
    float[][] out;
    int cols;

    /** Keeps the call's arguments and lays out the activations xs[which[t]] (prepared by the caller). */
    final void prepare(WeightMatrix m, Activation[] xs, int[] which, int count, float[][] out) {
        this.m = m;
        this.which = which;
        this.count = count;
        this.out = out;
        this.cols = m.cols();
        layOut(xs);
    }

    /** Token count from which this GEMM beats the per-token kernel over m; below it {@link MatMat} runs that one. */
    int minTokens(WeightMatrix m) {
        return MatMat.GEMM_MIN_TOKENS;
    }

    /** Rows of a chunk handed to one thread: the bounds of every chunk are multiples of it. */
    int grain() {
        return 8;
    }

    /** Lays out the prepared forms of every token's activation for the format's inner loop. */
    abstract void layOut(Activation[] xs);

    /** Token t's activation (t counted within the call), or null for a padding token. */
    final Activation token(Activation[] xs, int t) {
        return t < count ? xs[which == null ? t : which[t]] : null;
    }

    /** Where token t's (counted within the call) results go. */
    final float[] output(int t) {
        return out[which == null ? t : which[t]];
    }

    final void release() {
        m = null;
        which = null;
        out = null;
    }
}
