package moed.cache;

/**
 * Experts of some layers read in place from the mapped file (kept resident by {@code --override-tensor ...=resident}),
 * the others through the cache.
 */
public final class LayeredExpertSource implements ExpertSource {
    private final ExpertSource cache;
    private final ExpertSource inPlace;
    private final boolean[] pinnedLayer;

    public LayeredExpertSource(ExpertSource cache, ExpertSource inPlace, boolean[] pinnedLayer) {
        this.cache = cache;
        this.inPlace = inPlace;
        this.pinnedLayer = pinnedLayer.clone();
    }

    @Override
    public ExpertWeights acquire(int layer, int expert) {
        return pinnedLayer[layer] ? inPlace.acquire(layer, expert) : cache.acquire(layer, expert);
    }

    @Override
    public void routed(int layer, int[] counts, int experts) {
        if (!pinnedLayer[layer]) {
            cache.routed(layer, counts, experts);
        }
    }

    @Override
    public void release(int layer, int expert) {
        if (pinnedLayer[layer]) {
            inPlace.release(layer, expert);
        } else {
            cache.release(layer, expert);
        }
    }

    @Override
    public boolean isResident(int layer, int expert) {
        return pinnedLayer[layer] || cache.isResident(layer, expert);
    }

    @Override
    public void close() {
        cache.close();
        inPlace.close();
    }
}
