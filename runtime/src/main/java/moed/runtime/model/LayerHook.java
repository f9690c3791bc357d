package moed.runtime.model;

/**
 * Points in the forward pass where prediction and prefetching act, on the compute thread. With no hook
 * installed the forward pass makes no calls.
 */
public interface LayerHook {
    /** Layer {@code layer} begins: rows x[0..n) are the residual streams entering it (the previous layer's output). */
    default void beforeLayer(int layer, float[][] x, int n) {
    }

    /** Layer {@code layer}'s attention is done: rows x[0..n) are the tokens' residual streams entering its MoE. */
    void afterAttention(int layer, float[][] x, int n);

    /** Layer {@code layer} routed its n tokens: counts[e] of them chose expert e. Called before any expert runs. */
    void routed(int layer, int[] counts, int experts);

    /** The forward step (one decode token or one prefill chunk) is finished. */
    void afterStep();
}
