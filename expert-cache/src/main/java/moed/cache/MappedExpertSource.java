package moed.cache;

/**
 * The expert source without a cache: every expert is read where it lies in the memory-mapped model file
 * (the operating system's page cache decides what stays in RAM). Views are built once, so acquiring is a
 * table lookup.
 */
public final class MappedExpertSource implements ExpertSource {
    private final ExpertWeights[][] views;

    public MappedExpertSource(ExpertLayout layout) {
        views = new ExpertWeights[layout.layerCount()][];
        for (int l = 0; l < layout.layerCount(); l++) {
            ExpertLayout.Layer layer = layout.layer(l);
            if (layer == null) {
                continue;
            }
            views[l] = new ExpertWeights[layout.expertCount()];
            for (int e = 0; e < layout.expertCount(); e++) {
                views[l][e] = new ExpertWeights(layer.gate().expert(e), layer.up().expert(e), layer.down().expert(e));
            }
        }
    }

    @Override
    public ExpertWeights acquire(int layer, int expert) {
        return views[layer][expert];
    }
}
