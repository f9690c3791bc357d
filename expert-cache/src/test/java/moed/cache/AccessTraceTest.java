package moed.cache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AccessTraceTest {
    @Test
    void keepsAnEntryOncePerGroupAndStopsAtItsLength() {
        AccessTrace t = new AccessTrace(5);
        t.newGroup();
        t.add(3, false);
        t.add(7, false);
        t.add(3, false);  // the same step's routing of the layer asked for 3 already
        t.newGroup();
        t.add(3, true);   // a new group may repeat it
        t.add(2000, true);
        assertFalse(t.capped());
        t.add(9, true);
        t.add(10, true);  // beyond the five kept
        assertTrue(t.capped());
        t.trim();
        assertArrayEquals(new int[] {3, 7, 3, 2000, 9}, t.entries());
        assertArrayEquals(new boolean[] {false, false, true, true, true}, t.counted());
        assertEquals(5, t.length());
    }
}
