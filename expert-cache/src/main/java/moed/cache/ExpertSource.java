package moed.cache;

/**
 * How the forward pass obtains an expert's weights. The runtime asks for (layer, expert) after the router
 * chose it and computes with what it gets back; whether that is the mapped file, a resident copy, or a copy
 * still loading is hidden here, so the forward pass reads the same with or without a cache.
 *
 * <p>Threading contract: called by the compute thread that owns the current step.
 */
public interface ExpertSource extends AutoCloseable {
    /** The weights of expert {@code expert} of layer {@code layer}, readable until {@link #release} for it. */
    ExpertWeights acquire(int layer, int expert);

    /**
     * Routing chose the experts of {@code layer} with {@code counts[x] > 0} (of {@code experts}) for the current step,
     * before any of them is acquired: a cache counts each access by how routing found it and starts loading the
     * missing ones so they arrive while the resident ones compute.
     */
    default void routed(int layer, int[] counts, int experts) {
    }

    /** Whether reading this expert now costs no load (always, for a source that reads in place). */
    default boolean isResident(int layer, int expert) {
        return true;
    }

    /** The step no longer reads this expert; a cache may now evict it. */
    default void release(int layer, int expert) {
    }

    @Override
    default void close() {
    }
}
