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

    /** The policies there are; {@link #toString()} is the name settings and reports use. */
    enum Kind {
        /** Least recently used. */
        LRU("lru"),
        /** Least frequently used, with ageing. */
        LFU("lfu"),
        /** Frequency weighted by the heat persisted from earlier runs. */
        HEAT("heat");

        private final String label;

        Kind(String label) {
            this.label = label;
        }

        /** A policy of this kind over {@code entries} entries; {@code heat} (per entry, or null) seeds HEAT. */
        public EvictionPolicy create(int entries, double[] heat) {
            return switch (this) {
                case LRU -> new LruPolicy(entries);
                case LFU -> new LfuPolicy(entries);
                case HEAT -> new HeatWeightedPolicy(entries, heat);
            };
        }

        @Override
        public String toString() {
            return label;
        }
    }
}
