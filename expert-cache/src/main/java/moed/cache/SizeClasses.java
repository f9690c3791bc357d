package moed.cache;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.LongStream;

/**
 * The cache's size classes: the layers grouped by the bytes a slot needs for one of their experts (as the backing
 * lays it out, rounded up to 64), and how a byte budget is split between the groups. The low-bit "dynamic"
 * quantizations store the experts of different layers in different formats (most IQ1_S, some IQ2_XXS or Q2_K, the
 * first few Q4_K), so an expert of one layer can be 2-3x the bytes of another's: slots all sized for the largest
 * would hold a third as many of the small ones.
 *
 * <p>The budget is split in proportion to what each class needs to hold all its experts (its slot bytes times its
 * experts): every class then caches about the same fraction of its experts, and a budget holds about
 * budget / (mean slot bytes) experts in all. A class whose share is below {@code minSlots} (one layer's top-k, which
 * must fit at once) gets {@code minSlots}, and the others share what is left in the same proportion. No class gets
 * more slots than it has experts, and the slots of all classes together never take more than the budget.
 */
final class SizeClasses {
    private final int experts;
    /** Per layer: its class, or -1 for a layer with no experts in the cache. */
    private final int[] classOfLayer;
    /** Per class, ascending. */
    private final long[] slotBytes;
    /** Per class: how many layers it has. */
    private final int[] layers;

    private SizeClasses(int experts, int[] classOfLayer, long[] slotBytes, int[] layers) {
        this.experts = experts;
        this.classOfLayer = classOfLayer;
        this.slotBytes = slotBytes;
        this.layers = layers;
    }

    /** The classes of {@code layout}'s layers, with each layer's slot size as {@code backing} needs it. */
    static SizeClasses of(ExpertLayout layout, BackingStore backing) {
        int n = layout.layerCount();
        long[] perLayer = new long[n];
        for (int l = 0; l < n; l++) {
            perLayer[l] = layout.isMoe(l) ? (backing.slotBytes(layout.layer(l)) + 63) / 64 * 64 : -1;
        }
        long[] sizes = LongStream.of(perLayer).filter(b -> b >= 0).distinct().sorted().toArray();
        int[] classOfLayer = new int[n];
        int[] layers = new int[sizes.length];
        for (int l = 0; l < n; l++) {
            classOfLayer[l] = perLayer[l] < 0 ? -1 : Arrays.binarySearch(sizes, perLayer[l]);
            if (classOfLayer[l] >= 0) {
                layers[classOfLayer[l]]++;
            }
        }
        return new SizeClasses(layout.expertCount(), classOfLayer, sizes, layers);
    }

    int count() {
        return slotBytes.length;
    }

    /** The class of layer l's experts, or -1 when the cache holds none of that layer. */
    int classOf(int layer) {
        return classOfLayer[layer];
    }

    long slotBytes(int c) {
        return slotBytes[c];
    }

    /** How many experts the class has: its layers times the experts per layer. */
    int experts(int c) {
        return layers[c] * experts;
    }

    /** The layers of class c, ascending. */
    List<Integer> layers(int c) {
        List<Integer> ls = new ArrayList<>();
        for (int l = 0; l < classOfLayer.length; l++) {
            if (classOfLayer[l] == c) {
                ls.add(l);
            }
        }
        return ls;
    }

    /** Bytes class c needs to hold every one of its experts: its share of the budget is in proportion to this. */
    private long fullBytes(int c) {
        return experts(c) * slotBytes[c];
    }

    /**
     * Slots per class within {@code budget} bytes, as the class comment says; throws when the budget cannot give
     * every class {@code minSlots} slots, naming the MiB that would take.
     */
    int[] slotsWithin(long budget, int minSlots) {
        int k = count();
        int[] least = new int[k];
        long required = 0;
        long full = 0;
        for (int c = 0; c < k; c++) {
            least[c] = Math.min(minSlots, experts(c));
            required += least[c] * slotBytes[c];
            full += fullBytes(c);
        }
        if (budget < required) {
            throw new IllegalArgumentException(refusal(budget, minSlots, required));
        }
        int[] slots = new int[k];
        if (budget >= full) {
            for (int c = 0; c < k; c++) {
                slots[c] = experts(c);
            }
            return slots;
        }
        // Proportional shares of what the classes held at their least have not taken. Raising a class to its least
        // leaves the others less, so a share that falls short stays short: repeat until none does.
        boolean[] atLeast = new boolean[k];
        boolean raised = true;
        while (raised) {
            raised = false;
            long rest = budget;
            long restFull = 0;
            for (int c = 0; c < k; c++) {
                if (atLeast[c]) {
                    rest -= least[c] * slotBytes[c];
                } else {
                    restFull += fullBytes(c);
                }
            }
            for (int c = 0; c < k; c++) {
                if (atLeast[c]) {
                    slots[c] = least[c];
                    continue;
                }
                long share = mulDiv(rest, fullBytes(c), restFull);
                slots[c] = (int) Math.min(share / slotBytes[c], experts(c));
                if (slots[c] < least[c]) {
                    atLeast[c] = true;
                    raised = true;
                }
            }
        }
        return slots;
    }

    private String refusal(long budget, int minSlots, long required) {
        if (count() == 1) {
            long slot = slotBytes[0];
            return String.format(
                    "a cache of %.1f MiB holds %d experts of %.2f MiB, but one layer's top-k needs %d: raise the cache to at least %.1f MiB",
                    budget / 1048576.0, budget / slot, slot / 1048576.0, minSlots, required / 1048576.0);
        }
        StringBuilder sizes = new StringBuilder();
        for (int c = 0; c < count(); c++) {
            sizes.append(c == 0 ? "" : c == count() - 1 ? " and " : ", ").append(String.format("%.2f", slotBytes[c] / 1048576.0));
        }
        return String.format(
                "a cache of %.1f MiB cannot hold one layer's top-k (%d experts) of each of this model's %d expert sizes"
                        + " (slots of %s MiB): raise the cache to at least %.1f MiB",
                budget / 1048576.0, minSlots, count(), sizes, required / 1048576.0);
    }

    /** a * b / c rounded down: budgets and byte counts reach 2^40, so their product does not fit a long. */
    private static long mulDiv(long a, long b, long c) {
        return BigInteger.valueOf(a).multiply(BigInteger.valueOf(b)).divide(BigInteger.valueOf(c)).longValue();
    }
}
