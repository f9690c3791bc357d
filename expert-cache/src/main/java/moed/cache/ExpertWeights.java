package moed.cache;

import moed.kernels.WeightMatrix;

/**
 * The three matrices of one expert of one layer, as views the compute reads: gate and up map the model
 * width to the expert's hidden size, down maps it back. Where the bytes live (the mapped file, a resident
 * copy) is the {@link ExpertSource}'s business.
 */
public record ExpertWeights(WeightMatrix gate, WeightMatrix up, WeightMatrix down) {
    public long byteSize() {
        return gate.byteSize() + up.byteSize() + down.byteSize();
    }
}
