package moed.tools.cli;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import moed.cache.EvictionPolicy;
import moed.cache.ExpertCache;
import moed.cache.TraceReplay;
import moed.runtime.model.RouterObserver;

/**
 * The experts routing chose, in order, with a flag on those of the phase being measured, replayed afterwards at the
 * live cache's capacity through LRU, the live cache's own policy and Belady's optimum. The replays see every access
 * from the first step on, as the live cache did, and count only the flagged ones, so their hit rates compare with
 * the live cache's "resident when routed" rate over the same accesses (the replays neither prefetch nor pin). As
 * the live cache is asked once per step for each expert a layer chose, a prompt step's tokens that chose the same
 * expert make one access: decisions of one layer arrive together, token by token, so a run of decisions of the same
 * layer is one step's (a one-layer model would merge consecutive steps).
 */
final class RoutingTrace implements RouterObserver {
    private final int experts;
    private int[] entries = new int[1024];
    private boolean[] counted = new boolean[1024];
    private int length;
    private boolean counting;
    private int blockLayer = -1;
    private final boolean[] inBlock;
    private final java.util.function.IntPredicate cachedLayer;

    RoutingTrace(int experts) {
        this(experts, layer -> true);
    }

    /** Records only the layers {@code cachedLayer} accepts: those the live cache serves (not pinned by -ot). */
    RoutingTrace(int experts, java.util.function.IntPredicate cachedLayer) {
        this.experts = experts;
        this.inBlock = new boolean[experts];
        this.cachedLayer = cachedLayer;
    }

    /** Whether the accesses from now on are among those measured. */
    void counting(boolean on) {
        counting = on;
    }

    @Override
    public void onRoute(long sequence, int pos, int layer, int[] ex, float[] weights, int k, int rerouted) {
        if (!cachedLayer.test(layer)) {
            return;
        }
        if (layer != blockLayer) {
            blockLayer = layer;
            Arrays.fill(inBlock, false);
        }
        for (int j = 0; j < k; j++) {
            if (inBlock[ex[j]]) {
                continue;
            }
            inBlock[ex[j]] = true;
            if (length == entries.length) {
                entries = Arrays.copyOf(entries, length * 2);
                counted = Arrays.copyOf(counted, length * 2);
            }
            entries[length] = layer * experts + ex[j];
            counted[length++] = counting;
        }
    }

    /** Accesses recorded so far. */
    int length() {
        return length;
    }

    /** The replays at the live cache's capacity and with its policy. */
    Map<String, Object> replay(ExpertCache cache) {
        return replay(cache.slotCount(), EvictionPolicy.Kind.valueOf(cache.policyName().toUpperCase(java.util.Locale.ROOT)));
    }

    /**
     * {@code replay_lru_hit_rate}, {@code replay_policy_hit_rate} (through {@code kind}) and
     * {@code replay_belady_hit_rate} over the measured accesses, with room for {@code cap} experts.
     */
    Map<String, Object> replay(int cap, EvictionPolicy.Kind kind) {
        int[] t = Arrays.copyOf(entries, length);
        boolean[] c = Arrays.copyOf(counted, length);
        long n = 0;
        int max = 0;
        for (int i = 0; i < length; i++) {
            n += c[i] ? 1 : 0;
            max = Math.max(max, t[i]);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        double d = Math.max(n, 1);
        m.put("replay_lru_hit_rate", TraceReplay.lruHits(t, cap, c)[1] / d);
        // The heat policy replays without the persisted prior (frequency alone).
        m.put("replay_policy_hit_rate", TraceReplay.policyHits(t, cap, kind.create(max + 1, null), c)[1] / d);
        m.put("replay_belady_hit_rate", TraceReplay.beladyHits(t, cap, c)[1] / d);
        return m;
    }
}
