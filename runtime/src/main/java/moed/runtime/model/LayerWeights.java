package moed.runtime.model;

import moed.kernels.WeightMatrix;

/**
 * The pinned (always resident) weights of one transformer layer. Routed experts are not here: they come from the
 * {@link moed.cache.ExpertSource}. For a dense layer, {@code ffnGate/ffnUp/ffnDown} hold its one FFN. Optional
 * parts are null when the architecture or file has none: projection biases (Qwen2), query/key norms (Qwen3 per
 * head, OLMoE over the projection) and the shared expert (Qwen2-MoE).
 */
public record LayerWeights(
        float[] attnNorm,
        WeightMatrix wq,
        WeightMatrix wk,
        WeightMatrix wv,
        WeightMatrix wo,
        float[] qBias,
        float[] kBias,
        float[] vBias,
        float[] oBias,
        float[] qNorm,
        float[] kNorm,
        float[] ffnNorm,
        WeightMatrix router,
        WeightMatrix ffnGate,
        WeightMatrix ffnUp,
        WeightMatrix ffnDown,
        SharedExpert shared) {

    /**
     * An expert every token runs beside the routed ones, pinned like attention. Its output is scaled by
     * sigmoid(gateInput . x) when the model has that gate (Qwen2-MoE), else added as it is.
     */
    public record SharedExpert(float[] gateInput, WeightMatrix gate, WeightMatrix up, WeightMatrix down) {
    }
}
