package moed.cache;

/**
 * Per-model routing statistics counted in memory on the hot path: activations of each (layer, expert), and
 * layer-to-layer transitions (how often expert b of the next MoE layer follows expert a of this one for the same
 * token). Nothing is allocated per token. Cache counters (hits, misses, stalls, prefetches) are folded in from
 * {@link CacheCounters} when statistics are persisted.
 *
 * <p>Threading: {@link #recordRoute} is called by the compute thread; {@link #snapshot} may be called by a
 * flusher thread concurrently (counts read while being written are off by at most the in-flight token).
 */
public final class ExpertStatistics {
    private final int layers;
    private final int experts;
    private final long[] activations;
    /** [layer][from * experts + to]: layer l's expert "from" followed by layer l+1's expert "to". */
    private final long[][] transitions;
    /** The experts each recent position chose at its previous MoE layer, by position modulo the ring size. */
    private final int[][] previous;
    private final int[] previousLayer;
    private final int[] previousCount;

    public ExpertStatistics(int layers, int experts, int maxK) {
        this.layers = layers;
        this.experts = experts;
        this.activations = new long[layers * experts];
        this.transitions = new long[layers][experts * experts];
        this.previous = new int[4096][maxK];
        this.previousLayer = new int[4096];
        this.previousCount = new int[4096];
        java.util.Arrays.fill(previousLayer, -1);
    }

    public int layers() {
        return layers;
    }

    public int experts() {
        return experts;
    }

    /** One routing decision: the k experts a token at {@code position} chose at {@code layer}. */
    public void recordRoute(int position, int layer, int[] chosen, int k) {
        int slot = position & 4095;
        for (int j = 0; j < k; j++) {
            activations[layer * experts + chosen[j]]++;
        }
        int pl = previousLayer[slot];
        if (pl >= 0 && pl < layer) {
            long[] t = transitions[pl];
            int[] prev = previous[slot];
            for (int a = 0; a < previousCount[slot]; a++) {
                for (int j = 0; j < k; j++) {
                    t[prev[a] * experts + chosen[j]]++;
                }
            }
        }
        if (layer == layers - 1) {
            previousLayer[slot] = -1;
        } else {
            System.arraycopy(chosen, 0, previous[slot], 0, k);
            previousLayer[slot] = layer;
            previousCount[slot] = k;
        }
    }

    public long activations(int layer, int expert) {
        return activations[layer * experts + expert];
    }

    public long transition(int layer, int from, int to) {
        return transitions[layer][from * experts + to];
    }

    long[] activationArray() {
        return activations;
    }

    long[][] transitionArrays() {
        return transitions;
    }
}
