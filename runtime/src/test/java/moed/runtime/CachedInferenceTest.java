package moed.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import moed.cache.Backing;
import moed.cache.CacheCounters;
import moed.cache.EvictionPolicy;
import moed.cache.ExpertCache;
import moed.cache.StatisticsStore;
import moed.kernels.GgmlType;
import moed.predictor.PredictorKind;
import moed.runtime.config.CacheOptions;
import moed.runtime.model.SyntheticModel;
import moed.runtime.sampling.SamplerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The correctness invariant under a cache: greedy tokens do not depend on its size, backing, policy or miss mode. */
class CachedInferenceTest {
    static final String PROMPT = "It is a truth universally acknowledged, that a single man";

    @TempDir
    Path dir;

    static int[] generate(Path model, CacheOptions o, int n) throws Exception {
        try (Engine e = Engine.open(model, 2, 256, 16, o)) {
            int[] ids = e.generate(PROMPT, n, SamplerConfig.GREEDY, null).generatedIds();
            if (e.cache() != null) {
                assertTrue(e.cache().residentBytes() <= e.cache().budgetBytes());
            }
            return ids;
        }
    }

    static CacheOptions cache(long bytes, String backing, String policy, ExpertCache.OnMiss miss) {
        return CacheOptions.of(new CacheOptions.Tier(bytes, Backing.valueOf(backing.toUpperCase()),
                EvictionPolicy.Kind.valueOf(policy.toUpperCase()), miss, 2));
    }

    /**
     * The slot a backing needs for an expert of three equal matrices: the expert itself padded to 64 bytes (mmap), or
     * each matrix's enclosing block-aligned span, which O_DIRECT reads straight into the slot (direct).
     */
    static long slot(Path model, String backing, long matrixBytes) throws Exception {
        if (backing.equals("mmap")) {
            return (3 * matrixBytes + 63) / 64 * 64;
        }
        long block = Math.max(512, java.nio.file.Files.getFileStore(model).getBlockSize());
        return 3 * ((matrixBytes + 2 * block - 1) / block * block);
    }

    void checkSizes(Path model, long matrixBytes, int topK, long totalExpertBytes) throws Exception {
        int[] reference = generate(model, CacheOptions.NONE, 24);
        for (int sizeIndex = 0; sizeIndex < 3; sizeIndex++) {
            for (String backing : new String[] {"mmap", "direct"}) {
                // The smallest cache that works: exactly one layer's top-k slots.
                long size = sizeIndex == 0 ? topK * slot(model, backing, matrixBytes)
                        : sizeIndex == 1 ? totalExpertBytes / 4 : totalExpertBytes / (3 * matrixBytes) * slot(model, backing, matrixBytes);
                for (String policy : new String[] {"lru", "lfu"}) {
                    int[] got = generate(model, cache(size, backing, policy, ExpertCache.OnMiss.WAIT), 24);
                    assertArrayEquals(reference, got, "cache " + size + " B, " + backing + ", " + policy);
                }
            }
            long size = sizeIndex == 0 ? topK * slot(model, "mmap", matrixBytes) : sizeIndex == 1 ? totalExpertBytes / 4 : totalExpertBytes;
            int[] direct = generate(model, cache(size, "mmap", "heat", ExpertCache.OnMiss.DIRECT), 24);
            assertArrayEquals(reference, direct, "cache " + size + " B, on-miss direct");
        }
    }

    @Test
    void sharedModelGivesTheSameTokensAtEveryCacheSize() throws Exception {
        // One Q8_0 expert of the default model: 3 matrices of 128 x 256 weights, 34816 bytes each.
        checkSizes(TestFiles.defaultModel(), 34_816, 4, 128L * 104_448);
    }

    @Test
    void syntheticModelGivesTheSameTokensAtEveryCacheSize() throws Exception {
        Path f = dir.resolve("s.gguf");
        SyntheticModel.write(new SyntheticModel.Spec(3, 256, 8, 4, 8, 2, 256, 400, GgmlType.Q4_K, 5, 256), f, (d, t) -> { });
        long matrix = GgmlType.Q4_K.bytesFor(256L * 256);
        checkSizes(f, matrix, 2, 3 * 8 * 3 * matrix);
    }

