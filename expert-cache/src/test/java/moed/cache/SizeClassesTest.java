package moed.cache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.SplittableRandom;
import moed.kernels.GgmlType;
import org.junit.jupiter.api.Test;

/**
 * How the budget is split between size classes, on the shape of DeepSeek-R1 in a 1.58-bit "dynamic" quantization:
 * 61 layers, the first three dense; 256 experts of 2048 x 7168 per layer, top-8; the first three MoE layers' experts
 * Q4_K, the next three Q2_K, the rest IQ1_S gate and up with an IQ2_XXS down (146 GiB of experts in all). Only the
 * sizes matter here, so the tensors point at no memory.
 */
class SizeClassesTest {
    static final int EXPERTS = 256;
    static final int TOP_K = 8;
    static final long MIB = 1L << 20;
    static final long GIB = 1L << 30;
    /** Bytes of one expert of each class, smallest first (gate + up + down). */
    static final long SMALL = 2 * 2_867_200L + 3_784_704L;
    static final long Q2K = 3 * 4_816_896L;
    static final long Q4K = 3 * 8_257_536L;

    static ExpertLayout.Layer layer(GgmlType gateUp, GgmlType down) {
        return new ExpertLayout.Layer(new ExpertLayout.Stacked(gateUp, MemorySegment.NULL, 0, EXPERTS, 2048, 7168),
                new ExpertLayout.Stacked(gateUp, MemorySegment.NULL, 0, EXPERTS, 2048, 7168),
                new ExpertLayout.Stacked(down, MemorySegment.NULL, 0, EXPERTS, 7168, 2048));
    }

    static ExpertLayout deepSeekR1() {
        ExpertLayout.Layer[] ls = new ExpertLayout.Layer[61];
        for (int l = 3; l < 61; l++) {
            ls[l] = l < 6 ? layer(GgmlType.Q4_K, GgmlType.Q4_K) : l < 9 ? layer(GgmlType.Q2_K, GgmlType.Q2_K)
                    : layer(GgmlType.IQ1_S, GgmlType.IQ2_XXS);
        }
        return new ExpertLayout(ls, EXPERTS);
    }

    /** The same model with every expert in one format (IQ1_S gate and up, IQ2_XXS down). */
    static ExpertLayout uniformR1() {
        ExpertLayout.Layer[] ls = new ExpertLayout.Layer[61];
        for (int l = 3; l < 61; l++) {
            ls[l] = layer(GgmlType.IQ1_S, GgmlType.IQ2_XXS);
        }
        return new ExpertLayout(ls, EXPERTS);
    }

    final ExpertLayout layout = deepSeekR1();
    final SizeClasses sizes = SizeClasses.of(layout, new MappedBackingStore());

    @Test
    void shouldGroupTheLayersBySlotSize() {
        assertEquals(3, sizes.count());
        assertArrayEquals(new long[] {SMALL, Q2K, Q4K}, new long[] {sizes.slotBytes(0), sizes.slotBytes(1), sizes.slotBytes(2)});
        assertEquals(List.of(3, 4, 5), sizes.layers(2));
        assertEquals(List.of(6, 7, 8), sizes.layers(1));
        assertEquals(52, sizes.layers(0).size());
        assertEquals(52 * EXPERTS, sizes.experts(0));
        assertEquals(-1, sizes.classOf(0), "a dense layer has no class");
        assertEquals(0, sizes.classOf(60));
        assertTrue(Q4K > 2.5 * SMALL, "the point of it all: an expert of one layer is 2.6x another's");
    }

    @Test
    void shouldSplitTheBudgetInProportionToWhatEachClassNeedsForAllItsExperts() {
        int[] slots = sizes.slotsWithin(24 * GIB, TOP_K);
        long used = 0;
        for (int c = 0; c < 3; c++) {
            used += slots[c] * sizes.slotBytes(c);
        }
        assertTrue(used <= 24 * GIB, "within the budget");
        long full = layout.totalExpertBytes();
        for (int c = 0; c < 3; c++) {
            long share = (long) (24.0 * GIB * sizes.experts(c) * sizes.slotBytes(c) / full);
            assertEquals(share / sizes.slotBytes(c), slots[c], 1, "class " + c + " gets its share");
        }
        // Every class holds the same fraction of its experts, so the whole holds budget / mean expert bytes.
        double fraction = 24.0 * GIB / full;
        for (int c = 0; c < 3; c++) {
            assertEquals(fraction, slots[c] / (double) sizes.experts(c), 1.0 / sizes.experts(c), "class " + c);
        }
        int maxSized = (int) (24 * GIB / Q4K);
        int total = slots[0] + slots[1] + slots[2];
        assertTrue(total > 2 * maxSized, total + " experts fit in slots by layer against " + maxSized + " in slots for the largest");
    }

