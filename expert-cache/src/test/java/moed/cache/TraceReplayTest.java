package moed.cache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Hand-checkable traces with known hit counts. */
class TraceReplayTest {
    @Test
    void cyclicTraceLargerThanTheCacheDefeatsLruButNotBelady() {
        // 1 2 3 1 2 3 ... with 2 slots: LRU always evicts what comes next (0 hits);
        // Belady keeps one of them: misses 1, 2, 3 then hits every other access.
        int[] t = {1, 2, 3, 1, 2, 3, 1, 2, 3};
        assertEquals(0, TraceReplay.lruHits(t, 2));
        // Belady: 1m 2m 3m(evict 2, used after 1) 1h 2m(evict 1? next uses: 3@5, 1@6 -> evict 1) 3h 1m(evict 3? 2@7,3@8 -> evict 3) 2h 3m
        assertEquals(3, TraceReplay.beladyHits(t, 2));
    }

    @Test
    void frequentEntrySurvivesUnderLfu() {
        int[] t = {1, 1, 1, 2, 3, 1, 4, 1};
        // LFU keeps 1 (count 3+): hits on 1 at positions 1, 2, 5, 7 = 4 (too short a trace for ageing to act).
        assertEquals(4, TraceReplay.agedFrequencyHits(t, 2, 5, null, null)[0]);
        // LRU with 2 slots: 1m 1h 1h 2m 3m(evict 1) 1m(evict 2) 4m(evict 3) 1h = 3.
        assertEquals(3, TraceReplay.lruHits(t, 2));
    }

    @Test
    void beladyIsAnUpperBoundOnRandomTraces() {
        SplittableRandom r = new SplittableRandom(3);
        int[] t = new int[2000];
        for (int i = 0; i < t.length; i++) {
            t[i] = r.nextInt(3) == 0 ? r.nextInt(40) : r.nextInt(8);
        }
        for (int c : new int[] {1, 4, 10, 40}) {
            long opt = TraceReplay.beladyHits(t, c);
            assertTrue(opt >= TraceReplay.lruHits(t, c), "capacity " + c);
            assertTrue(opt >= TraceReplay.agedFrequencyHits(t, c, 40, null, null)[0], "capacity " + c);
        }
        // With room for every entry, every repeat hits: accesses minus distinct entries.
        long distinct = java.util.Arrays.stream(t).distinct().count();
        assertEquals(t.length - distinct, TraceReplay.beladyHits(t, 40));
        assertEquals(t.length - distinct, TraceReplay.lruHits(t, 40));
    }

    @Test
    void replayThroughTheCachesOwnLruAgreesWithTheReferenceLru() {
        SplittableRandom r = new SplittableRandom(11);
        int[] t = new int[3000];
        for (int i = 0; i < t.length; i++) {
            t[i] = r.nextInt(4) == 0 ? r.nextInt(64) : r.nextInt(12);
        }
        for (int c : new int[] {1, 5, 12, 30, 64}) {
            assertEquals(TraceReplay.lruHits(t, c), TraceReplay.policyHits(t, c, new LruPolicy(64)), "capacity " + c);
            assertTrue(TraceReplay.beladyHits(t, c) >= TraceReplay.policyHits(t, c, new LfuPolicy(64)), "capacity " + c);
            assertTrue(TraceReplay.beladyHits(t, c) >= TraceReplay.policyHits(t, c, new HeatWeightedPolicy(64, null)), "capacity " + c);
        }
    }

    @Test
    void maskedCountsSplitTheHits() {
        SplittableRandom r = new SplittableRandom(5);
        int[] t = new int[1000];
        boolean[] even = new boolean[t.length];
        boolean[] odd = new boolean[t.length];
        for (int i = 0; i < t.length; i++) {
            t[i] = r.nextInt(20);
            even[i] = i % 2 == 0;
            odd[i] = !even[i];
        }
        long[] a = TraceReplay.policyHits(t, 8, new LruPolicy(20), even);
        long[] b = TraceReplay.policyHits(t, 8, new LruPolicy(20), odd);
        assertEquals(a[0], b[0]);
        assertEquals(a[0], a[1] + b[1]);
        long[] ba = TraceReplay.beladyHits(t, 8, even);
        long[] bb = TraceReplay.beladyHits(t, 8, odd);
        assertEquals(ba[0], ba[1] + bb[1]);
        assertEquals(TraceReplay.beladyHits(t, 8), ba[0]);
    }

    @Test
    void fastAgedFrequencyReplayEqualsTheLivePolicies() {
        SplittableRandom r = new SplittableRandom(17);
        int entries = 24; // ages every 192 accesses: many ageing rounds in a 5000-access trace
        int[] t = new int[5000];
        double[] heat = new double[entries];
        for (int e = 0; e < entries; e++) {
            heat[e] = r.nextDouble() / entries;
        }
        boolean[] counted = new boolean[t.length];
        for (int i = 0; i < t.length; i++) {
            t[i] = r.nextInt(3) == 0 ? r.nextInt(entries) : r.nextInt(6);
            counted[i] = r.nextBoolean();
        }
        for (int c : new int[] {1, 2, 5, 9, 24}) {
            assertArrayEquals(TraceReplay.policyHits(t, c, new LruPolicy(entries), counted), TraceReplay.lruHits(t, c, counted),
                    "lru, capacity " + c);
            assertArrayEquals(TraceReplay.policyHits(t, c, new LfuPolicy(entries), counted),
                    TraceReplay.agedFrequencyHits(t, c, entries, null, counted), "lfu, capacity " + c);
            assertArrayEquals(TraceReplay.policyHits(t, c, new HeatWeightedPolicy(entries, heat), counted),
                    TraceReplay.agedFrequencyHits(t, c, entries, heat, counted), "heat, capacity " + c);
        }
    }
}
