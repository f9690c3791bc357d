package moed.tools.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntPredicate;
import moed.cache.AccessTrace;
import moed.cache.EvictionPolicy;
import moed.cache.ExpertCache;
import moed.cache.TraceReplay;
import moed.runtime.model.RouterObserver;

/**
 * The experts routing chose, as the live cache saw them ({@link AccessTrace}), with a flag on those of the phase
 * being measured, replayed afterwards at the live cache's capacity through LRU, the live cache's own policy and
 * Belady's optimum. The replays see every access from the first step on, as the live cache did, and count only the
 * flagged ones, so their hit rates compare with the live cache's "resident when routed" rate over the same accesses
 * (the replays neither prefetch nor pin). Decisions of one layer arrive together, token by token, so a run of
 * decisions of the same layer is one step's routing of it (a one-layer model would merge consecutive steps).
 */
final class RoutingTrace implements RouterObserver {
    private final int experts;
    private final IntPredicate cachedLayer;
    private final AccessTrace trace = new AccessTrace(Integer.MAX_VALUE - 8);
    private boolean counting;
    private int groupLayer = -1;

    RoutingTrace(int experts) {
        this(experts, layer -> true);
    }

    /** Records only the layers {@code cachedLayer} accepts: those the live cache serves (not pinned by -ot). */
    RoutingTrace(int experts, IntPredicate cachedLayer) {
        this.experts = experts;
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
        if (layer != groupLayer) {
            groupLayer = layer;
            trace.newGroup();
        }
        for (int j = 0; j < k; j++) {
            trace.add(layer * experts + ex[j], counting);
        }
    }

    /** Accesses recorded so far. */
    int length() {
        return trace.length();
    }

    /** The replays at the live cache's capacity and with its policy. */
    Map<String, Object> replay(ExpertCache cache) {
        return replay(cache.slotCount(), EvictionPolicy.Kind.valueOf(cache.policyName().toUpperCase(java.util.Locale.ROOT)));
    }

    /**
     * {@code replay_lru_hit_rate}, {@code replay_policy_hit_rate} (through {@code kind}) and
     * {@code replay_belady_hit_rate} over the measured accesses, with room for {@code cap} experts. Ends the
     * recording: nothing may be added afterwards.
     */
    Map<String, Object> replay(int cap, EvictionPolicy.Kind kind) {
        trace.trim();
        int[] t = trace.entries();
        boolean[] c = trace.counted();
        long n = 0;
        int max = 0;
        for (int i = 0; i < t.length; i++) {
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
