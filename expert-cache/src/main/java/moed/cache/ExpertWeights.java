package moed.cache;

import moed.kernels.Interleaved;
import moed.kernels.WeightMatrix;

/**
 * The three matrices of one expert of one layer, as views the compute reads: gate and up map the model
 * width to the expert's hidden size, down maps it back. Where the bytes live (the mapped file, a resident
 * copy) is the {@link ExpertSource}'s business.
 */
public record ExpertWeights(WeightMatrix gate, WeightMatrix up, WeightMatrix down) {
    /**
     * These matrices rearranged where they lie into the layout their kernel reads, where that differs from the file's
     * ({@link Interleaved#inPlace}: the K-quants and Q4_0, sixteen rows interleaved; not Q8_0, whose rearranging costs
     * the loader more than its kernel gains over an expert's stay in the cache): a cache's slot keeps its size.
     */
    public ExpertWeights inKernelLayout() {
        WeightMatrix g = Interleaved.inPlace(gate);
        WeightMatrix u = Interleaved.inPlace(up);
        WeightMatrix d = Interleaved.inPlace(down);
        return g == gate && u == up && d == down ? this : new ExpertWeights(g, u, d);
    }

    public long byteSize() {
        return gate.byteSize() + up.byteSize() + down.byteSize();
    }
}
