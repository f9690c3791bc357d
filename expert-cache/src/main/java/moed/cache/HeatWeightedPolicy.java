package moed.cache;

import java.util.function.IntPredicate;

/**
 * Statistics-weighted: each entry's value is its persisted heat (its share of past activations, from the
 * statistics of earlier runs) plus its aged frequency in this run; the least valuable evictable entry goes, ties to
 * the older access. Access counts are halved every {@code 8 * entries} accesses, so experts that were hot long ago
 * fade and a phase change in the workload is followed; counts are kept for non-resident entries too, so an expert
 * that returns is remembered. Without heat it is LFU with ageing ({@link LfuPolicy}); with heat it keeps the experts
 * that were hot across runs instead of chasing the last few tokens.
 */
public class HeatWeightedPolicy implements EvictionPolicy {
    private final double[] heat;
    private final double[] count;
    private final long[] lastAccess;
    private final long agePeriod;
    private final String name;
    private long clock;

    public HeatWeightedPolicy(int entries, double[] heat) {
        this(entries, heat, "heat");
    }

    HeatWeightedPolicy(int entries, double[] heat, String name) {
        this.heat = heat != null ? heat : new double[entries];
        this.count = new double[entries];
        this.lastAccess = new long[entries];
        this.agePeriod = 8L * Math.max(entries, 1);
        this.name = name;
    }

    @Override
    public void onAccess(int entry) {
        count[entry] += 1;
        lastAccess[entry] = ++clock;
        if (clock % agePeriod == 0) {
            for (int i = 0; i < count.length; i++) {
                count[i] *= 0.5;
            }
        }
    }

    @Override
    public void onInsert(int entry) {
        lastAccess[entry] = ++clock;
    }

    @Override
    public void onEvict(int entry) {
    }

    /** Heat is an activation share (mean 1/entries); scaled to the same order as the recent counts. */
    private double value(int e) {
        return heat[e] * agePeriod + count[e];
    }

    @Override
    public int victim(int[] resident, int n, IntPredicate evictable) {
        int best = -1;
        double bestValue = 0;
        for (int i = 0; i < n; i++) {
            int e = resident[i];
            if (!evictable.test(e)) {
                continue;
            }
            double v = value(e);
            if (best < 0 || v < bestValue || (v == bestValue && lastAccess[e] < lastAccess[best])) {
                best = e;
                bestValue = v;
            }
        }
        return best;
    }

    @Override
    public String name() {
        return name;
    }
}
