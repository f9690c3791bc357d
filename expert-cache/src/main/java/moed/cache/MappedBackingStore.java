package moed.cache;

import java.lang.foreign.MemorySegment;

/**
 * Experts read from the memory-mapped model file: a copy out of the page cache (which faults pages in from disk
 * on first touch, and may keep them, double-caching what the resident tier also holds).
 */
public final class MappedBackingStore implements BackingStore {
    @Override
    public void read(ExpertLayout.Layer layer, int expert, MemorySegment dst) {
        long at = 0;
        for (ExpertLayout.Stacked s : new ExpertLayout.Stacked[] {layer.gate(), layer.up(), layer.down()}) {
            long n = s.expertBytes();
            MemorySegment.copy(s.data(), expert * n, dst, at, n);
            at += n;
        }
    }

    @Override
    public ExpertWeights inPlace(ExpertLayout.Layer layer, int expert) {
        return new ExpertWeights(layer.gate().expert(expert), layer.up().expert(expert), layer.down().expert(expert));
    }

    @Override
    public String name() {
        return "mmap";
    }
}