    @Test
    void shouldStayWithinAnyBudgetAndLeaveLessThanASlotOfEachClassUnused() {
        long least = TOP_K * (SMALL + Q2K + Q4K);
        long full = layout.totalExpertBytes();
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 2000; i++) {
            long budget = least + r.nextLong(i < 1000 ? GIB : full - least);
            int[] slots = sizes.slotsWithin(budget, TOP_K);
            long used = 0;
            for (int c = 0; c < 3; c++) {
                assertTrue(slots[c] >= TOP_K && slots[c] <= sizes.experts(c), budget + ": class " + c + " has " + slots[c]);
                used += slots[c] * sizes.slotBytes(c);
            }
            assertTrue(used <= budget, budget + ": " + used + " used");
            // What is left is each class's rounding, less than one of its slots (plus a byte of the division).
            assertTrue(budget - used < SMALL + Q2K + Q4K + 3, budget + ": " + (budget - used) + " left unused");
        }
    }

    @Test
    void shouldGiveEveryClassOneLayersTopKEvenWhenItsShareIsLess() {
        // 1 GiB: the Q4_K class's share (12% of it) is 5 experts; it needs 8 at once, taken from the others' shares.
        int[] slots = sizes.slotsWithin(GIB, TOP_K);
        assertEquals(TOP_K, slots[2]);
        assertEquals(TOP_K, slots[1], "the Q2_K class's share (7%) is 5 too");
        long rest = GIB - TOP_K * (Q2K + Q4K);
        assertEquals(rest / SMALL, slots[0], "the smallest takes the rest");
    }

    @Test
    void shouldNeverGiveAClassMoreSlotsThanItHasExperts() {
        int[] slots = sizes.slotsWithin(1000 * GIB, TOP_K);
        for (int c = 0; c < 3; c++) {
            assertEquals(sizes.experts(c), slots[c]);
        }
    }

    @Test
    void shouldRefuseABudgetThatCannotGiveEveryClassOneLayersTopK() {
        long least = TOP_K * (SMALL + Q2K + Q4K);
        assertArrayEquals(new int[] {TOP_K, TOP_K, TOP_K}, sizes.slotsWithin(least, TOP_K));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sizes.slotsWithin(least - 1, TOP_K));
        assertEquals(String.format("a cache of %.1f MiB cannot hold one layer's top-k (8 experts) of each of this model's"
                + " 3 expert sizes (slots of %.2f, %.2f and %.2f MiB): raise the cache to at least %.1f MiB",
                (least - 1) / (double) MIB, SMALL / (double) MIB, Q2K / (double) MIB, Q4K / (double) MIB,
                least / (double) MIB), e.getMessage());
    }

    @Test
    void shouldSplitNothingWhenEveryLayersExpertsHaveOneSize() {
        ExpertLayout one = uniformR1();
        SizeClasses s = SizeClasses.of(one, new MappedBackingStore());
        assertEquals(1, s.count());
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 1000; i++) {
            long budget = TOP_K * SMALL + r.nextLong(one.totalExpertBytes() + GIB);
            // As before size classes: budget / slot bytes, at most every expert.
            assertEquals(Math.min(budget / SMALL, one.entryCount()), s.slotsWithin(budget, TOP_K)[0], "budget " + budget);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.slotsWithin(TOP_K * SMALL - 1, TOP_K));
        assertTrue(e.getMessage().startsWith("a cache of 72.6 MiB holds 7 experts of 9.08 MiB, but one layer's top-k needs 8:"
                + " raise the cache to at least 72.6 MiB"), e.getMessage());
    }
}
