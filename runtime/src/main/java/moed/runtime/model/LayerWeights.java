package moed.runtime.model;

import moed.kernels.WeightMatrix;

/**
 * The pinned (always resident) weights of one transformer layer. Experts are not here: they come from the
 * {@link moed.cache.ExpertSource}. For a dense layer, {@code ffnGate/ffnUp/ffnDown} hold its one FFN.
 */
public record LayerWeights(
        float[] attnNorm,
        WeightMatrix wq,
        WeightMatrix wk,
        WeightMatrix wv,
        WeightMatrix wo,
        float[] ffnNorm,
        WeightMatrix router,
        WeightMatrix ffnGate,
        WeightMatrix ffnUp,
        WeightMatrix ffnDown) {
}
