package moed.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class PolicyTest {
    final int[] resident = {0, 1, 2, 3};

    @Test
    void lruEvictsTheLeastRecentlyUsedEvictableEntry() {
        LruPolicy p = new LruPolicy(4);
        for (int e : new int[] {0, 1, 2, 3}) {
            p.onInsert(e);
        }
        p.onAccess(0);
        p.onAccess(2);
        assertEquals(1, p.victim(resident, 4, e -> true));
        assertEquals(3, p.victim(resident, 4, e -> e != 1));
        assertEquals(-1, p.victim(resident, 4, e -> false));
    }

    @Test
    void lfuEvictsTheLeastUsedAndAgesCounts() {
        LfuPolicy p = new LfuPolicy(4);
        for (int e : new int[] {0, 1, 2, 3}) {
            p.onInsert(e);
        }
        for (int i = 0; i < 5; i++) {
            p.onAccess(0);
            p.onAccess(1);
        }
        p.onAccess(2);
        p.onAccess(3);
        p.onAccess(3);
        assertEquals(2, p.victim(resident, 4, e -> true));
    }

    @Test
    void heatKeepsHistoricallyHotEntriesOverRecentlyTouchedOnes() {
        double[] heat = {0.7, 0.1, 0.1, 0.1};
        HeatWeightedPolicy p = new HeatWeightedPolicy(4, heat);
        for (int e : new int[] {0, 1, 2, 3}) {
            p.onInsert(e);
        }
        p.onAccess(1);
        p.onAccess(2);
        p.onAccess(3);
        // Entry 0 was not touched in this run, but its persisted heat keeps it.
        assertEquals(1, p.victim(resident, 4, e -> true));
    }
}
