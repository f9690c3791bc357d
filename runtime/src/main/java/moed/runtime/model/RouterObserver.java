package moed.runtime.model;

/**
 * Told every routing decision: for one token of one sequence (its request id) at one layer, the chosen experts (best first)
 * and their weights, and how many of them cache-aware routing put in place of better-scored experts that were not
 * resident (0 without it). The hook that recording, statistics and the predictor attach to. The arrays are the
 * runtime's own buffers, valid only during the call: copy what must be kept. Called on the compute thread;
 * with no observer installed the runtime makes no call at all.
 */
@FunctionalInterface
public interface RouterObserver {
    void onRoute(long sequence, int position, int layer, int[] experts, float[] weights, int k, int rerouted);
}
