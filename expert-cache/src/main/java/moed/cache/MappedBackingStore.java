package moed.cache;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Experts read from the memory-mapped model file: a copy out of the page cache (which faults pages in from disk
 * on first touch, and may keep them, double-caching what the resident tier also holds).
 */
public final class MappedBackingStore implements BackingStore {
    private final String file;

    /** Over the mapping of {@code file}, named in error messages. */
    public MappedBackingStore(Path file) {
        this.file = file.toString();
    }

    /** Over mapped memory with no file to name (tests). */
    public MappedBackingStore() {
        this.file = "the mapped model file";
    }

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

    @Override
    public String describe() {
        return file;
    }
}
