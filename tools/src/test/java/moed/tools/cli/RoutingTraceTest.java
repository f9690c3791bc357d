package moed.tools.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import moed.cache.EvictionPolicy;
import org.junit.jupiter.api.Test;

class RoutingTraceTest {
    @Test
    void replaysOneAccessPerStepAndExpertAndCountsOnlyTheMeasuredOnes() {
        RoutingTrace t = new RoutingTrace(4);
        float[] w = {0.5f, 0.5f};
        // A prompt step of two tokens (not measured): layer 0 chooses {0,1} and {1,2}, layer 1 {0,1} twice.
        t.onRoute(1, 0, 0, new int[] {0, 1}, w, 2, 0);
        t.onRoute(1, 1, 0, new int[] {1, 2}, w, 2, 0);
        t.onRoute(1, 0, 1, new int[] {0, 1}, w, 2, 0);
        t.onRoute(1, 1, 1, new int[] {0, 1}, w, 2, 0);
        assertEquals(5, t.length(), "the live cache sees entries 0, 1, 2 of layer 0 and 4, 5 of layer 1 once each");
        // One measured decode step: layer 0 {1,2}, layer 1 {0,3}: entries 1, 2, 4, 7.
        t.counting(true);
        t.onRoute(1, 2, 0, new int[] {1, 2}, w, 2, 0);
        t.onRoute(1, 2, 1, new int[] {0, 3}, w, 2, 0);
        assertEquals(9, t.length());
        // Room for two: trace 0 1 2 4 5 | 1 2 4 7. LRU keeps {4,5} when the measured part starts: no hit.
        // Belady keeps 1 through the prompt (its next use comes first), so the measured 1 hits: 1 of 4.
        Map<String, Object> r = t.replay(2, EvictionPolicy.Kind.LRU);
        assertEquals(0.0, (double) r.get("replay_lru_hit_rate"), 1e-12);
        assertEquals(0.0, (double) r.get("replay_policy_hit_rate"), 1e-12);
        assertEquals(0.25, (double) r.get("replay_belady_hit_rate"), 1e-12);
    }
}
