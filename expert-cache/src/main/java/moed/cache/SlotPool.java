package moed.cache;

import java.lang.foreign.MemorySegment;

/**
 * The slots of one size class: a run of equal slots in the cache's slab and the stack of those free. Not thread safe:
 * the cache uses it under its lock. Taking and giving back a slot allocate nothing.
 */
final class SlotPool {
    private final MemorySegment run;
    private final long slotBytes;
    private final int[] free;
    private int freeCount;

    SlotPool(MemorySegment run, long slotBytes, int slots) {
        this.run = run;
        this.slotBytes = slotBytes;
        this.free = new int[slots];
        for (int i = 0; i < slots; i++) {
            free[i] = slots - 1 - i; // slot 0 is taken first
        }
        this.freeCount = slots;
    }

    long slotBytes() {
        return slotBytes;
    }

    int slots() {
        return free.length;
    }

    boolean hasFree() {
        return freeCount > 0;
    }

    int take() {
        return free[--freeCount];
    }

    void give(int slot) {
        free[freeCount++] = slot;
    }

    /** Bytes of the slots taken (resident or loading). */
    long bytesInUse() {
        return (long) (free.length - freeCount) * slotBytes;
    }

    /** The memory of one slot. */
    MemorySegment slot(int slot) {
        return run.asSlice(slot * slotBytes, slotBytes);
    }
}