    @Test
    void refusesACacheSmallerThanOneLayersTopK() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> generate(TestFiles.defaultModel(), cache(200_000, "mmap", "lru", ExpertCache.OnMiss.WAIT), 1));
        assertTrue(e.getMessage().contains("one layer's top-k needs 4"), e.getMessage());
    }

    @Test
    void statisticsCountEveryRoutingDecisionAndPersist() throws Exception {
        CacheOptions o = CacheOptions.of(CacheOptions.Tier.of(1 << 20)).with(new CacheOptions.Statistics(dir, 0, 0));
        int tokens;
        CacheCounters k;
        try (Engine e = Engine.open(TestFiles.defaultModel(), 2, 256, 16, o)) {
            Engine.Generation g = e.generate(PROMPT, 10, SamplerConfig.GREEDY, null);
            // Every evaluated token: the prompt and every generated token but the last (never fed back).
            tokens = g.promptIds().length + g.generatedIds().length - 1;
            k = e.cache().counters();
        }
        try (Engine e = Engine.open(TestFiles.defaultModel(), 1, 64, 8, o)) {
            StatisticsStore st = e.statisticsStore();
            long activations = 0;
            long hits = 0;
            long misses = 0;
            for (int l = 0; l < 8; l++) {
                for (int x = 0; x < 16; x++) {
                    activations += st.expert(l, x)[StatisticsStore.ACTIVATIONS];
                    hits += st.expert(l, x)[StatisticsStore.HITS];
                    misses += st.expert(l, x)[StatisticsStore.MISSES];
                }
            }
            assertEquals((long) tokens * 8 * 4, activations, "8 layers x top-4 per token");
            assertEquals(k.hits, hits);
            assertEquals(k.misses, misses);
            long transitions = 0;
            for (int l = 0; l < 7; l++) {
                for (int x = 0; x < 16; x++) {
                    for (long c : st.transitions(l, x)) {
                        transitions += c;
                    }
                }
            }
            assertEquals((long) tokens * 7 * 4 * 4, transitions, "4 x 4 pairs between each of 7 consecutive layer pairs");
        }
    }

    @Test
    void predictorsNeverChangeTheTokens() throws Exception {
        Path model = TestFiles.defaultModel();
        int[] reference = generate(model, CacheOptions.NONE, 24);
        long expert = slot(model, "direct", 34_816);
        for (long size : new long[] {4 * expert, 32 * expert}) {
            for (String[] p : new String[][] {{"gate", "1", "0"}, {"gate", "2", "2"}, {"gate+prior", "1", "1"}}) {
                PredictorKind kind = java.util.Arrays.stream(PredictorKind.values()).filter(k -> k.toString().equals(p[0]))
                        .findFirst().orElseThrow();
                CacheOptions o = cache(size, "direct", "lru", ExpertCache.OnMiss.WAIT)
                        .with(new CacheOptions.Prefetch(kind, Integer.parseInt(p[1]), Integer.parseInt(p[2])));
                try (Engine e = Engine.open(model, 2, 256, 16, o)) {
                    int[] got = e.generate(PROMPT, 24, SamplerConfig.GREEDY, null).generatedIds();
                    assertArrayEquals(reference, got, size + " B with predictor " + String.join("/", p));
                    CacheCounters k = e.cache().counters();
                    assertTrue(k.prefetchIssued > 0, "the predictor issued prefetches");
                    assertTrue(k.prefetchUsed + k.prefetchWasted + k.prefetchCancelled <= k.prefetchIssued);
                    assertTrue(e.cache().residentBytes() <= e.cache().budgetBytes());
                }
            }
        }
    }

    @Test
    void warnsWhenTheCacheThrashesAndSaysWhatToDo() throws Exception {
        try (Engine e = Engine.open(TestFiles.defaultModel(), 2, 128, 16, cache(4L << 20, "mmap", "lru", ExpertCache.OnMiss.WAIT))) {
            CacheCounters before = new CacheCounters(128);
            CacheCounters calm = new CacheCounters(128);
            calm.hits = 900;
            calm.misses = 100;
            calm.stallNanos = 1_000_000;
            assertEquals(null, e.thrashWarning(before, calm, 1_000_000_000L), "a 90% hit rate is no thrashing");
            CacheCounters bad = new CacheCounters(128);
            bad.hits = 100;
            bad.misses = 900;
            bad.stallNanos = 700_000_000L;
            String w = e.thrashWarning(before, bad, 1_000_000_000L);
            assertTrue(w != null && w.contains("hit rate 10%") && w.contains("70% of the time") && w.contains("moed analyze"), w);
            assertEquals(null, e.thrashWarning(before, bad, 1_000_000_000L), "at most one warning a minute");
        }
    }
}
