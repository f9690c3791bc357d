package moed.predictor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class RankPrecisionTest {
    @Test
    void isOptimisticUntilScoredThenCountsWhatCameTrue() {
        RankPrecision p = new RankPrecision(2, 8, 4);
        for (int i = 0; i < 3; i++) {
            p.record(1, 5, false);
        }
        assertEquals(1.0, p.precision(1, 5), "three scores are not yet enough: prefetch");
        p.record(1, 5, true);
        assertEquals(0.25, p.precision(1, 5), 1e-12);
        // Ranks and distances are tallied apart.
        assertEquals(1.0, p.precision(1, 4));
        assertEquals(1.0, p.precision(0, 5));
        for (int i = 0; i < 10; i++) {
            p.record(0, 0, i % 5 != 0);
        }
        assertEquals(0.8, p.precision(0, 0), 1e-12);
    }
}
