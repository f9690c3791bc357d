package moed.cache;

import java.util.function.IntPredicate;

/** Least recently used: evicts the evictable entry whose last access is oldest. */
public final class LruPolicy implements EvictionPolicy {
    private final long[] lastAccess;
    private long clock;

    public LruPolicy(int entries) {
        lastAccess = new long[entries];
    }

    @Override
    public void onAccess(int entry) {
        lastAccess[entry] = ++clock;
    }

    @Override
    public void onInsert(int entry) {
        lastAccess[entry] = ++clock;
    }

    @Override
    public void onEvict(int entry) {
        lastAccess[entry] = 0;
    }

    @Override
    public int victim(int[] resident, int n, IntPredicate evictable) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            int e = resident[i];
            if (evictable.test(e) && (best < 0 || lastAccess[e] < lastAccess[best])) {
                best = e;
            }
        }
        return best;
    }

    @Override
    public String name() {
        return "lru";
    }
}
