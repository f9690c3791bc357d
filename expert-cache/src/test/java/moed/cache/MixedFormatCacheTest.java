package moed.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import moed.kernels.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cache over a file whose layers store their experts in different formats, as the low-bit "dynamic" quantizations
 * do: each layer's experts get slots of their own size, and an expert only ever evicts one of its own size class.
 */
class MixedFormatCacheTest {
    static final int EXPERTS = 8;
    static final int COLS = 256;
    /** Layer 0 Q4_K (6912 bytes an expert), 1 Q2_K (4032), 2-6 IQ1_S with an IQ2_XXS down (2656: slots of 2688), 7 IQ2_XXS (3168: 3200). */
    static final TestLayouts.Format[] FORMATS = {
            new TestLayouts.Format(GgmlType.Q4_K, GgmlType.Q4_K, 16, COLS),
            new TestLayouts.Format(GgmlType.Q2_K, GgmlType.Q2_K, 16, COLS),
            small(), small(), small(), small(), small(),
            new TestLayouts.Format(GgmlType.IQ2_XXS, GgmlType.IQ2_XXS, 16, COLS)};
    static final long[] SLOT = {6912, 4032, 2688, 2688, 2688, 2688, 2688, 3200};
    /** What a cache of every expert takes: 40 x 2688 + 8 x 3200 + 8 x 4032 + 8 x 6912. */
    static final long FULL = 220_672;

    static TestLayouts.Format small() {
        return new TestLayouts.Format(GgmlType.IQ1_S, GgmlType.IQ2_XXS, 16, COLS);
    }

    final MemorySegment data = TestLayouts.fill(FORMATS, EXPERTS);
    final ExpertLayout layout = TestLayouts.layout(data, FORMATS, EXPERTS);

    ExpertCache cache(ExpertLayout l, BackingStore backing, long budget) {
        return new ExpertCache(l, backing, new LruPolicy(l.layerCount() * EXPERTS), budget, 2, ExpertCache.OnMiss.WAIT, 2);
    }

    /** Experts read in place: the Q4_K and Q2_K layers' are interleaved into copies, but only when the copies fit the given share. */
    @Test
    void shouldInterleaveExpertsReadInPlaceOnlyWithinTheirShareOfMemory() {
        org.junit.jupiter.api.Assumptions.assumeTrue(moed.kernels.Interleaved.ENABLED
                && moed.kernels.Interleaved.worthwhile(GgmlType.Q4_K, 16), "skipped: interleaving is off here");
        long copies = MappedExpertSource.copyBytes(layout);
        assertEquals(EXPERTS * (6912L + 4032L), copies, "layer 0's Q4_K experts and layer 1's Q2_K ones");
        ExpertWeights w = MappedExpertSource.interleaved(layout, copies).acquire(0, 3);
        assertTrue(w.gate().interleaved() && w.up().interleaved() && w.down().interleaved());
        assertTrue(TestLayouts.intact(w, 0, 3));
        ExpertWeights q2 = MappedExpertSource.interleaved(layout, copies).acquire(1, 5);
        assertTrue(q2.gate().interleaved() && TestLayouts.intact(q2, 1, 5), "Q2_K");
        ExpertWeights iq = MappedExpertSource.interleaved(layout, copies).acquire(2, 1);
        assertTrue(!iq.gate().interleaved() && TestLayouts.intact(iq, 2, 1), "IQ1_S: as it lies");
        assertFalse(MappedExpertSource.interleaved(layout, copies - 1).acquire(0, 3).gate().interleaved(), "over the share");
    }

    @Test
    void shouldGiveEachLayersExpertsSlotsOfTheirOwnSize() throws Exception {
        assertEquals(FULL, layout.totalExpertBytes() + 5 * EXPERTS * (2688 - 2656) + EXPERTS * (3200 - 3168),
                "the sizes this test is about");
        try (ExpertCache c = cache(layout, new MappedBackingStore(), FULL / 2)) {
            for (int l = 0; l < FORMATS.length; l++) {
                assertEquals(SLOT[l], c.slotBytes(l), "layer " + l);
            }
            // Half the budget of a full cache: every class holds half its experts.
            assertEquals(List.of(2688L, 3200L, 4032L, 6912L), c.slotClasses().stream().map(SlotClass::slotBytes).toList());
            assertEquals(List.of(20, 4, 4, 4), c.slotClasses().stream().map(SlotClass::slots).toList());
            assertEquals(List.of(2, 3, 4, 5, 6), c.slotClasses().get(0).layers());
            assertEquals(32, c.slotCount());
            assertTrue(c.slotCount() > 2 * (FULL / 2 / 6912), "more than twice as many as slots for the largest expert hold");
            for (int l = 0; l < FORMATS.length; l++) {
                for (int e = 0; e < EXPERTS; e++) {
                    ExpertWeights w = c.acquire(l, e);
                    assertTrue(TestLayouts.intact(w, l, e), "expert " + l + "/" + e);
                    c.release(l, e);
                    assertTrue(c.residentBytes() <= c.budgetBytes(), "budget");
                }
            }
            assertEquals(FULL / 2, c.residentBytes(), "every slot in use, each counted at its own size");
        }
    }

