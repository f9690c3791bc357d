package moed.cache;

import java.util.function.IntPredicate;

/**
 * Least frequently used with ageing: access counts are halved every {@code 8 * entries} accesses, so experts
 * that were hot long ago fade and a phase change in the workload is followed. Ties go to the older access.
 * Counts are kept for non-resident entries too, so an expert that returns is remembered.
 */
public final class LfuPolicy implements EvictionPolicy {
    private final double[] count;
    private final long[] lastAccess;
    private final long agePeriod;
    private long clock;

    public LfuPolicy(int entries) {
        count = new double[entries];
        lastAccess = new long[entries];
        agePeriod = 8L * Math.max(entries, 1);
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

    @Override
    public int victim(int[] resident, int n, IntPredicate evictable) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            int e = resident[i];
            if (!evictable.test(e)) {
                continue;
            }
            if (best < 0 || count[e] < count[best] || (count[e] == count[best] && lastAccess[e] < lastAccess[best])) {
                best = e;
            }
        }
        return best;
    }

    @Override
    public String name() {
        return "lfu";
    }
}
