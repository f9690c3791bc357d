package moed.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import moed.cache.Backing;
import moed.cache.EvictionPolicy;
import moed.cache.ExpertCache;
import moed.runtime.config.CacheOptions;
import moed.runtime.config.Setting;
import moed.runtime.config.SettingException;
import moed.runtime.model.RoutingOptions;
import moed.runtime.sampling.SamplerConfig;
import org.junit.jupiter.api.Test;

/** Smart expert reduction, cache-aware routing, skipped layers and tensor overrides do what they say. */
class RoutingKnobsTest {
    static final String PROMPT = "It is a truth universally acknowledged, that a single man";

    static int[] run(Engine e) {
        return e.generate(PROMPT, 16, SamplerConfig.GREEDY, null).generatedIds();
    }

    @Test
    void serAtZeroIsTheModelAndAtOneKeepsExactlyKmin() throws Exception {
        try (Engine e = Engine.open(TestFiles.defaultModel(), 2, 128, 16)) {
            int[] base = run(e);
            e.routing(RoutingOptions.ser("1,0", RoutingOptions.DEFAULT));
            assertArrayEquals(base, run(e), "t = 0 keeps every rank: the model's own routing");
            e.routing(RoutingOptions.ser("4,0.5", RoutingOptions.DEFAULT));
            assertArrayEquals(base, run(e), "Kmin = K keeps every rank");
            int[] maxK = new int[1];
            int[] minK = {Integer.MAX_VALUE};
            e.observe((seq, pos, layer, ex, w, k, rerouted) -> {
                maxK[0] = Math.max(maxK[0], k);
                minK[0] = Math.min(minK[0], k);
                float sum = 0;
                for (int j = 0; j < k; j++) {
                    sum += w[j];
                }
                assertEquals(1f, sum, 1e-5f, "weights renormalized over the kept experts");
            });
            e.routing(RoutingOptions.ser("2,1", RoutingOptions.DEFAULT));
            run(e);
            assertEquals(2, maxK[0]);
            assertEquals(2, minK[0]);
            maxK[0] = 0;
            minK[0] = Integer.MAX_VALUE;
            e.routing(RoutingOptions.ser("1,0.3", RoutingOptions.DEFAULT));
            run(e);
            assertTrue(minK[0] >= 1 && maxK[0] <= 4 && minK[0] < maxK[0], minK[0] + ".." + maxK[0]);
            assertThrows(IllegalArgumentException.class, () -> e.routing(RoutingOptions.ser("5,0.1", RoutingOptions.DEFAULT)));
            assertThrows(IllegalArgumentException.class, () -> RoutingOptions.ser("2", RoutingOptions.DEFAULT));
        }
    }

    @Test
    void cacheAwareRoutingReplacesOnlyLowerRanksAndOnlyWhenAsked() throws Exception {
        CacheOptions cache = CacheOptions.of(new CacheOptions.Tier(3L << 20, Backing.MMAP, EvictionPolicy.Kind.LFU, ExpertCache.OnMiss.WAIT, 2));
        int[] base;
        try (Engine plain = Engine.open(TestFiles.defaultModel(), 2, 128, 16)) {
            base = run(plain);
        }
        try (Engine e = Engine.open(TestFiles.defaultModel(), 2, 128, 16, cache)) {
            e.routing(RoutingOptions.DEFAULT.withCacheAwareMargin(0f));
            assertArrayEquals(base, run(e));
            assertEquals(0, e.transformer().rerouted());
            e.routing(RoutingOptions.DEFAULT.withCacheAwareMargin(0.2f));
            run(e);
            assertTrue(e.transformer().rerouted() > 0, "a 30% cache misses often enough for a 0.2 margin to fire");
        }
        try (Engine e = Engine.open(TestFiles.defaultModel(), 2, 128, 16)) {
            var ex = assertThrows(IllegalArgumentException.class, () -> e.routing(RoutingOptions.DEFAULT.withCacheAwareMargin(0.1f)));
            assertTrue(ex.getMessage().contains("give the cache a size"), ex.getMessage());
            assertEquals(Setting.CACHE_AWARE_ROUTING, ((SettingException) ex).setting());
        }
    }

    @Test
    void skippedMoeLayersAreNotRoutedAndChangeTheOutput() throws Exception {
        try (Engine e = Engine.open(TestFiles.defaultModel(), 2, 128, 16)) {
            int[] base = run(e);
            boolean[] routed = new boolean[8];
            e.observe((seq, pos, layer, ex, w, k, rerouted) -> routed[layer] = true);
            e.routing(RoutingOptions.skip("moe:6-7,attn:2", 8, RoutingOptions.DEFAULT));
            int[] skipped = run(e);
            assertFalse(routed[6] || routed[7]);
            assertTrue(routed[2], "layer 2 skips only its attention");
            assertFalse(java.util.Arrays.equals(base, skipped));
            assertThrows(IllegalArgumentException.class, () -> RoutingOptions.skip("9", 8, RoutingOptions.DEFAULT));
            assertThrows(IllegalArgumentException.class, () -> RoutingOptions.skip("moe:x", 8, RoutingOptions.DEFAULT));
        }
    }

    @Test
    void overriddenExpertTensorsBypassTheCache() throws Exception {
        CacheOptions cache = CacheOptions.of(CacheOptions.Tier.of(3L << 20));
        int[] base;
        try (Engine plain = Engine.open(TestFiles.defaultModel(), 2, 128, 16)) {
            base = run(plain);
        }
        try (Engine e = Engine.open(TestFiles.defaultModel(), 2, 128, 16, cache, TensorOverrides.parse(List.of("blk\\.[0-3]\\.ffn_.*_exps=resident")))) {
            long[] decisionsHigh = new long[1];
            e.observe((seq, pos, layer, ex, w, k, rerouted) -> {
                if (layer >= 4) {
                    decisionsHigh[0]++;
                }
            });
            assertArrayEquals(base, run(e));
            var k = e.cache().counters();
            long accesses = k.accesses();
            assertTrue(accesses > 0 && accesses <= decisionsHigh[0] * 4, "only layers 4-7 go through the cache: " + accesses);
            assertTrue(e.startupReport().stream().anyMatch(l -> l.contains("matches 12 tensors")), e.startupReport().toString());
            // None of the budget goes to the pinned layers: the cache's one size class is layers 4-7's.
            assertEquals(List.of(4, 5, 6, 7), e.cache().slotClasses().getFirst().layers());
            assertTrue(e.startupReport().stream().anyMatch(l -> l.contains("; one expert is ")), e.startupReport().toString());
        }
        var ex = assertThrows(IllegalArgumentException.class, () -> Engine.open(TestFiles.defaultModel(), 2, 128, 16, cache,
                TensorOverrides.parse(List.of("token_embd=backing"))));
        assertTrue(ex.getMessage().contains("only expert tensors"), ex.getMessage());
    }
}