    @Test
    void shouldEvictOnlyExpertsOfTheSizeClassThatNeedsASlot() throws Exception {
        // A quarter of a full cache: ten small slots, two of each other size.
        try (ExpertCache c = cache(layout, new MappedBackingStore(), FULL / 4)) {
            assertEquals(List.of(10, 2, 2, 2), c.slotClasses().stream().map(SlotClass::slots).toList());
            int[] large = {0, 1, 7};
            for (int l : large) {
                c.release(l, 0, c.acquire(l, 0));
                c.release(l, 1, c.acquire(l, 1));
            }
            // The large experts are now the least recently used: LRU over all entries would evict them first.
            SplittableRandom r = new SplittableRandom(5);
            for (int i = 0; i < 300; i++) {
                int l = 2 + r.nextInt(5);
                int e = r.nextInt(EXPERTS);
                ExpertWeights w = c.acquire(l, e);
                assertTrue(TestLayouts.intact(w, l, e));
                c.release(l, e);
            }
            assertTrue(c.counters().evictions > 150, "the small class churned: " + c.counters().evictions);
            for (int l : large) {
                assertTrue(c.isResident(l, 0) && c.isResident(l, 1), "layer " + l + "'s experts kept their slots");
            }
            assertEquals(10, residentOf(c, 2, 7), "the small class holds its ten");
            c.release(0, 2, c.acquire(0, 2)); // a Q4_K expert needs a slot: it evicts the older Q4_K one, nothing small
            assertFalse(c.isResident(0, 0));
            assertTrue(c.isResident(0, 1) && c.isResident(0, 2));
            assertEquals(10, residentOf(c, 2, 7));
            assertEquals(10 * 2688 + 2 * (3200 + 4032 + 6912), c.residentBytes());
        }
    }

    private static int residentOf(ExpertCache c, int fromLayer, int toLayer) {
        int n = 0;
        for (int l = fromLayer; l < toLayer; l++) {
            for (int e = 0; e < EXPERTS; e++) {
                n += c.isResident(l, e) ? 1 : 0;
            }
        }
        return n;
    }

    @Test
    void shouldRefuseABudgetThatCannotHoldOneLayersTopKOfEverySize() {
        long least = 2 * (2688 + 3200 + 4032 + 6912);
        try (ExpertCache c = cache(layout, new MappedBackingStore(), least)) {
            assertEquals(List.of(2, 2, 2, 2), c.slotClasses().stream().map(SlotClass::slots).toList());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> cache(layout, new MappedBackingStore(), least - 1));
        assertTrue(e.getMessage().contains("cannot hold one layer's top-k (2 experts) of each of this model's 4 expert sizes")
                && e.getMessage().endsWith(String.format("raise the cache to at least %.1f MiB", least / 1048576.0)), e.getMessage());
    }

    @Test
    void shouldTakeNoBudgetForLayersReadInPlace() throws Exception {
        boolean[] inPlace = new boolean[FORMATS.length];
        inPlace[0] = true; // the Q4_K layer, kept resident by a tensor override
        ExpertLayout served = layout.withoutLayers(inPlace);
        try (ExpertCache c = cache(served, new MappedBackingStore(), (FULL - EXPERTS * 6912) / 2)) {
            assertEquals(List.of(2688L, 3200L, 4032L), c.slotClasses().stream().map(SlotClass::slotBytes).toList());
            assertEquals(List.of(20, 4, 4), c.slotClasses().stream().map(SlotClass::slots).toList());
            assertEquals(0, c.slotBytes(0));
            assertFalse(c.warm(0, 1), "no slot for a layer read in place");
            assertFalse(c.prefetch(0, 1, 1));
            assertThrows(IllegalArgumentException.class, () -> c.acquire(0, 1));
            c.release(1, 1, c.acquire(1, 1));
            assertEquals(4032, c.residentBytes());
        }
    }

    @Test
    void shouldReadStraightIntoSlotsOfEachLayersAlignedSize(@TempDir Path dir) throws Exception {
        // Experts larger than a device block, so that the layers' aligned spans differ: Q4_K, and IQ1_S with IQ2_XXS.
        TestLayouts.Format[] formats = {new TestLayouts.Format(GgmlType.Q4_K, GgmlType.Q4_K, 64, COLS),
                new TestLayouts.Format(GgmlType.IQ1_S, GgmlType.IQ2_XXS, 64, COLS),
                new TestLayouts.Format(GgmlType.IQ1_S, GgmlType.IQ2_XXS, 64, COLS)};
        MemorySegment bytes = TestLayouts.fill(formats, EXPERTS);
        ExpertLayout l3 = TestLayouts.layout(bytes, formats, EXPERTS);
        Path f = dir.resolve("experts.gguf");
        TestLayouts.write(bytes, f);
        try (DirectBackingStore d = new DirectBackingStore(f, l3)) {
            long full = EXPERTS * (d.slotBytes(l3.layer(0)) + 2 * d.slotBytes(l3.layer(1)));
            try (ExpertCache c = cache(l3, d, full / 2)) {
                c.poisonFreedMemory();
                assertEquals(2, c.slotClasses().size(), c.slotClasses().toString());
                for (int l = 0; l < 3; l++) {
                    assertEquals(d.slotBytes(l3.layer(l)), c.slotBytes(l));
                    assertTrue(c.slotBytes(l) % d.blockSize() == 0 && c.slotBytes(l) > l3.layer(l).expertBytes());
                }
                for (int round = 0; round < 2; round++) {
                    for (int l = 0; l < 3; l++) {
                        for (int e = 0; e < EXPERTS; e++) {
                            ExpertWeights w = c.acquire(l, e);
                            assertTrue(TestLayouts.intact(w, l, e), "direct read of " + l + "/" + e);
                            // Read in place into an aligned slot: the matrix lies where its file offset falls in a block.
                            long off = l3.layer(l).gate().fileOffset(e);
                            assertEquals(0, (w.gate().data().address() - off) % d.blockSize(), "no staging copy for " + l + "/" + e);
                            c.release(l, e);
                        }
                    }
                }
                assertTrue(c.residentBytes() <= c.budgetBytes());
            }
        }
    }
}
