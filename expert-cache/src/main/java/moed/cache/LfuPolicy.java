package moed.cache;

/**
 * Least frequently used with ageing: the statistics-weighted policy without persisted heat (every entry's value is
 * its aged access count, since 0 * period + count == count exactly).
 */
public final class LfuPolicy extends HeatWeightedPolicy {
    public LfuPolicy(int entries) {
        super(entries, null, "lfu");
    }
}
