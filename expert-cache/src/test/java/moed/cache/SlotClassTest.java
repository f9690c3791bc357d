package moed.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** How the size classes read in start-up lines, bench JSON and recordings. */
class SlotClassTest {
    @Test
    void shouldNameTheLayersAsRanges() {
        assertEquals("3-60", new SlotClass(64, 1, 58 * 256, range(3, 60)).layerRanges());
        assertEquals("0-2, 5, 7-8", new SlotClass(64, 1, 6 * 256, List.of(0, 1, 2, 5, 7, 8)).layerRanges());
        assertEquals("4", new SlotClass(64, 1, 256, List.of(4)).layerRanges());
    }

    @Test
    void shouldDescribeEveryClassInOneLine() {
        List<SlotClass> classes = List.of(new SlotClass(9_519_104, 2187, 52 * 256, range(9, 60)),
                new SlotClass(24_772_608, 126, 3 * 256, range(3, 5)), new SlotClass(4096, 2, 256, List.of(61)));
        assertEquals("2187 of 13312 experts in slots of 9.078 MiB (layers 9-60); 126 of 768 experts in slots of 23.625 MiB"
                + " (layers 3-5); 2 of 256 experts in slots of 0.004 MiB (layer 61)", SlotClass.describe(classes));
    }

    private static List<Integer> range(int from, int to) {
        return java.util.stream.IntStream.rangeClosed(from, to).boxed().toList();
    }
}
