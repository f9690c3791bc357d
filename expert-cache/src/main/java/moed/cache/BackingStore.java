package moed.cache;

import java.lang.foreign.MemorySegment;

/**
 * Where experts live when they are not resident: reads one expert's three slices into a contiguous buffer laid
 * out gate | up | down. Thread safe: loader threads read concurrently.
 */
public interface BackingStore extends AutoCloseable {
    /** Copies expert e of layer l into dst (at least its expertBytes long). */
    void read(ExpertLayout.Layer layer, int expert, MemorySegment dst);

    /**
     * Bytes a resident slot needs to hold one of this layer's experts as {@link #load} lays it out. Per layer: the
     * layers of one file may store their experts in different formats, and the cache sizes slots by layer.
     */
    default long slotBytes(ExpertLayout.Layer layer) {
        return layer.expertBytes();
    }

    /**
     * Reads expert e of layer l into the slot dst and returns views of its three matrices there. The default lays
     * them out gate | up | down through {@link #read}; a backing may place them elsewhere in the slot to avoid a copy.
     */
    default ExpertWeights load(ExpertLayout.Layer layer, int expert, MemorySegment dst) {
        read(layer, expert, dst);
        return layer.view(dst);
    }

    /**
     * Told between the parts of a load how many bytes it has read so far; answers whether the load is still
     * wanted. A load that is not may stop there (a prefetch that routing did not choose after all).
     */
    @FunctionalInterface
    interface Progress {
        boolean stillWanted(long bytesRead);
    }

    /**
     * As {@link #load(ExpertLayout.Layer, int, MemorySegment)}, asking {@code progress} between the parts of the read
     * whether to go on; returns null when it stopped early. The default reads in one piece and never stops.
     */
    default ExpertWeights load(ExpertLayout.Layer layer, int expert, MemorySegment dst, Progress progress) {
        return load(layer, expert, dst);
    }

    /** "mmap" or "direct", for reports. */
    String name();

    /** Where the experts are read from, for error messages: the file's path where the backing knows it. */
    default String describe() {
        return name();
    }

    /**
     * The expert's weights readable in place without a copy, or null when this backing has no such view (direct
     * reads): what the miss policy "direct" computes from while the resident copy loads.
     */
    default ExpertWeights inPlace(ExpertLayout.Layer layer, int expert) {
        return null;
    }

    @Override
    default void close() {
    }
}
