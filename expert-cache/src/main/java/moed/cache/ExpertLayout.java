package moed.cache;

import java.lang.foreign.MemorySegment;
import moed.kernels.GgmlType;
import moed.kernels.WeightMatrix;

/**
 * Where every expert's weights lie, as plain data: for each MoE layer, the three stacked tensors
 * ({@code ffn_gate_exps}, {@code ffn_up_exps}, {@code ffn_down_exps} in GGUF) whose expert e occupies the
 * rows [e * rowsPerExpert, (e + 1) * rowsPerExpert). The cache knows nothing of GGUF or architectures;
 * the runtime builds this from the file.
 */
public final class ExpertLayout {
    /**
     * One stacked tensor: {@code experts} blocks of {@code rowsPerExpert} rows of {@code cols} weights, mapped at
     * {@code data} and stored at byte {@code fileOffset} of the backing file (for direct reads).
     */
    public record Stacked(GgmlType type, MemorySegment data, long fileOffset, int experts, int rowsPerExpert, int cols) {
        public WeightMatrix expert(int e) {
            return WeightMatrix.of(type, data, experts * rowsPerExpert, cols).rows(e * rowsPerExpert, rowsPerExpert);
        }

        public long expertBytes() {
            return type.bytesFor((long) rowsPerExpert * cols);
        }

        /** Where expert e's slice starts in the file. */
        public long fileOffset(int e) {
            return fileOffset + e * expertBytes();
        }

        /** A matrix of this tensor's shape for one expert, over the given bytes (a resident copy, say). */
        public WeightMatrix view(MemorySegment bytes) {
            return WeightMatrix.of(type, bytes, rowsPerExpert, cols);
        }
    }

    /** The three stacked tensors of one layer. */
    public record Layer(Stacked gate, Stacked up, Stacked down) {
        public long expertBytes() {
            return gate.expertBytes() + up.expertBytes() + down.expertBytes();
        }

        /** The expert's weights over a contiguous copy laid out gate | up | down. */
        public ExpertWeights view(MemorySegment copy) {
            long g = gate.expertBytes();
            long u = up.expertBytes();
            return new ExpertWeights(gate.view(copy.asSlice(0, g)), up.view(copy.asSlice(g, u)),
                    down.view(copy.asSlice(g + u, down.expertBytes())));
        }
    }

    private final Layer[] layers;
    private final int experts;

    public ExpertLayout(Layer[] layers, int experts) {
        this.layers = layers.clone();
        this.experts = experts;
    }

    public int layerCount() {
        return layers.length;
    }

    public int expertCount() {
        return experts;
    }

    public Layer layer(int l) {
        return layers[l];
    }

    /** True when layer l has experts (dense layers of a mixed model have none). */
    public boolean isMoe(int l) {
        return layers[l] != null;
    }

    /** The largest expert's bytes (layers of one file may store their experts in different formats). */
    public long maxExpertBytes() {
        long m = 0;
        for (Layer l : layers) {
            if (l != null) {
                m = Math.max(m, l.expertBytes());
            }
        }
        return m;
    }

    /**
     * This layout without the experts of the layers marked in {@code readInPlace}: what a cache serves when those
     * layers are read from the mapped file instead, so that none of its budget goes to them.
     */
    public ExpertLayout withoutLayers(boolean[] readInPlace) {
        Layer[] kept = layers.clone();
        for (int l = 0; l < kept.length && l < readInPlace.length; l++) {
            if (readInPlace[l]) {
                kept[l] = null;
            }
        }
        return new ExpertLayout(kept, experts);
    }

    /** Number of (layer, expert) entries with experts. */
    public int entryCount() {
        int n = 0;
        for (Layer l : layers) {
            if (l != null) {
                n += experts;
            }
        }
        return n;
    }

    /** Bytes of all experts of all layers: what a cache of 100% holds. */
    public long totalExpertBytes() {
        long n = 0;
        for (Layer l : layers) {
            if (l != null) {
                n += l.expertBytes() * experts;
            }
        }
        return n;
    }
}
