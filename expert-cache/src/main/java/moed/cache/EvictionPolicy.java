package moed.cache;

import java.util.function.IntPredicate;

/**
 * Chooses which resident expert to drop when a slot is needed. Entries are identified by their index
 * {@code layer * experts + expert}. Called with the cache's lock held: implementations need no locking of their
 * own and must not block.
 */
public interface EvictionPolicy {
    /** The entry was read by the forward pass (a hit, or the first use after a load). */
    void onAccess(int entry);

    /** The entry became resident. */
    void onInsert(int entry);

    /** The entry left the resident tier. */
    void onEvict(int entry);

    /**
     * The entry to evict among {@code resident[0..n)} for which {@code evictable} holds, or -1 if none may go.
     */
    int victim(int[] resident, int n, IntPredicate evictable);

    String name();

    /** Creates a policy by its CLI name: lru, lfu, heat (statistics-weighted, needs heat priors). */
    static EvictionPolicy create(String name, int entries, double[] heat) {
        return switch (name) {
            case "lru" -> new LruPolicy(entries);
            case "lfu" -> new LfuPolicy(entries);
            case "heat" -> new HeatWeightedPolicy(entries, heat);
            default -> throw new IllegalArgumentException("unknown --cache-policy '" + name + "'; choose lru, lfu or heat");
        };
    }
}
