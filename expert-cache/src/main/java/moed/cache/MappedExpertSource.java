package moed.cache;

import moed.kernels.Interleaved;
import moed.kernels.WeightMatrix;

/**
 * The expert source without a cache: every expert is read where it lies in the memory-mapped model file
 * (the operating system's page cache decides what stays in RAM), or, made {@link #interleaved}, from a copy in the
 * layout its format's fastest kernel reads. Views are built once, so acquiring is a table lookup.
 */
public final class MappedExpertSource implements ExpertSource {
    private final ExpertWeights[][] views;

    public MappedExpertSource(ExpertLayout layout) {
        this(layout, false);
    }

    private MappedExpertSource(ExpertLayout layout, boolean interleave) {
        views = new ExpertWeights[layout.layerCount()][];
        for (int l = 0; l < layout.layerCount(); l++) {
            ExpertLayout.Layer layer = layout.layer(l);
            if (layer == null) {
                continue;
            }
            WeightMatrix gate = stacked(layer.gate(), interleave);
            WeightMatrix up = stacked(layer.up(), interleave);
            WeightMatrix down = stacked(layer.down(), interleave);
            views[l] = new ExpertWeights[layout.expertCount()];
            for (int e = 0; e < layout.expertCount(); e++) {
                views[l][e] = new ExpertWeights(expert(gate, layer.gate(), e), expert(up, layer.up(), e),
                        expert(down, layer.down(), e));
            }
        }
    }

    /**
     * Experts read in place, except those that {@link Interleaved#applies} to (Q4_K; Q8_0 at 512 bits), which are copied
     * once into its layout when those copies take at most {@code maxCopyBytes}; otherwise every expert is read in place.
     * The copies take as much memory again as those experts (the mapped pages stay page cache the system may reclaim)
     * and a pass over them at start-up; decode then reads them rows as lanes.
     */
    public static MappedExpertSource interleaved(ExpertLayout layout, long maxCopyBytes) {
        return new MappedExpertSource(layout, copyBytes(layout) <= maxCopyBytes);
    }

    /** The bytes {@link #interleaved} would copy: the experts of the formats with an interleaved kernel. */
    public static long copyBytes(ExpertLayout layout) {
        long n = 0;
        for (int l = 0; l < layout.layerCount(); l++) {
            ExpertLayout.Layer layer = layout.layer(l);
            if (layer == null) {
                continue;
            }
            for (ExpertLayout.Stacked st : new ExpertLayout.Stacked[] {layer.gate(), layer.up(), layer.down()}) {
                if (Interleaved.applies(st.type(), st.rowsPerExpert())) {
                    n += st.expertBytes() * st.experts();
                }
            }
        }
        return n;
    }

    /** The whole stacked tensor, interleaved into a copy when asked and its format and expert rows allow; else null. */
    private static WeightMatrix stacked(ExpertLayout.Stacked s, boolean interleave) {
        if (!interleave || !Interleaved.applies(s.type(), s.rowsPerExpert())) {
            return null;
        }
        return Interleaved.copyIfWorthwhile(WeightMatrix.of(s.type(), s.data(), s.experts() * s.rowsPerExpert(), s.cols()));
    }

    private static WeightMatrix expert(WeightMatrix interleaved, ExpertLayout.Stacked s, int e) {
        return interleaved == null ? s.expert(e) : interleaved.rows(e * s.rowsPerExpert(), s.rowsPerExpert());
    }

    @Override
    public ExpertWeights acquire(int layer, int expert) {
        return views[layer][expert];
    }
}
