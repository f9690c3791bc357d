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
    /** One stacked tensor: {@code experts} blocks of {@code rowsPerExpert} rows of {@code cols} weights. */
    public record Stacked(GgmlType type, MemorySegment data, int experts, int rowsPerExpert, int cols) {
        public WeightMatrix expert(int e) {
            return WeightMatrix.of(type, data, experts * rowsPerExpert, cols).rows(e * rowsPerExpert, rowsPerExpert);
        }

        public long expertBytes() {
            return type.bytesFor((long) rowsPerExpert * cols);
        }
    }

    /** The three stacked tensors of one layer. */
    public record Layer(Stacked gate, Stacked up, Stacked down) {
        public long expertBytes() {
            return gate.expertBytes() + up.expertBytes() + down.expertBytes();
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
