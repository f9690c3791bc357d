package moed.cache;

import java.util.List;

/**
 * One size class of an {@link ExpertCache}, for reports: {@code slots} slots of {@code slotBytes} each for the
 * {@code experts} experts of {@code layers} (those layers store their experts in a format of this size).
 */
public record SlotClass(long slotBytes, int slots, int experts, List<Integer> layers) {
    public SlotClass {
        layers = List.copyOf(layers);
    }

    /** The layers as ranges: "3-60", "0-2, 61". */
    public String layerRanges() {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < layers.size(); ) {
            int j = i;
            while (j + 1 < layers.size() && layers.get(j + 1) == layers.get(j) + 1) {
                j++;
            }
            s.append(s.isEmpty() ? "" : ", ").append(layers.get(i));
            if (j > i) {
                s.append('-').append(layers.get(j));
            }
            i = j + 1;
        }
        return s.toString();
    }

    /** "232 of 1392 experts in slots of 0.516 MiB (layers 3-60)". */
    @Override
    public String toString() {
        return String.format("%d of %d experts in slots of %.3f MiB (layer%s %s)", slots, experts, slotBytes / 1048576.0,
                layers.size() == 1 ? "" : "s", layerRanges());
    }

    /** Every class, smallest slots first, separated by "; ": one line for a start-up report or a recording. */
    public static String describe(List<SlotClass> classes) {
        StringBuilder s = new StringBuilder();
        for (SlotClass c : classes) {
            s.append(s.isEmpty() ? "" : "; ").append(c);
        }
        return s.toString();
    }
}
