package moed.runtime.model;

import moed.kernels.WeightMatrix;

/**
 * The pinned (always resident) weights of one transformer layer. Routed experts are not here: they come from the
 * {@link moed.cache.ExpertSource}. For a dense layer, {@code ffnGate/ffnUp/ffnDown} hold its one FFN. Optional
 * parts are null when the architecture or file has none: projection biases (Qwen2, gpt-oss), query/key norms
 * (Qwen3 per head, OLMoE over the projection), attention sinks, router and expert biases (gpt-oss) and the shared
 * expert (Qwen2-MoE).
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
        float[] attnSinks,
        WeightMatrix router,
        float[] routerBias,
        ExpertBiases expertBiases,
        WeightMatrix ffnGate,
        WeightMatrix ffnUp,
        WeightMatrix ffnDown,
        SharedExpert shared) {

    /**
     * An expert every token runs beside the routed ones, pinned like attention. Its output is scaled by
     * sigmoid(gateInput . x) when the model has that gate (Qwen2-MoE), else added as it is.
     */
    /** Per-expert biases of the gate, up and down projections (gpt-oss), indexed [expert][row]. */
    public record ExpertBiases(float[][] gate, float[][] up, float[][] down) {
    }

    public record SharedExpert(float[] gateInput, WeightMatrix gate, WeightMatrix up, WeightMatrix down) {
    }
}
