package moed.kernels;

/**
 * A weight format's mat-mat for several tokens at once, bit-identical per (row, token) to its per-token kernel:
 * {@link #prepare} lays the activations out on the calling thread, {@link ParallelExecutor} runs disjoint row
 * ranges on the workers, {@link #release} forgets the call's arguments.
 */
interface Gemm extends ParallelExecutor.RangeTask {
    void prepare(WeightMatrix m, Activation[] xs, int[] which, int count, float[][] out);

    void release();
}
