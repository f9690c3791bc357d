package moed.runtime.model;

import moed.kernels.WeightMatrix;

/**
 * The pinned (always resident) weights of one transformer layer. Routed experts are not here: they come from the
 * {@link moed.cache.ExpertSource}. For a dense layer, {@code ffnGate/ffnUp/ffnDown} hold its one FFN. Optional
 * parts are null when the architecture or file has none: projection biases (Qwen2, gpt-oss), query/key norms
 * (Qwen3 per head, OLMoE over the projection), attention sinks, router and expert biases (gpt-oss) and the shared
 * expert (Qwen2-MoE, DeepSeek). DeepSeek's layers have no wq/wk/wv: their attention is {@code latent}.
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
        LatentAttention latent,
        WeightMatrix router,
        float[] routerBias,
        moed.kernels.RouterScoring scoring,
        ExpertBiases expertBiases,
        WeightMatrix ffnGate,
        WeightMatrix ffnUp,
        WeightMatrix ffnDown,
        SharedExpert shared) {

    /** These weights with every matrix outside the experts replaced by {@code f} of it (null stays null). */
    public LayerWeights withMatrices(java.util.function.UnaryOperator<WeightMatrix> f) {
        return new LayerWeights(attnNorm, f.apply(wq), f.apply(wk), f.apply(wv), f.apply(wo), qBias, kBias, vBias, oBias,
                qNorm, kNorm, ffnNorm, attnSinks, latent, f.apply(router), routerBias, scoring, expertBiases,
                f.apply(ffnGate), f.apply(ffnUp), f.apply(ffnDown),
                shared == null ? null : new SharedExpert(shared.gateInput(), f.apply(shared.gate()), f.apply(shared.up()),
                        f.apply(shared.down())));
    }

    /** Per-expert biases of the gate, up and down projections (gpt-oss), indexed [expert][row]. */
    public record ExpertBiases(float[][] gate, float[][] up, float[][] down) {
    }

    /**
     * Multi-head latent attention's weights (DeepSeek, shapes in {@link ModelConfig.LatentShape}): the query
     * projection, direct ({@code q}) or through the low-rank {@code qA}, its norm and {@code qB}; {@code kvA}, which
     * gives the latent and the rotary key, and the latent's norm; and per head the two halves of the latent's
     * up-projection: {@code keyAbsorb[h]} (kvLoraRank rows of nopeDim), which takes the head's query into latent space
     * so that keys never need decompressing, and {@code valueUp[h]} (valueDim rows of kvLoraRank), which takes the
     * attention-weighted latent to the head's value.
     */
    public record LatentAttention(WeightMatrix q, WeightMatrix qA, float[] qANorm, WeightMatrix qB, WeightMatrix kvA,
                                  float[] kvANorm, WeightMatrix[] keyAbsorb, WeightMatrix[] valueUp) {
    }

    /**
     * An expert every token runs beside the routed ones, pinned like attention. Its output is scaled by
     * sigmoid(gateInput . x) when the model has that gate (Qwen2-MoE), else added as it is (DeepSeek).
     */
    public record SharedExpert(float[] gateInput, WeightMatrix gate, WeightMatrix up, WeightMatrix down) {
    }
}
