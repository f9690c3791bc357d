package moed.cache;

import java.util.Arrays;

/**
 * The expert accesses a cache sees, in order, for replaying through {@link TraceReplay}: entry ids
 * ({@code layer * experts + expert}), each with a flag saying whether it is among the accesses being measured (the
 * replays count hits of flagged accesses only, with the others as history). The live cache is asked once per step
 * for each expert a layer chose, however many of the step's tokens chose it: so accesses come in groups (one step's
 * routing of one layer) and an entry is kept once per group. Grows to at most {@code maxLength} accesses; later
 * ones are dropped and {@link #capped} says so.
 */
public final class AccessTrace {
    private final int maxLength;
    private int[] entries = new int[1024];
    private boolean[] counted = new boolean[1024];
    private int length;
    private int groupStart;
    private boolean capped;
    /** Per entry id: whether it is in the current group (cleared when the next group begins). */
    private boolean[] inGroup = new boolean[0];

    public AccessTrace(int maxLength) {
        this.maxLength = maxLength;
    }

    /** The accesses from here on are another step's, or another layer's: they may repeat the last group's entries. */
    public void newGroup() {
        for (int i = groupStart; i < length; i++) {
            inGroup[entries[i]] = false;
        }
        groupStart = length;
    }

    /** Adds an access of {@code entry} unless the current group has it already. */
    public void add(int entry, boolean measured) {
        if (entry >= inGroup.length) {
            inGroup = Arrays.copyOf(inGroup, Math.max(entry + 1, 2 * inGroup.length));
        }
        if (inGroup[entry]) {
            return;
        }
        if (length == maxLength) {
            capped = true;
            return;
        }
        if (length == entries.length) {
            int n = (int) Math.min(maxLength, 2L * entries.length);
            entries = Arrays.copyOf(entries, n);
            counted = Arrays.copyOf(counted, n);
        }
        inGroup[entry] = true;
        counted[length] = measured;
        entries[length++] = entry;
    }

    public int length() {
        return length;
    }

    /** Whether accesses were dropped at {@code maxLength}. */
    public boolean capped() {
        return capped;
    }

    /**
     * Shrinks the storage to the accesses recorded; then {@link #entries} and {@link #counted} are the trace itself,
     * not copies, so a long trace is held once. No access may be added afterwards.
     */
    public void trim() {
        entries = Arrays.copyOf(entries, length);
        counted = Arrays.copyOf(counted, length);
        inGroup = null;
    }

    /** The entries accessed, in order (after {@link #trim}). */
    public int[] entries() {
        return entries;
    }

    /** Per access: whether it is measured (after {@link #trim}). */
    public boolean[] counted() {
        return counted;
    }
}
